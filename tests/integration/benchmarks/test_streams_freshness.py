"""The freshness benchmark run at a low rate: its output parses and it saw every marker everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_a_short_run_sees_every_marker_on_metrics_and_in_the_archive() -> None:
    command = [sys.executable, "-m", "benchmarks.streams_freshness", "--rate", "100", "--seconds", "3"]
    command += ["--warmup", "1", "--archive-flush-seconds", "1", "--drain-seconds", "30"]
    command += ["--archive", "on"]
    # Bounded: the script bounds its own waits; this bounds the script (a hung worker is killed by it).
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, run.stdout[-3000:]
    result = json.loads(lines[0].removeprefix("RESULT "))
    assert result["markers"] == 30
    for seen in ("markers_answered", "markers_consumed", "markers_on_metrics", "markers_archived"):
        assert result[seen] == result["markers"], (seen, result)
    assert result["load_ok"] == result["load_sent"] > 0
    # Every visibility comes after the record was durable: the clock and the attribution agree.
    assert 0 < result["answer_p50_s"] <= result["metrics_p50_s"] <= result["archive_p50_s"]
    assert "worker /metrics shows it" in run.stdout
    assert "goal: p99 from the post to /metrics" in run.stdout
