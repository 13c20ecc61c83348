"""Every panel and rule sums the workers' `partition` and `instance` labels away, so that what it shows is
what one series per worker showed; the recorded rates the panels read are recorded from their metric."""

from __future__ import annotations

import re
from typing import Final

import pytest

from dashboards.src import names
from streams.contract import METRICS, PARTITION
from tests.unit.dashboards.queries import grafana_to_promql, panel_queries, rules

#: Series of the aggregates: one per source partition and worker.
PER_PARTITION: Final = frozenset(
    name
    for spec in METRICS
    if spec.per_partition
    for name in (spec.name, *(f"{spec.name}{suffix}" for suffix in ("_bucket", "_sum", "_count")))
)
#: Aggregations that drop labels (`topk`/`bottomk` keep every label of the series they pick).
_AGGREGATION: Final = re.compile(
    r"\b(?:sum|avg|min|max|count|group|stddev|stdvar|quantile|count_values)\s*"
    r"(?:(by|without)\s*\(([^)]*)\)\s*)?$"
)
_TRAILING_GROUPING: Final = re.compile(r"\s*(by|without)\s*\(([^)]*)\)")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME: Final = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_WORKER_LABELS: Final = frozenset({"instance", PARTITION})


def _sums_away(mode: str | None, labels: str) -> bool:
    """Whether `<aggregation> <mode> (<labels>)` drops both `instance` and `partition`."""
    named = {label.strip() for label in labels.split(",") if label.strip()}
    if mode is None:
        return True  # no grouping: everything is summed away
    if mode == "by":
        return not named & _WORKER_LABELS
    return named >= _WORKER_LABELS


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced parentheses in {text!r}")


def _summed_away(text: str, at: int) -> bool:
    """Whether the selector at `at` is inside an aggregation that drops `instance` and `partition`; the
    innermost aggregation decides (an outer one cannot bring the labels back, nor drop them twice)."""
    opened: list[int] = []
    for index, char in enumerate(text[:at]):
        if char == "(":
            opened.append(index)
        elif char == ")":
            opened.pop()
    for open_at in reversed(opened):
        aggregation = _AGGREGATION.search(text[:open_at])
        if aggregation is None:
            continue  # a function (rate, increase ...) or plain parentheses: look further out
        mode, labels = aggregation.group(1), aggregation.group(2) or ""
        if mode is None and (trailing := _TRAILING_GROUPING.match(text, _closing(text, open_at) + 1)):
            mode, labels = trailing.group(1), trailing.group(2)
        return _sums_away(mode, labels)
    return False


def not_summed_away(expr: str) -> list[str]:
    """The per-partition metrics an expression reads without summing `instance` and `partition` away."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers: no selector inside
    return [
        match.group(1)
        for match in _NAME.finditer(text)
        if match.group(1) in PER_PARTITION and not _summed_away(text, match.start())
    ]


@pytest.mark.parametrize(
    ("expr", "flagged"),
    [
        ('sum by (type) (increase(smsc_errors_total{account=~".*"}[5m]))', []),
        ("sum(rate(smsc_errors_total[5m])) by (err)", []),
        ("sum without (instance, partition) (rate(smsc_errors_total[5m]))", []),
        ("histogram_quantile(0.5, sum by (le) (rate(smsc_delivery_latency_seconds_bucket[5m])))", []),
        ("topk(3, sum by (err) (increase(smsc_errors_total[1h])))", []),
        ("rate(smsc_errors_total[5m])", ["smsc_errors_total"]),
        ("topk(3, smsc_errors_total)", ["smsc_errors_total"]),
        ("sum without (instance) (smsc_messages_in_flight)", ["smsc_messages_in_flight"]),
        ("sum by (account, partition) (smsc_messages_in_flight)", ["smsc_messages_in_flight"]),
        ("sum(rate(smsc_errors_total[5m])) by (instance)", ["smsc_errors_total"]),
        ("max by (topic, partition) (smsc_stream_consumer_lag_records)", []),  # per partition by its nature
        ("sum by (err) (x) * on (err) group_left max by (err) (smsc_error_code_info)", []),
    ],
)
def test_the_check_tells_summed_from_not_summed(expr: str, flagged: list[str]) -> None:
    assert not_summed_away(expr) == flagged


@pytest.mark.parametrize(("where", "expr"), panel_queries())
def test_every_panel_sums_partition_and_instance_away(where: str, expr: str) -> None:
    assert not_summed_away(grafana_to_promql(expr)) == [], where


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule.get("alert") or rule["record"])
def test_every_rule_sums_partition_and_instance_away(rule: dict[str, str]) -> None:
    assert not_summed_away(rule["expr"]) == []


def test_each_recorded_rate_a_panel_reads_is_recorded_from_its_metric() -> None:
    recorded = {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}
    for name, spec in names.RECORDED.items():
        assert name in recorded, f"{name} is not recorded in rules.yml"
        metric = f"{spec.name}_bucket" if spec.buckets else spec.name
        assert " ".join(recorded[name].split()) == (
            f"sum without (instance, {PARTITION}) (rate({metric}[5m]))"
        ), name
        # The level of the name lists the labels the series keeps (Prometheus' naming convention).
        level = "_".join((*spec.labels, "le") if spec.buckets else spec.labels)
        assert name.startswith(f"{level}:"), name
