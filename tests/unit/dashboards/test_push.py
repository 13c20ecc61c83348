"""`smsc-analytics dashboards push` against a mock of Grafana's HTTP API on loopback (grafana_mock):
what arrives, the folder, the errors an SRE meets (bad token, no permission, refusals, unreachable),
the version warning and the dry run."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dashboards.__main__ import main
from dashboards.build import GENERATED
from dashboards.push import base_url, target_version, version_warning
from tests.unit.dashboards.grafana_mock import MockGrafana

TOKEN = "glsa_mock_token_0123456789"


@pytest.fixture
def grafana() -> Iterator[MockGrafana]:
    with MockGrafana(token=TOKEN) as mock:
        yield mock


@pytest.fixture(autouse=True)
def no_grafana_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAFANA_URL", raising=False)
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)


def generated() -> dict[str, dict[str, Any]]:
    """uid -> the committed dashboard JSON."""
    boards = (json.loads(path.read_text(encoding="utf-8")) for path in sorted(GENERATED.glob("*.json")))
    return {board["uid"]: board for board in boards}


def push(grafana: MockGrafana, *extra: str) -> int:
    return main(["push", "--url", grafana.url, "--token", TOKEN, *extra])


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_every_generated_dashboard_arrives_whole_with_overwrite_into_the_folder(
    grafana: MockGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(grafana) == 0

    [folder_uid] = grafana.folders
    assert grafana.folders[folder_uid] == "SMSC"
    posts = grafana.requests_to("POST", "/api/dashboards/db")
    expected = generated()
    assert len(expected) == 5
    assert sorted(post.body["dashboard"]["uid"] for post in posts) == sorted(expected)
    for post in posts:
        board = expected[post.body["dashboard"]["uid"]]
        assert post.body["overwrite"] is True
        assert post.body["folderUid"] == folder_uid
        assert post.body["dashboard"]["title"] == board["title"]
        assert len(post.body["dashboard"]["panels"]) == len(board["panels"])
        assert post.body["dashboard"] == {**board, "id": None}
    assert {request.authorization for request in grafana.requests if request.path != "/api/health"} == {
        f"Bearer {TOKEN}"
    }
    out = capsys.readouterr().out
    for uid, board in expected.items():
        slug = board["title"].lower().replace(" · ", "-").replace(" ", "-")
        assert (
            f"pushed {uid} ({board['title']}, {len(board['panels'])} panels): {grafana.url}/d/{uid}/{slug}"
            in (out.splitlines())
        )
    assert "folder 'SMSC' (uid mock0000000001) created" in out
    assert TOKEN not in out


def test_a_second_push_reuses_the_folder_and_replaces_the_dashboards(grafana: MockGrafana) -> None:
    assert push(grafana) == 0
    assert push(grafana) == 0

    assert len(grafana.requests_to("POST", "/api/folders")) == 1
    [folder_uid] = grafana.folders
    assert {saved.folder_uid for saved in grafana.dashboards.values()} == {folder_uid}
    assert {uid: saved.version for uid, saved in grafana.dashboards.items()} == dict.fromkeys(generated(), 2)


def test_an_existing_folder_named_by_folder_is_used_not_created(
    grafana: MockGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    grafana.folders["ops-uid"] = "Operations"
    assert push(grafana, "--folder", "Operations") == 0
    assert grafana.requests_to("POST", "/api/folders") == []
    assert {saved.folder_uid for saved in grafana.dashboards.values()} == {"ops-uid"}
    assert "folder 'Operations' (uid ops-uid) found" in capsys.readouterr().out


def test_url_and_token_from_the_environment(grafana: MockGrafana, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_URL", grafana.url)
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert main(["push"]) == 0
    assert set(grafana.dashboards) == set(generated())


def test_without_a_token_the_usage_error_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["push", "--url", "http://127.0.0.1:3000"])
    assert exit_.value.code == 2
    assert "$GRAFANA_TOKEN" in capsys.readouterr().err


def test_a_wrong_token_exits_1_naming_the_token(
    grafana: MockGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", "--url", grafana.url, "--token", "glsa_wrong"]) == 1

    err = capsys.readouterr().err
    assert error_lines(err) == [
        f"error: Grafana at {grafana.url}/ rejected the token (401 Unauthorized: Invalid API key): "
        "check --token or $GRAFANA_TOKEN"
    ]
    assert "Traceback" not in err
    assert grafana.requests_to("POST", "/api/dashboards/db") == []


def test_a_token_without_permission_exits_1_naming_the_token_and_the_permission(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with MockGrafana(token=TOKEN, missing_permissions=["folders:create"]) as grafana:
        assert push(grafana) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith(
        f"error: the token may not create folder 'SMSC' in Grafana at {grafana.url}/ (403 Forbidden"
    )
    assert "Permissions needed: folders:create" in line


@pytest.mark.parametrize(
    ("grafana_options", "expected"),
    [
        (
            {"provisioned": ["smsc-costs"]},
            "answered 400 to save dashboard smsc-costs: Cannot save provisioned dashboard",
        ),
        (
            {"dashboard_failure": (500, "database is locked")},
            "answered 500 to save dashboard smsc-costs: database is locked",
        ),
    ],
)
def test_other_http_errors_exit_1_with_the_status_and_grafanas_message(
    grafana_options: dict[str, Any], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockGrafana(token=TOKEN, **grafana_options) as grafana:
        assert push(grafana) == 1
    err = capsys.readouterr().err
    assert error_lines(err) == [f"error: Grafana at {grafana.url}/ {expected}"]
    assert "Traceback" not in err


def test_an_unreachable_grafana_exits_1_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused.
    assert main(["push", "--url", f"http://127.0.0.1:{port}", "--token", TOKEN, "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    assert error_lines(err) == [
        f"error: cannot reach Grafana at http://127.0.0.1:{port}/: Connection refused"
    ]
    assert "Traceback" not in err


def test_something_that_is_not_grafana_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # The mock answers 404 outside its sub-path, like a web server that is not Grafana's API.
    with MockGrafana(token=TOKEN, sub_path="/grafana") as grafana:
        url = grafana.url.removesuffix("/grafana")
        assert main(["push", "--url", url, "--token", TOKEN]) == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: Grafana at {url}/ answered 404 to read /api/health: Not found"
    ]


class LoginPage(BaseHTTPRequestHandler):
    """An SSO proxy in front of Grafana: 200 and an HTML sign-in page, whatever the path."""

    def do_GET(self) -> None:
        page = b"<html><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_login_page_instead_of_grafana_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LoginPage)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert main(["push", "--url", url, "--token", TOKEN]) == 1
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert error_lines(err) == [
        f"error: {url} is not Grafana's HTTP API (a proxy's login page?): /api/health answered "
        "'<html><body>Sign in</body></html>'"
    ]
    assert "Traceback" not in err


def test_a_grafana_served_from_a_sub_path(capsys: pytest.CaptureFixture[str]) -> None:
    with MockGrafana(token=TOKEN, sub_path="/grafana") as grafana:
        assert push(grafana) == 0
        assert set(grafana.dashboards) == set(generated())
    assert f"{grafana.url}/d/smsc-costs/smsc-costs" in capsys.readouterr().out


def test_dry_run_sends_nothing_and_lists_the_dashboards(
    grafana: MockGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(grafana, "--dry-run") == 0
    assert main(["push", "--dry-run"]) == 0  # needs neither URL nor token

    assert grafana.requests == []
    out = capsys.readouterr().out
    for uid, board in generated().items():
        assert f"{board['title']} ({len(board['panels'])} panels)" in out
        assert f"  {uid} " in out


@pytest.mark.parametrize(
    ("version", "warned"), [("11.6.0", False), ("11.2.3", False), ("10.4.7", True), ("12.0.1", True)]
)
def test_a_different_major_grafana_version_is_a_warning_not_an_error(
    version: str, warned: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockGrafana(token=TOKEN, version=version) as grafana:
        assert push(grafana) == 0
        assert set(grafana.dashboards) == set(generated())
    captured = capsys.readouterr()
    assert f"Grafana {version} at {grafana.url}/" in captured.out
    warnings = [
        line for line in captured.err.splitlines() if line.startswith(f"warning: Grafana is {version}")
    ]
    assert len(warnings) == warned
    assert all("built for Grafana 11.6.0" in line for line in warnings)


def test_a_missing_datasource_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    with MockGrafana(token=TOKEN, datasources=()) as grafana:
        assert push(grafana) == 0
    assert "warning: Grafana has no datasource with uid 'smsc-prometheus'" in capsys.readouterr().err


def test_a_directory_without_dashboards_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "--from", str(tmp_path), "--dry-run"]) == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: no dashboards (*.json) in {tmp_path}: run `smsc-analytics dashboards build`"
    ]


def test_the_target_version_is_the_sdk_build() -> None:
    assert target_version() == "11.6.0"
    assert version_warning("11.6.0", "11.6.0") is None
    assert version_warning("11.0.0+security-01", "11.6.0") is None
    assert version_warning(None, "11.6.0") is not None


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://localhost:3000", "http://localhost:3000/"),
        ("https://ops.example/grafana", "https://ops.example/grafana/"),
        ("http://localhost:3000/?verify=false", "http://localhost:3000/?verify=false"),
    ],
)
def test_base_url_ends_with_a_slash_for_grafana_client(url: str, base: str) -> None:
    assert base_url(url) == base


def test_a_bad_url_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "--url", "localhost:3000", "--token", TOKEN]) == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: bad Grafana URL 'localhost:3000': expected http(s)://host[:port][/path]"
    ]
