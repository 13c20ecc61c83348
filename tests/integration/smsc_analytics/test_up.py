"""`smsc-analytics up --demo` end to end: callbacks flow, the worker's numbers equal the simulator's truth,
SIGINT stops it and no process it started survives; a taken port is refused with exit 2.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dashboards.build import GENERATED
from embedded_broker.broker import free_port
from reports.load import load_events
from smsc_analytics.monitoring import find_binaries
from tests.integration.streams.harness import over_partitions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(110)]

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]

#: Every raw record a worker has applied shows up in exactly one of these counters.
APPLIED = (
    "smsc_status_callbacks_total",
    "smsc_incoming_messages_total",
    "smsc_call_confirmations_total",
    "smsc_callbacks_duplicate_total",
    "smsc_callbacks_dead_total",
)


def _ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _env(archive: Path) -> dict[str, str]:
    """The environment of `up` under test: the embedded broker, not a cluster named by the caller, and an
    archive of its own, not the repository's ./data/archive."""
    env = {name: value for name, value in os.environ.items() if name != "KAFKA_BOOTSTRAP_SERVERS"}
    env["PYTHONUNBUFFERED"] = "1"
    env["SMSC_ARCHIVE_ROOT"] = str(archive)
    return env


def _start_time(pid: int) -> int | None:
    """The kernel's start time of a live (non-zombie) process, None if gone: a PID reused is not ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _descendants(root: int) -> dict[int, tuple[int, str]]:
    """pid -> (start time, command line) of every live descendant of `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, tuple[int, str]] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        started = _start_time(pid)
        if started is None:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pending += children.get(pid, [])
        # An exiting process reads as an empty command line before it turns zombie: recording it would
        # overwrite what an earlier look saw (the demo simulator exits on its own while we watch).
        if cmdline:
            found[pid] = (started, cmdline)
    return found


def _scrape(url: str) -> Series | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return over_partitions(series)


def _applied(series: Series) -> int:
    return int(sum(value for (name, _), value in series.items() if name in APPLIED))


def _mismatches(truth: dict[str, Any], series: Series) -> list[str]:
    """Counters (both ways), histograms' count and sum, and messages in flight: truth file vs scrape."""
    problems: list[str] = []

    def check(name: str, labels: dict[str, str], expected: Decimal) -> None:
        got = Decimal(str(series.get((name, tuple(sorted(labels.items()))), 0.0)))
        if abs(got - expected) > Decimal("0.000001"):
            problems.append(f"{name}{labels}: truth {expected}, worker {got}")

    for name, metric in truth["metrics"].items():
        if metric["type"] == "counter":
            for sample in metric["samples"]:
                check(name, sample["labels"], Decimal(str(sample["value"])))
            known = {tuple(sorted(sample["labels"].items())) for sample in metric["samples"]}
            for (sample_name, labels), value in series.items():
                if sample_name == name and value and labels not in known:
                    problems.append(f"{name}{dict(labels)}: worker {value}, not in the truth")
        elif metric["type"] == "histogram":
            for sample in metric["samples"]:
                check(f"{name}_count", sample["labels"], Decimal(sample["count"]))
                check(f"{name}_sum", sample["labels"], Decimal(str(sample["sum"])))
        elif name == "smsc_messages_in_flight":  # cohorts are relative to the wall clock: not compared
            for sample in metric["samples"]:
                check(name, sample["labels"], Decimal(sample["value"]))
    return problems


@contextmanager
def _up(args: list[str], output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`smsc-analytics up` as a subprocess; killed (with whatever it started) if the test fails midway."""
    with output.open("wb") as out:  # a file, not a pipe: nobody may block on a full pipe
        process = subprocess.Popen(
            [sys.executable, "-m", "smsc_analytics.cli", "up", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(output.parent / "archive"),
        )
    seen = _descendants(process.pid)
    try:
        yield process
    finally:
        if process.poll() is None:
            seen |= _descendants(process.pid)
            process.kill()
            process.wait(10)
        for pid, (started, _) in seen.items():
            if _start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)


def _wait(predicate: Callable[[], bool], what: str, timeout_seconds: float, output: Path) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{output.read_text()[-4000:]}"
        time.sleep(0.2)


def test_up_demo_runs_the_pipeline_matches_the_truth_and_leaves_no_process(tmp_path: Path) -> None:
    ingest_port, worker_port, broker_port = _ports(3)
    run_dir = tmp_path / "run"
    output = tmp_path / "up.out"
    metrics_url = f"http://127.0.0.1:{worker_port}/metrics"
    args = [
        *("--demo", "--rate", "100", "--duration", "3", "--run-dir", str(run_dir)),
        *("--ingest-port", str(ingest_port), "--worker-port", str(worker_port)),
        *("--broker-port", str(broker_port)),
    ]
    with _up(args, output) as process:
        tree: dict[int, tuple[int, str]] = {}
        applied_seen: list[int] = []

        def simulator_done() -> bool:
            assert process.poll() is None, output.read_text()
            tree.update(_descendants(process.pid))
            series = _scrape(metrics_url)
            if series is not None:
                applied_seen.append(_applied(series))
            return "simulator finished" in output.read_text()

        _wait(simulator_done, "the demo simulator to finish", 90, output)
        truth = json.loads((run_dir / "truth.json").read_text(encoding="utf-8"))
        accepted = truth["inputs"]["callbacks"]
        assert accepted > 0
        assert accepted == truth["run"]["outcomes"]["accepted"]

        # The worker applies what ingest stored; then its /metrics equal the truth, series for series.
        final: Series = {}

        def worker_caught_up() -> bool:
            assert process.poll() is None, output.read_text()
            tree.update(_descendants(process.pid))
            series = _scrape(metrics_url)
            if series is None:
                return False
            final.clear()
            final.update(series)
            applied_seen.append(_applied(series))
            return _applied(series) >= accepted and not _mismatches(truth, series)

        deadline = time.monotonic() + 30
        while not worker_caught_up() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _mismatches(truth, final) == []
        assert _applied(final) == accepted
        assert applied_seen == sorted(applied_seen)  # the counters only grow ...
        assert applied_seen[0] < applied_seen[-1]  # ... and grew while the demo ran

        text = output.read_text()
        for url in (f"http://127.0.0.1:{ingest_port}/smsc/callback", metrics_url, f"127.0.0.1:{broker_port}"):
            assert url in text
        assert "callbacks=" in text  # the plain summary (stdout is not a terminal here)
        commands = [command for _, command in tree.values()]
        for part in ("tansu", "cli worker", "cli ingest", "cli simulate"):
            assert any(part in command for command in commands), (part, commands)

        # The archive sink has read every event (written or held: a stopping worker writes what it holds).
        def sink_read_everything() -> bool:
            series = _scrape(metrics_url) or {}
            lags = [
                value for (name, _), value in series.items() if name == "smsc_archive_consumer_lag_records"
            ]
            return bool(lags) and sum(lags) == 0

        _wait(sink_read_everything, "the archive sink to read every event", 60, output)

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0, output.read_text()
        survivors = {pid: command for pid, (started, command) in tree.items() if _start_time(pid) == started}
        assert survivors == {}
        assert "stopped: every child process has exited" in output.read_text()
        if find_binaries().prometheus is not None:
            # With Prometheus, up draws the dashboards once more at stop, before its children stop.
            drawn = sorted(path.name for path in (run_dir / "dashboards").glob("*.png"))
            assert drawn == sorted(f"{path.stem}.png" for path in GENERATED.glob("*.json")), (
                output.read_text()
            )
            assert f"dashboard snapshots of this run: {run_dir / 'dashboards'}" in output.read_text()

    # The worker wrote its events to the archive before it stopped: one row per status callback.
    statuses = load_events("status", root=str(tmp_path / "archive"), columns=["status"])
    samples = truth["metrics"]["smsc_status_callbacks_total"]["samples"]
    expected = sum(int(Decimal(str(sample["value"]))) for sample in samples)
    assert len(statuses) == expected


@pytest.mark.parametrize("option", ["--ingest-port", "--worker-port", "--broker-port"])
def test_a_taken_port_is_refused_with_exit_2_naming_it(option: str, tmp_path: Path) -> None:
    ports = dict(zip(("--ingest-port", "--worker-port", "--broker-port"), _ports(3), strict=True))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", ports[option]))
        taken.listen()
        result = subprocess.run(
            [
                *(sys.executable, "-m", "smsc_analytics.cli", "up", "--run-dir", str(tmp_path / "run")),
                *(item for pair in ports.items() for item in (pair[0], str(pair[1]))),
            ],
            capture_output=True,
            text=True,
            env=_env(tmp_path / "archive"),
            timeout=30,
            check=False,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(ports[option]) in result.stderr
    assert option in result.stderr
    assert not (tmp_path / "run").exists()  # refused before starting anything
