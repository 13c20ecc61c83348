"""Fixtures: a tiny HTTP server started per test, and a loopback port nothing listens on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.integration.simulator.tiny_server import Plan, StartServer, TinyServer


@pytest.fixture
def tiny_server() -> Iterator[StartServer]:
    servers: list[tuple[TinyServer, threading.Thread]] = []

    def start(plan: Plan, *, delay_first_seconds: float = 0.0) -> TinyServer:
        server = TinyServer(plan, delay_first_seconds=delay_first_seconds)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
