"""`smsc-analytics ingest` as a process: on SIGTERM it stops accepting, finishes in-flight requests, exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from embedded_broker import EmbeddedBroker
from smsc.kinds import CallbackKind
from tests.integration.ingest.conftest import read_records
from tests.unit.ingest.callbacks import callback

pytestmark = pytest.mark.integration

IN_FLIGHT = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children |= {int(child) for child in task.read_text().split()}
    return children


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_sigterm_finishes_in_flight_requests(fresh_broker: EmbeddedBroker, topic_name: str) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": fresh_broker.bootstrap_servers,
        "SMSC_INGEST_RAW_TOPIC": f"{topic_name}.raw",
        "SMSC_INGEST_DEADLINE_SECONDS": "20",
        "SMSC_ACCOUNT_SECRETS": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "smsc_analytics.cli", "ingest", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "ingest exited at start"
            assert time.monotonic() < deadline, "ingest did not answer /healthz within 20 s"
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        children = _children(process.pid)

        # A first callback stored: the topic exists and the producer knows its partitions (a steady state).
        request = callback(CallbackKind.STATUS)
        assert httpx.post(f"{url}/smsc/callback", content=request.body, timeout=30).status_code == 200
        # Freeze the broker so that the requests stay in flight (waiting for the ack) across the SIGTERM.
        fresh_broker.pause()
        with ThreadPoolExecutor(IN_FLIGHT) as pool, httpx.Client(base_url=url, timeout=60) as client:
            futures = [
                pool.submit(client.post, "/smsc/callback", content=request.body) for _ in range(IN_FLIGHT)
            ]
            time.sleep(1.0)  # let them reach the server; none can be answered while the broker is frozen
            early = [
                f.result().status_code if f.exception() is None else repr(f.exception())
                for f in futures
                if f.done()
            ]
            assert early == [], "answered while the broker was frozen"
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not _refuses_connections(port):
                assert time.monotonic() < deadline, "still accepting connections 10 s after SIGTERM"
                time.sleep(0.05)
            assert process.poll() is None, "exited with requests in flight"
            fresh_broker.resume()
            responses = [future.result(timeout=60) for future in futures]
        assert [response.status_code for response in responses] == [200] * IN_FLIGHT
        returncode = process.wait(timeout=30)
        assert returncode in (0, -signal.SIGTERM), process.stderr.read().decode() if process.stderr else ""
        assert not any(_alive(child) for child in children)
        ids = [response.headers["x-request-id"] for response in responses]
        stored = read_records(fresh_broker.bootstrap_servers, f"{topic_name}.raw", ids)
        assert sorted(stored) == sorted(ids)
        assert all(record.value == request.body for record in stored.values())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()
