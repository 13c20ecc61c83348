"""The Destinations dashboard: every query narrowed by the account, type and country variables its series
has; the worst-carriers table lists the same carriers in every column, one row each, the carrier with the
most failures beyond its usual share first."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from dashboards.build import iter_panels, rendered
from dashboards.snapshot import Series, table_contents
from dashboards.src import destinations, names
from streams.contract import BY_NAME

VARIABLES: Final = ("account", "type", "country")
#: `name{matchers}` of a selector (label values never hold a brace here).
_SELECTOR: Final = re.compile(r"([a-zA-Z_:][\w:]*)\{([^}]*)\}")


def board() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(rendered()[f"{destinations.UID}.json"])
    return document


def panels() -> list[dict[str, Any]]:
    return [panel for panel in iter_panels(board()["panels"]) if panel["type"] != "row"]


def labels_of(name: str) -> tuple[str, ...]:
    """A contract metric's labels (a histogram's buckets included), or a recorded series' by its level."""
    for metric in (name, name.removesuffix("_bucket")):
        if metric in BY_NAME:
            return BY_NAME[metric].labels
    level, _, _ = name.partition(":")
    return tuple(level.split("_"))


def test_the_variables_are_account_type_and_country_each_narrowed_by_those_before() -> None:
    variables = board()["templating"]["list"]
    assert [variable["name"] for variable in variables] == list(VARIABLES)
    assert variables[2]["query"]["query"] == (
        'label_values(smsc_destination_messages_final_total{account=~"$account", type=~"$type"}, country)'
    )


def test_every_selector_has_the_variables_its_series_has_as_labels() -> None:
    checked = 0
    for panel in panels():
        for target in panel["targets"]:
            for name, matchers in _SELECTOR.findall(target["expr"]):
                wanted = {f'{label}=~"${label}"' for label in VARIABLES if label in labels_of(name)}
                present = {matcher.strip() for matcher in matchers.split(",")}
                assert wanted <= present, (panel["title"], name, sorted(wanted - present))
                checked += 1
    assert checked >= 20


def test_the_panels_read_the_recorded_rates_and_carrier_figures() -> None:
    expressions = " ".join(target["expr"] for panel in panels() for target in panel["targets"])
    for name in (
        names.DESTINATION_FINAL_RATE,
        names.DESTINATION_COST_RATE,
        names.DESTINATION_LATENCY_BUCKET_RATE,
        names.CARRIER_FAILURE_RATIO_1H,
        names.CARRIER_FAILURE_RATIO_BASELINE,
        names.CARRIER_FINAL_1H,
        names.HLR_NUMBERS_REMEMBERED.name,
        names.CARRIER_SOURCES.name,
    ):
        assert name in expressions, name


def worst_carriers_panel() -> dict[str, Any]:
    [panel] = [panel for panel in panels() if panel["type"] == "table"]
    return panel


def test_every_column_of_the_worst_carriers_table_lists_the_carriers_of_the_last_one() -> None:
    targets = {target["refId"]: target["expr"] for target in worst_carriers_panel()["targets"]}
    assert sorted(targets) == ["A", "B", "C", "D"]
    beyond_usual = targets["D"]
    narrowed = '{account=~"$account", country=~"$country"}'
    assert beyond_usual == (
        f"topk({destinations.WORST}, {names.CARRIER_FAILED_1H}{narrowed}"
        f" - {names.CARRIER_FAILURE_RATIO_BASELINE}{narrowed} * {names.CARRIER_FINAL_1H}{narrowed})"
    )
    for ref, series in (
        ("A", names.CARRIER_FAILURE_RATIO_1H),
        ("B", names.CARRIER_FAILURE_RATIO_BASELINE),
        ("C", names.CARRIER_FINAL_1H),
    ):
        assert targets[ref] == f"{series}{narrowed} and on (account, country, carrier) {beyond_usual}", ref
    for target in worst_carriers_panel()["targets"]:
        assert target["instant"] is True
        assert target["format"] == "table"


def series(ref: str, carrier: str, value: float) -> Series:
    labels = {"account": "shop", "country": "RU", "carrier": carrier}
    return Series(carrier, labels, [0.0], [value], ref)


def test_the_worst_carriers_table_is_a_row_per_carrier_most_failures_beyond_usual_first() -> None:
    # As Prometheus answers the four queries: MTS 20% failed of 150 against its usual 10% (15 beyond
    # usual), MegaFon 62.5% of 288 against 10% (151.2); T2's history is too short for a baseline (no B,
    # no D: Grafana shows those cells empty and sorts the row last).
    answers = [
        series("A", "MTS", 0.2),
        series("A", "MegaFon", 0.625),
        series("B", "MTS", 0.1),
        series("B", "MegaFon", 0.1),
        series("C", "MTS", 150.0),
        series("C", "MegaFon", 288.0),
        series("D", "MTS", 15.0),
        series("D", "MegaFon", 151.2),
        series("A", "T2", 0.3),
        series("C", "T2", 1234.0),
    ]
    header, rows = table_contents(worst_carriers_panel(), answers)
    assert header == [
        "account",
        "country",
        "carrier",
        "Failed, last hour",
        "Failed, usually",
        "Final messages, last hour",
        "Failed beyond usual",
    ]
    assert rows == [
        ["shop", "RU", "MegaFon", "62.5%", "10%", "288", "151"],
        ["shop", "RU", "MTS", "20%", "10%", "150", "15"],
        ["shop", "RU", "T2", "30%", "", "1.23 K", ""],
    ]


def test_a_table_without_merge_keeps_a_row_per_series() -> None:
    panel = {"type": "table", "transformations": [{"id": "organize", "options": {"excludeByName": {}}}]}
    header, rows = table_contents(panel, [series("A", "MTS", 3.0), series("A", "T2", 5.0)])
    assert header == ["account", "country", "carrier", "Value"]
    assert rows == [["shop", "RU", "MTS", "3"], ["shop", "RU", "T2", "5"]]
