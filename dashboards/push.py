"""`smsc-analytics dashboards push`: upload the generated dashboards to a running Grafana (grafana-client)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaException, GrafanaTimeoutError

from dashboards.build import GENERATED, iter_panels, stale
from dashboards.panels_doc import one_line

_T = TypeVar("_T")

URL_ENV: Final = "GRAFANA_URL"
TOKEN_ENV: Final = "GRAFANA_TOKEN"  # noqa: S105 (the variable's name, not a token)
DEFAULT_FOLDER: Final = "SMSC"
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
#: The version-history note Grafana keeps with every saved dashboard version.
SAVE_MESSAGE: Final = "smsc-analytics dashboards push"
_VERSION: Final = re.compile(r"(\d+)\.(\d+)")
#: urllib3 prefixes its connection errors with the connection object's repr.
_OBJECT_REPR: Final = re.compile(r"^<[^>]*>:\s*")


class PushError(Exception):
    """Why a push stopped, as the one line the command prints; `status` is Grafana's HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Dashboard:
    """One generated dashboard file, as Grafana's dashboard model."""

    file: Path
    model: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.model["uid"])

    @property
    def title(self) -> str:
        return str(self.model["title"])

    @property
    def panel_count(self) -> int:
        """Top-level panels, rows included (what Grafana's `panels` array holds)."""
        return len(self.model.get("panels") or [])

    def datasource_uids(self) -> set[str]:
        """The uids of the datasources the panels and their queries name."""
        return {
            str(datasource["uid"])
            for panel in iter_panels(self.model.get("panels") or [])
            for holder in [panel, *(panel.get("targets") or [])]
            if isinstance(datasource := holder.get("datasource"), dict) and datasource.get("uid")
        }


def target_version() -> str:
    """The Grafana release the dashboards are built for: grafana-foundation-sdk's version without its
    epoch ("1769699379!11.6.0" -> "11.6.0")."""
    return metadata.version("grafana-foundation-sdk").rpartition("!")[2]


def version_warning(version: str | None, target: str) -> str | None:
    """A warning when Grafana's major version differs from the one the dashboards are built for."""
    if not version:
        return f"Grafana did not tell its version; the dashboards are built for Grafana {target}"
    found, wanted = _VERSION.match(version), _VERSION.match(target)
    if found is None or wanted is None or found.group(1) != wanted.group(1):
        return (
            f"Grafana is {version}, the dashboards are built for Grafana {target} "
            "(grafana-foundation-sdk): panels may not load or look as designed"
        )
    return None


def load(directory: Path) -> list[Dashboard]:
    """The dashboards of `directory`'s *.json files, by file name."""
    boards = []
    for path in sorted(directory.glob("*.json")):
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise PushError(f"cannot read dashboard {path}: {error}") from error
        if not isinstance(model, dict) or not model.get("uid") or not model.get("title"):
            raise PushError(f"{path} is not a dashboard with a uid and a title")
        boards.append(Dashboard(path, model))
    if not boards:
        raise PushError(f"no dashboards (*.json) in {directory}: run `smsc-analytics dashboards build`")
    return boards


