"""A mock of Grafana's HTTP API, standing in for Grafana because Grafana can't run here.

A real HTTP server on a loopback port (http.server in a thread) implementing only the endpoints
`smsc-analytics dashboards push` calls through grafana-client, with Grafana 11's answers and error bodies:
GET /api/health (no token needed), GET and POST /api/folders, GET /api/datasources/uid/{uid} and
POST /api/dashboards/db. Every other endpoint needs `Authorization: Bearer <token>` and answers 401 with
Grafana's "Invalid API key" otherwise. Every request is recorded for the tests to read.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


@dataclass
class Saved:
    """A dashboard as Grafana stores it: the model, its folder and its version counter."""

    dashboard: dict[str, Any]
    folder_uid: str
    version: int


@dataclass
class MockGrafana:
    """Grafana's HTTP API on 127.0.0.1; `with MockGrafana(token=...) as grafana:` serves until the end."""

    token: str
    version: str = "11.6.0"
    datasources: Iterable[str] = ("smsc-prometheus",)
    #: Grafana's permissions the token lacks, e.g. "folders:create" (answered 403 like Grafana does).
    missing_permissions: Iterable[str] = ()
    #: uids of dashboards provisioned from files, which Grafana refuses to save through the API.
    provisioned: Iterable[str] = ()
    #: Grafana served from a sub-path (`root_url = .../grafana/`, `serve_from_sub_path = true`).
    sub_path: str = ""
    #: (status, message) answered to every POST /api/dashboards/db instead of saving.
    dashboard_failure: tuple[int, str] | None = None

    requests: list[Request] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # uid -> title
    dashboards: dict[str, Saved] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        # A short poll interval: `shutdown()` waits for the serving loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="mock-grafana",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.sub_path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def requests_to(self, method: str, path: str) -> list[Request]:
        return [request for request in self.requests if (request.method, request.path) == (method, path)]

    def answer(self, request: Request) -> tuple[int, Any]:
        """Grafana's (status, JSON body) for `request`."""
        with self._lock:
            self.requests.append(request)
            if not request.path.startswith(self.sub_path + "/api/"):
                return 404, {"message": "Not found"}
            path = request.path.removeprefix(self.sub_path)
            if (request.method, path) == ("GET", "/api/health"):
                return 200, {"commit": "mock", "database": "ok", "version": self.version}
            if request.authorization != f"Bearer {self.token}":
                return 401, {"message": "Invalid API key", "messageId": "api-keys.invalid", "statusCode": 401}
            return self._authorized(request.method, path, request.body)

    def _authorized(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/api/folders"):
            return self._allowed("folders:read") or (
                200,
                [
                    {"id": index, "uid": uid, "title": title}
                    for index, (uid, title) in enumerate(self.folders.items())
                ],
            )
        if (method, path) == ("POST", "/api/folders"):
            return self._allowed("folders:create") or self._create_folder(body)
        if method == "GET" and (match := re.fullmatch(r"/api/datasources/uid/([^/]+)", path)):
            if refused := self._allowed("datasources:read"):
                return refused
            if match.group(1) not in set(self.datasources):
                return 404, {"message": "Data source not found"}
            return 200, {"uid": match.group(1), "name": "Prometheus", "type": "prometheus"}
        if (method, path) == ("POST", "/api/dashboards/db"):
            return self._allowed("dashboards:write") or self._save_dashboard(body)
        return 404, {"message": "Not found"}

    def _allowed(self, permission: str) -> tuple[int, Any] | None:
        if permission in set(self.missing_permissions):
            return 403, {
                "accessErrorId": "ACE0000000001",
                "message": f"You'll need additional permissions to perform this action. "
                f"Permissions needed: {permission}",
                "title": "Access denied",
            }
        return None

    def _create_folder(self, body: Any) -> tuple[int, Any]:
        title = body.get("title") if isinstance(body, dict) else None
        if not title:
            return 400, {"message": "folder title cannot be empty"}
        if title in self.folders.values():
            return 409, {"message": "a folder with the same name already exists"}
        uid = body.get("uid") or f"mock{len(self.folders) + 1:010d}"
        self.folders[uid] = title
        return 200, {
            "id": len(self.folders),
            "uid": uid,
            "title": title,
            "url": f"{self.sub_path}/dashboards/f/{uid}/",
        }

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        if self.dashboard_failure is not None:
            status, message = self.dashboard_failure
            return status, {"message": message}
        dashboard = body.get("dashboard") if isinstance(body, dict) else None
        if not isinstance(dashboard, dict) or not dashboard.get("title"):
            return 400, {"message": "Dashboard title cannot be empty"}
        # Grafana makes a uid up for a dashboard without one.
        uid, folder_uid = (
            str(dashboard.get("uid") or f"made{len(self.dashboards) + 1:09d}"),
            body.get("folderUid", ""),
        )
        if uid in set(self.provisioned):
            return 400, {"message": "Cannot save provisioned dashboard"}
        if folder_uid and folder_uid not in self.folders:
            return 400, {"message": "folder not found"}
        if dashboard.get("id") is not None:
            return 404, {"message": "Dashboard not found"}
        existing = self.dashboards.get(uid)
        if existing is not None and not body.get("overwrite"):
            return 412, {"message": "A dashboard with the same uid already exists", "status": "name-exists"}
        version = existing.version + 1 if existing else 1
        self.dashboards[uid] = Saved(dashboard, folder_uid, version)
        slug = re.sub(r"[^a-z0-9]+", "-", dashboard["title"].lower()).strip("-")
        return 200, {
            "id": list(self.dashboards).index(uid) + 1,
            "uid": uid,
            "url": f"{self.sub_path}/d/{uid}/{slug}",
            "status": "success",
            "version": version,
            "slug": slug,
            "folderUid": folder_uid,
        }


def _handler(grafana: MockGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without this, Nagle and delayed ACKs add 40 ms per answer.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query),
                authorization=self.headers.get("Authorization"),
                body=json.loads(raw) if raw else None,
            )
            status, answer = grafana.answer(request)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the requests are recorded in `grafana.requests`."""

    return Handler
