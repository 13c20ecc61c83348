"""`smsc-analytics simulate` as a user runs it: --help, a short run with a truth file, a dead endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import Truth
from smsc import SignatureAlgorithm, SmscError, classify, decode_request, parse_callback, verify_signature
from tests.integration.simulator.tiny_server import StartServer, fail_first

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSC_SIMULATOR_")}
    return subprocess.run(
        [sys.executable, "-m", "smsc_analytics.cli", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_help() -> None:
    result = simulate("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: smsc-analytics simulate")
    for option in ("--url", "--rate", "--count", "--retry-interval", "--truth", "--error-burst", "--secret"):
        assert option in result.stdout


def test_the_installed_command_runs_it_too() -> None:
    command = Path(sys.executable).with_name("smsc-analytics")
    if not command.exists():
        pytest.skip("the project is not installed in this interpreter's environment")
    result = subprocess.run(
        [command, "simulate", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--retry-interval" in result.stdout


def test_a_short_run_posts_retries_and_writes_the_truth(tiny_server: StartServer, tmp_path: Path) -> None:
    server = tiny_server(fail_first(5))
    truth_path = tmp_path / "truth.json"
    result = simulate(
        *("--url", server.url, "--account", "acme", "--count", "120", "--rate", "0", "--seed", "31"),
        *(
            "--retry-interval",
            "0.1",
            "--secret",
            "s3cr3t",
            "--signature",
            "crc32",
            "--progress-interval",
            "0",
        ),
        *("--duplicate-ratio", "0.1", "--malformed-ratio", "0.05", "--late-ratio", "0.2"),
        *("--error-burst", "0:20", "--truth", str(truth_path)),
    )
    assert result.returncode == 0, result.stderr
    stored = server.answered(200)
    assert len(stored) == 120
    assert len(server.received) == 125
    assert "posting to " + server.url + "/acme" in result.stderr
    assert "120 callbacks posted" in result.stdout
    assert "answers by code: 200: 120  503: 5" in result.stdout
    assert "callbacks: accepted 120" in result.stdout

    for request in stored:
        assert request.account == "acme"
        try:
            decoded = decode_request(request.body, request.query_string, request.content_type)
            kind = classify(decoded.params)
            parse_callback(decoded.params)
        except SmscError:
            continue  # a malformed copy
        assert (
            verify_signature(kind, decoded.params, "s3cr3t", charset=decoded.charset)
            is SignatureAlgorithm.CRC32
        )

    document = json.loads(truth_path.read_text(encoding="utf-8"))
    assert document["inputs"]["callbacks"] == 120
    assert document["inputs"]["duplicates"] > 0
    assert document["inputs"]["dead"] > 0
    assert document["run"]["seed"] == 31
    assert document["run"]["answers"] == {"200": 120, "503": 5}
    assert "secret" not in document["run"]["options"]
    # The truth is the recount of exactly what the endpoint stored, in the order it stored it.
    recount = Truth.from_callbacks(stored).to_json()
    assert document["metrics"] == recount["metrics"]
    assert document["as_of"] == recount["as_of"]
    errors = document["metrics"]["smsc_errors_total"]["samples"]
    assert any(sample["labels"]["err"] == "255" for sample in errors)  # the burst


def test_an_unreachable_endpoint_exits_3_with_a_clear_message(closed_port: int) -> None:
    result = simulate("--url", f"http://127.0.0.1:{closed_port}/smsc/callback", "--count", "5")
    assert result.returncode == 3
    assert f"cannot reach http://127.0.0.1:{closed_port}/smsc/callback" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_option_exits_2() -> None:
    result = simulate("--rate", "-5")
    assert result.returncode == 2
    assert "SMSC_SIMULATOR_RATE_PER_SECOND" in result.stderr


def test_an_unknown_account_is_404_and_said_so(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 404)
    result = simulate("--url", server.url, "--count", "10", "--rate", "0", "--progress-interval", "0")
    assert result.returncode == 0, result.stderr
    assert "answers by code: 404: 10" in result.stdout
    assert "callbacks: not_found 10" in result.stdout
    assert "404 means the endpoint does not know account 'default'" in result.stderr
    assert len(server.received) == 10  # never retried