class Grafana:
    """The Grafana HTTP API calls of a push; grafana-client's and the network's errors become `PushError`s."""

    def __init__(self, url: str, token: str, timeout_seconds: float) -> None:
        self.url = base_url(url)
        self.timeout_seconds = timeout_seconds
        self._api = GrafanaApi.from_url(self.url, credential=token, timeout=timeout_seconds)

    def close(self) -> None:
        self._api.client.s.close()

    def version(self) -> str | None:
        """Grafana's version from GET /api/health (which needs no token)."""
        with self._calling("read /api/health"):
            health = self._answer(self._api.client.GET("/health"), dict, "/api/health")
        version = health.get("version")
        return str(version) if version else None

    def has_datasource(self, uid: str) -> bool | None:
        """Whether a datasource with `uid` exists; None when the token may not read datasources."""
        try:
            with self._calling(f"read datasource {uid}"):
                self._api.datasource.get_datasource_by_uid(uid)
        except PushError as error:
            if error.status == 404:
                return False
            if error.status == 403:
                return None
            raise
        return True

    def folder(self, title: str) -> tuple[str, bool]:
        """The uid of the top-level folder titled `title` (created when missing); whether it was created."""
        with self._calling("list folders"):
            folders = self._answer(self._api.folder.get_all_folders(), list, "/api/folders")
        for folder in folders:
            if isinstance(folder, dict) and folder.get("title") == title:
                return str(folder["uid"]), False
        with self._calling(f"create folder {title!r}"):
            created = self._answer(self._api.folder.create_folder(title), dict, "/api/folders")
        return str(created["uid"]), True

    def push(self, board: Dashboard, folder_uid: str) -> str:
        """Saves `board` into the folder, replacing the dashboard with its uid; returns its address."""
        payload = {
            "dashboard": {**board.model, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": SAVE_MESSAGE,
        }
        with self._calling(f"save dashboard {board.uid}"):
            saved = self._answer(self._api.dashboard.update_dashboard(payload), dict, "/api/dashboards/db")
        path = saved.get("url")
        # Grafana's url is absolute from the host and includes any sub-path Grafana is served from.
        return urljoin(self.url, str(path) if path else f"d/{board.uid}")

    def _answer(self, answer: object, kind: type[_T], endpoint: str) -> _T:
        """`answer` if it is the JSON `kind` Grafana answers (grafana-client gives text/* bodies as text)."""
        if not isinstance(answer, kind):
            shown = one_line(str(answer))[:80]
            raise PushError(
                f"{self.url} is not Grafana's HTTP API (a proxy's login page?): {endpoint} answered {shown!r}"
            )
        return answer

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        try:
            yield
        except GrafanaTimeoutError as error:
            raise PushError(
                f"Grafana at {self.url} did not answer within {self.timeout_seconds:g} s ({action})"
            ) from error
        except GrafanaException as error:
            raise PushError(self._refusal(error, action), status=error.status_code or None) from error
        except ValueError as error:
            # Also a requests-style JSONDecodeError: something answered, but not Grafana's JSON API.
            raise PushError(
                f"{self.url} is not Grafana's HTTP API: its answer to {action} is not JSON"
            ) from error
        except OSError as error:
            # The HTTP library's connection errors (refused, name resolution, TLS) are OSErrors.
            raise PushError(f"cannot reach Grafana at {self.url}: {_reason(error)}") from error

    def _refusal(self, error: GrafanaException, action: str) -> str:
        status: int = error.status_code
        response = error.response
        message = response.get("message") if isinstance(response, dict) else response
        message = one_line(str(message or error.message))[:300]
        if status == 401:
            return (
                f"Grafana at {self.url} rejected the token (401 Unauthorized: {message}): "
                f"check --token or ${TOKEN_ENV}"
            )
        if status == 403:
            return (
                f"the token may not {action} in Grafana at {self.url} (403 Forbidden: {message}): "
                "it needs a role that can create folders and save dashboards (Editor)"
            )
        if not status:
            return f"cannot talk to Grafana at {self.url} ({action}): {message}"
        return f"Grafana at {self.url} answered {status} to {action}: {message}"


def base_url(url: str) -> str:
    """`url` checked, with a final slash: grafana-client appends "api" to the path as it is."""
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as error:
        raise PushError(f"bad Grafana URL {url!r}: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"bad Grafana URL {url!r}: expected http(s)://host[:port][/path]")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV) or None,
        help=f"Grafana's address, e.g. http://localhost:3000 (default: ${URL_ENV})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"a Grafana service account token, role Editor (default: ${TOKEN_ENV}; "
        "prefer it, a flag stays in the shell history)",
    )
    parser.add_argument(
        "--folder",
        default=DEFAULT_FOLDER,
        help="title of the folder to push into, created when missing (default: %(default)s)",
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=GENERATED,
        help="directory of the dashboards' JSON (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for each answer (default: %(default)s)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be pushed; send nothing to Grafana"
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The push command: 0 when every dashboard is saved, 1 (and one `error:` line) when Grafana refuses."""
    try:
        boards = load(args.source)
    except PushError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.source.resolve() == GENERATED:
        _warn_if_stale()
    if args.dry_run:
        where = f"Grafana at {args.url}" if args.url else "Grafana"
        print(f"dry run, nothing sent: would push from {args.source} into folder {args.folder!r} of {where}")
        width = max(len(board.uid) for board in boards)
        for board in boards:
            print(f"  {board.uid.ljust(width)}  {board.title} ({board.panel_count} panels)")
        return 0
    if not args.url:
        parser.error(f"the Grafana URL is missing: pass --url or set ${URL_ENV}")
    if not args.token or not args.token.strip():
        parser.error(f"the Grafana token is missing: set ${TOKEN_ENV} (or pass --token)")
    try:
        grafana = Grafana(args.url, args.token.strip(), args.timeout)
        try:
            _push(grafana, boards, args.folder)
        finally:
            grafana.close()
    except PushError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _push(grafana: Grafana, boards: list[Dashboard], folder_title: str) -> None:
    target = target_version()
    version = grafana.version()
    print(f"Grafana {version or '(version unknown)'} at {grafana.url}")
    warning = version_warning(version, target)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    folder_uid, created = grafana.folder(folder_title)
    print(f"folder {folder_title!r} (uid {folder_uid}) {'created' if created else 'found'}")
    for uid in sorted(set().union(*(board.datasource_uids() for board in boards))):
        if grafana.has_datasource(uid) is False:
            print(
                f"warning: Grafana has no datasource with uid {uid!r}, which the panels query: add the "
                "Prometheus datasource with that uid (see dashboards/provisioning/datasources)",
                file=sys.stderr,
            )
    for board in boards:
        address = grafana.push(board, folder_uid)
        print(f"pushed {board.uid} ({board.title}, {board.panel_count} panels): {address}")


def _warn_if_stale() -> None:
    """The committed JSON is what gets pushed; say so when dashboards/src has moved on."""
    differing = [name for name in stale(GENERATED) if name.endswith(".json")]
    if differing:
        print(
            f"warning: {', '.join(differing)} differ from dashboards/src; pushing the files as they are "
            "(run `smsc-analytics dashboards build` to update them)",
            file=sys.stderr,
        )


def _reason(error: BaseException) -> str:
    """The innermost cause of a connection error, e.g. "[Errno 111] Connection refused"."""
    seen = {id(error)}
    while (cause := error.__cause__ or error.__context__) is not None and id(cause) not in seen:
        seen.add(id(cause))
        error = cause
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror)
    return one_line(_OBJECT_REPR.sub("", str(error)))[:300] or type(error).__name__
