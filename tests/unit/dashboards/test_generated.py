"""The committed dashboards (and their PANELS.md) are what `dashboards/src` builds, with stable uids, one
fixed datasource uid, the account/type/sender (or country) variables, and read-only provisioning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.__main__ import main
from dashboards.build import DASHBOARDS, GENERATED, PANELS_DOC, documents, iter_panels, rendered, stale
from dashboards.src.panels import DATASOURCE_UID

PROVISIONING = Path(__file__).resolve().parents[3] / "dashboards" / "provisioning"


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in rendered().items()}


def test_committed_json_is_not_stale() -> None:
    assert stale(GENERATED) == [], "run `smsc-analytics dashboards build` and commit dashboards/generated"
    assert (GENERATED / PANELS_DOC).is_file()


def test_the_five_dashboards_have_stable_uids_named_like_their_files() -> None:
    assert set(DASHBOARDS) == {
        "smsc-delivery",
        "smsc-costs",
        "smsc-destinations",
        "smsc-voice-menu",
        "smsc-pipeline-health",
    }
    for name, board in dashboards().items():
        assert name == f"{board['uid']}.json"
        assert board["editable"] is False


def test_every_panel_and_query_uses_the_fixed_datasource() -> None:
    for name, board in dashboards().items():
        for panel in iter_panels(board["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, (
                name,
                panel["title"],
            )
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == DATASOURCE_UID


def test_panel_ids_are_unique_per_dashboard() -> None:
    for name, board in dashboards().items():
        ids = [panel["id"] for panel in iter_panels(board["panels"])]
        assert len(ids) == len(set(ids)), name


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        ("smsc-delivery.json", ["account", "type", "sender"]),
        ("smsc-costs.json", ["account", "type", "sender"]),
        ("smsc-destinations.json", ["account", "type", "country"]),
        ("smsc-voice-menu.json", ["account"]),
        ("smsc-pipeline-health.json", ["account"]),
    ],
)
def test_variables(name: str, variables: list[str]) -> None:
    board = dashboards()[name]
    assert [variable["name"] for variable in board["templating"]["list"]] == variables
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID
        assert variable["includeAll"] is True
        assert variable["allValue"] == ".*"


def test_build_writes_what_check_accepts_and_check_catches_an_edit(tmp_path: Path) -> None:
    assert main(["build", "--output", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*rendered(), PANELS_DOC])
    assert main(["build", "--check", "--output", str(tmp_path)]) == 0
    edited = tmp_path / "smsc-delivery.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Delivery", "Delivry"), encoding="utf-8")
    (tmp_path / "orphan.json").write_text("{}", encoding="utf-8")
    assert stale(tmp_path) == ["orphan.json", "smsc-delivery.json"]
    assert main(["build", "--check", "--output", str(tmp_path)]) == 1


def test_check_catches_an_edited_or_missing_panels_doc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--output", str(tmp_path)]) == 0
    doc = tmp_path / PANELS_DOC
    doc.write_text(doc.read_text(encoding="utf-8").replace("Time series", "Graph"), encoding="utf-8")
    assert main(["build", "--check", "--output", str(tmp_path)]) == 1
    assert f"stale: {doc}" in capsys.readouterr().err
    doc.unlink()
    assert stale(tmp_path) == [PANELS_DOC]
    assert main(["build", "--output", str(tmp_path)]) == 0
    assert stale(tmp_path) == []


def panels_doc_sections() -> dict[str, str]:
    """Dashboard title -> its section of PANELS.md."""
    sections = documents()[PANELS_DOC].split("\n## ")[1:]
    return {section.split("\n", 1)[0]: section for section in sections}


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


VISUALIZATIONS = {"timeseries": "Time series", "stat": "Stat", "table": "Table", "barchart": "Bar chart"}


def panels_by_row(board: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(row title, panel) in layout order: an expanded row's panels follow it, a collapsed row holds them."""
    found, row = [], "—"
    for panel in board["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            found += [(row, inner) for inner in panel.get("panels", [])]
        else:
            found.append((row, panel))
    return found


def test_panels_doc_has_a_row_per_panel_with_its_type_description_and_every_query() -> None:
    sections = panels_doc_sections()
    assert sorted(sections) == sorted(board["title"] for board in dashboards().values())
    for board in dashboards().values():
        section = sections[board["title"]]
        assert f"- uid: `{board['uid']}`" in section
        for variable in board["templating"]["list"]:
            assert f"`${variable['name']}` from `{variable['query']['query']}`" in section
        table = [line for line in section.splitlines() if line.startswith("| ")][1:]  # past the header
        expected = panels_by_row(board)
        assert (
            len(table)
            == len(expected)
            == len(list(iter_panels(board["panels"])))
            - len([panel for panel in board["panels"] if panel["type"] == "row"])
        ), board["title"]
        for line, (row, panel) in zip(table, expected, strict=True):
            cells = line.removeprefix("| ").removesuffix(" |").split(" | ")
            assert len(cells) == 6, line
            assert cells[:4] == [
                cell(row),
                cell(panel["title"]),
                VISUALIZATIONS[panel["type"]],
                f"`{panel['fieldConfig']['defaults']['unit']}`"
                if panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
                else "—",
            ]
            assert cells[4] == (cell(panel["description"]) if panel.get("description") else "—")
            for target in panel["targets"]:
                assert f"`{cell(target['expr'])}`" in cells[5], (board["title"], panel["title"])


def test_provisioned_datasource_has_the_uid_the_dashboards_use() -> None:
    document = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    [datasource] = document["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"


def test_dashboard_provider_is_read_only() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards" / "smsc.yml").read_text(encoding="utf-8"))
    [provider] = document["providers"]
    assert provider["editable"] is False
    assert provider["allowUiUpdates"] is False
