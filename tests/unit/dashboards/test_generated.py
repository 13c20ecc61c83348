"""The committed dashboards are what `dashboards/src` builds, with stable uids, one fixed datasource uid,
the account/type/sender variables, and read-only provisioning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.__main__ import main
from dashboards.build import DASHBOARDS, GENERATED, rendered, stale
from dashboards.src.panels import DATASOURCE_UID

PROVISIONING = Path(__file__).resolve().parents[3] / "dashboards" / "provisioning"


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in rendered().items()}


def all_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    panels = list(board["panels"])
    return panels + [inner for panel in panels for inner in panel.get("panels", [])]


def test_committed_json_is_not_stale() -> None:
    assert stale(GENERATED) == [], "run `smsc-analytics dashboards build` and commit dashboards/generated"


def test_the_four_dashboards_have_stable_uids_named_like_their_files() -> None:
    assert set(DASHBOARDS) == {"smsc-delivery", "smsc-costs", "smsc-voice-menu", "smsc-pipeline-health"}
    for name, board in dashboards().items():
        assert name == f"{board['uid']}.json"
        assert board["editable"] is False


def test_every_panel_and_query_uses_the_fixed_datasource() -> None:
    for name, board in dashboards().items():
        for panel in all_panels(board):
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
        ids = [panel["id"] for panel in all_panels(board)]
        assert len(ids) == len(set(ids)), name


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        ("smsc-delivery.json", ["account", "type", "sender"]),
        ("smsc-costs.json", ["account", "type", "sender"]),
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
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(rendered())
    assert main(["build", "--check", "--output", str(tmp_path)]) == 0
    edited = tmp_path / "smsc-delivery.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Delivery", "Delivry"), encoding="utf-8")
    (tmp_path / "orphan.json").write_text("{}", encoding="utf-8")
    assert stale(tmp_path) == ["orphan.json", "smsc-delivery.json"]
    assert main(["build", "--check", "--output", str(tmp_path)]) == 1


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
