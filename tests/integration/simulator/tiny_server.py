"""A tiny real HTTP server on 127.0.0.1 that answers by a plan (503 first, then 200; or 404) and records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import unquote, urlsplit

#: request index (0 = first request the server gets) -> HTTP status to answer
Plan = Callable[[int], int]


@dataclass(frozen=True)
class Received:
    """One request as the server saw it; `account` is the last path segment (a `simulator.Arrival`)."""

    path: str
    account: str
    query_string: str
    content_type: str
    body: bytes
    code: int


class TinyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan: Plan, *, delay_first_seconds: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.plan = plan
        self.delay_first_seconds = delay_first_seconds
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/smsc/callback"

    def answered(self, code: int) -> list[Received]:
        with self.lock:
            return [request for request in self.received if request.code == code]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TinyServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = urlsplit(self.path)
        with self.server.lock:
            index = len(self.server.received)
            code = self.server.plan(index)
            self.server.received.append(
                Received(
                    path=parts.path,
                    account=unquote(parts.path.rsplit("/", 1)[-1]),
                    query_string=parts.query,
                    content_type=self.headers.get("Content-Type", ""),
                    body=body,
                    code=code,
                )
            )
        if index == 0 and self.server.delay_first_seconds:
            time.sleep(self.server.delay_first_seconds)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read `received`."""


def fail_first(count: int, code: int = 503) -> Plan:
    return lambda index: code if index < count else 200


class StartServer(Protocol):
    """The `tiny_server` fixture: starts one more server, stopped at the end of the test."""

    def __call__(self, plan: Plan, *, delay_first_seconds: float = 0.0) -> TinyServer: ...
