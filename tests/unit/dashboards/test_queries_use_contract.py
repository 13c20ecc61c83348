"""Every metric a panel or a rule queries exists in the contract: streams/contract.py, ingest/metrics.py,
Faust's sensor (dashboards/src/names.py) or a recording rule of rules.yml."""

from __future__ import annotations

import json
import re

import pytest

from dashboards.build import rendered
from dashboards.src.names import known_series
from streams.contract import BY_NAME
from tests.unit.dashboards.queries import panel_queries, recorded_names, rules, series_names


def test_the_name_extraction_finds_series_and_nothing_else() -> None:
    expr = (
        'sum by (err) (increase(smsc_errors_total{account=~"$account", err!="0"}[1h] offset 1d))'
        " * on (err) group_left (description) max by (err, description) (smsc_error_code_info)"
        " / (account_type:smsc_messages_final:increase1h > 0) and up == 1"
    )
    assert series_names(expr) == {
        "smsc_errors_total",
        "smsc_error_code_info",
        "account_type:smsc_messages_final:increase1h",
        "up",
    }


@pytest.mark.parametrize(("where", "expr"), panel_queries())
def test_every_panel_queries_known_metrics_or_recorded_series(where: str, expr: str) -> None:
    names = series_names(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    unknown = names - known_series() - recorded_names()
    assert not unknown, f"{where}: unknown {sorted(unknown)} in {expr!r}"


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule.get("alert") or rule["record"])
def test_every_rule_queries_known_metrics_or_recorded_series(rule: dict[str, str]) -> None:
    names = series_names(rule["expr"])
    unknown = names - known_series() - recorded_names()
    assert not unknown, f"unknown {sorted(unknown)} in {rule['expr']!r}"


def test_every_panel_of_every_dashboard_has_a_query() -> None:
    assert len(panel_queries()) >= 40


def test_every_variable_reads_a_label_its_metric_has() -> None:
    for name, text in rendered().items():
        for variable in json.loads(text)["templating"]["list"]:
            match = re.fullmatch(r"label_values\((\w+)\{[^}]*\}, (\w+)\)", variable["query"]["query"])
            assert match, (name, variable["query"])
            metric, label = match.groups()
            assert label in BY_NAME[metric].labels, (name, metric, label)


def test_a_retyped_or_misspelt_name_is_not_known() -> None:
    assert "smsc_message_final_total" not in known_series()
    assert "smsc_ingest_requests" not in known_series()  # the name without the exposed `_total`
