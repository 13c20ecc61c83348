"""`smsc-analytics report`: every format, --plot, and exit status 2 with a message on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.__main__ import main
from reports.catalog import run_report
from smsc_analytics.cli import main as cli_main
from tests.unit.reports.conftest import Workload


@pytest.mark.parametrize("name", ["delivery", "costs", "errors", "voice-menu", "incoming"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json", "html"])
def test_every_report_in_every_format(
    workload: Workload, capsys: pytest.CaptureFixture[str], name: str, fmt: str
) -> None:
    assert main([name, "--root", workload.root, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "acme" in out
    if fmt == "json":
        assert all(isinstance(rows, list) and rows for rows in json.loads(out).values())
    if fmt == "html":
        assert "<table" in out


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "html"])
def test_destinations_in_every_format(
    workload: Workload, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    period = ["--since", "2025-03-03T06:00:30Z", "--until", "2025-03-03T06:01:00Z", "--min-messages", "5"]
    assert main(["destinations", "--root", workload.root, "--format", fmt, *period]) == 0
    out = capsys.readouterr().out
    assert "MegaFon" in out
    if fmt == "json":
        rows = json.loads(out)["destinations"]
        assert rows
        assert list(rows[0])[:6] == [
            "country",
            "carrier",
            "messages",
            "delivery_ratio",
            "previous_delivery_ratio",
            "change_points",
        ]
        assert len(rows) <= 20  # the default --top
    if fmt == "csv":
        assert out.startswith("country,carrier,messages,")


def test_destinations_plot(workload: Workload, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "destinations.png"
    period = ["--since", "2025-03-03T06:00:30Z", "--until", "2025-03-03T06:01:00Z", "--min-messages", "5"]
    assert main(["destinations", "--root", workload.root, "--plot", str(png), *period]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()


def test_filters_and_destination_grouping_from_the_command_line(
    workload: Workload, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--root", workload.root, "--format", "json", "--by", "country,carrier"]
    assert main(["delivery", *argv, "--account", "acme", "--type", "sms,viber"]) == 0
    rows = json.loads(capsys.readouterr().out)["delivery"]
    assert {"country", "carrier", "sent"} <= set(rows[0])
    expected = run_report(
        "delivery", root=workload.root, by=["country", "carrier"], accounts=["acme"], types=["sms", "viber"]
    )["delivery"]
    assert sum(row["sent"] for row in rows) == expected["sent"].sum() > 0


def test_json_numbers_match_the_library(workload: Workload, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli_main(["report", "delivery", "--root", workload.root, "--format", "json", "--by", "account"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)["delivery"]
    assert sum(row["sent"] for row in rows) == workload.truth.inputs["messages"]


def test_plot_writes_a_png(workload: Workload, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("delivery", "errors", "voice-menu"):
        png = tmp_path / f"{name}.png"
        assert main([name, "--root", workload.root, "--plot", str(png), "--since", "2025-03-03"]) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["delivery", "--root", "{missing}"], "no archive of 'status' events"),
        (["delivery", "--since", "2031-01-01"], "no 'status' events in the archive from 2031-01-01"),
        (["delivery", "--since", "yesterday"], "not an ISO date"),
        (["delivery", "--by", "colour"], "delivery groups by any of"),
        (["costs", "--by", "country,network"], "unknown network; costs groups by any of"),
        (["delivery", "--by", ","], "no column given"),
        (["destinations"], "give both"),
        (
            ["destinations", "--since", "2025-03-03", "--until", "2025-03-04", "--by", "sender"],
            "always groups",
        ),
        (["delivery", "--min-messages", "3"], "only destinations"),
        (["delivery", "--previous-since", "2025-03-02"], "only errors, destinations"),
        (["incoming", "--type", "sms"], "no message type"),
        (["delivery", "--type", "telegram"], "message types: sms, flash"),
        (["delivery", "--account", "nobody"], "no 'status' events of account nobody"),
        (["errors", "--top", "-1"], "--top must be >= 0"),
        (["errors", "--since", "2025-03-04", "--until", "2025-03-03"], "must be later than since"),
        (["delivery", "--plot", "chart.svg"], "must be a .png file"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    workload: Workload, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a.replace("{missing}", str(tmp_path / "none")) for a in argv]
    if "--root" not in argv:
        argv += ["--root", workload.root]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_unknown_report_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["nonsense"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "voice-menu" in out
    for text in ("destinations", "--min-messages", "--previous-since", "--account", "--type", "country"):
        assert text in out


def test_default_root_comes_from_the_environment(
    workload: Workload, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMSC_ARCHIVE_ROOT", workload.root)
    assert main(["incoming", "--format", "csv"]) == 0
    assert "reply_share" in capsys.readouterr().out


def test_a_terminal_gets_a_rich_table(workload: Workload) -> None:
    from reports.render import render

    text = render(run_report("delivery", root=workload.root), "table", rich_terminal=True)
    assert "delivery_ratio" in text
    assert "━" in text or "─" in text  # box drawing: rich, not plain pandas text
