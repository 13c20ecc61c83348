"""The Destinations dashboard: where delivery dropped, by the recipient's country and carrier."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common, dashboard, table
from grafana_foundation_sdk.models import dashboard as model

from dashboards.src import names
from dashboards.src.panels import (
    DATASOURCE,
    bar_panel,
    new_dashboard,
    query,
    recorded,
    selector,
    series,
    table_panel,
    table_query,
    timeseries_panel,
)
from smsc.codes import Outcome
from streams.contract import MetricSpec

UID: Final = "smsc-destinations"
#: Beside the shared account and type (panels.VARIABLES): only this dashboard's metrics have a country.
COUNTRY: Final = "country"
#: Rows of the worst-carriers table.
WORST: Final = 10
#: Bars of the spend-in-the-range charts.
TOP_SPEND: Final = 20

_DELIVERED: Final = f'="{Outcome.DELIVERED.value}"'
_IN_COUNTRY: Final = f'=~"${COUNTRY}"'
_RECORDED: Final = "5-minute rates recorded by Prometheus (rules.yml), summed over workers and partitions."


def _recorded(name: str, spec: MetricSpec, **matchers: str) -> str:
    """A recorded series of a destination metric, narrowed by account, type and country."""
    return recorded(name, spec, country=_IN_COUNTRY, **matchers)


def _series(spec: MetricSpec) -> str:
    return series(spec, country=_IN_COUNTRY)


def _carrier_series(name: str) -> str:
    """A per-carrier recorded series (types summed: no `type` label) narrowed by account and country."""
    return f"{name}{selector(names.CARRIER_LABELS, country=_IN_COUNTRY)}"


def _delivery_ratio(by: str) -> str:
    delivered = _recorded(names.DESTINATION_FINAL_RATE, names.DESTINATION_FINAL, outcome=_DELIVERED)
    final = _recorded(names.DESTINATION_FINAL_RATE, names.DESTINATION_FINAL)
    return f"sum by ({by}) ({delivered}) / (sum by ({by}) ({final}) > 0)"


def _latency_p95(by: str) -> str:
    buckets = _recorded(names.DESTINATION_LATENCY_BUCKET_RATE, names.DESTINATION_LATENCY)
    return f"histogram_quantile(0.95, sum by ({by}, le) ({buckets}))"


def _spend_per_hour(by: str) -> str:
    return f"sum by ({by}) ({_recorded(names.DESTINATION_COST_RATE, names.DESTINATION_COST)}) * 3600"


def _spend_in_range(by: str) -> str:
    return f"topk({TOP_SPEND}, sum by ({by}) (increase({_series(names.DESTINATION_COST)}[$__range])))"


def _country_variable() -> dashboard.QueryVariable:
    """Countries of the selected accounts and types, like panels.variable does for the shared ones."""
    narrowed = selector(tuple(label for label in names.DESTINATION_FINAL.labels if label != COUNTRY))
    return (
        dashboard.QueryVariable(COUNTRY)
        .label(COUNTRY)
        .datasource(DATASOURCE)
        .query(
            {
                "query": f"label_values({names.DESTINATION_FINAL.name}{narrowed}, {COUNTRY})",
                "refId": "variable",
            }
        )
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


#: The worst-carriers table's columns, the counts among them, and the one it is sorted by (descending).
_NOW: Final = "Failed, last hour"
_BASELINE: Final = "Failed, usually"
_MESSAGES: Final = "Final messages, last hour"
_BEYOND_USUAL: Final = "Failed beyond usual"
_COUNTS: Final = (_MESSAGES, _BEYOND_USUAL)


def _worst_carriers_columns() -> list[tuple[str, str]]:
    """(column title, PromQL) of the worst-carriers table, every query returning the same carriers: those
    with the most failed (or expired) messages beyond their usual share, the failures of the last hour
    minus the baseline's share of its messages. A count, not a ratio: a quiet carrier's few failures
    cannot push a busy one's outage off the table."""
    now = _carrier_series(names.CARRIER_FAILURE_RATIO_1H)
    baseline = _carrier_series(names.CARRIER_FAILURE_RATIO_BASELINE)
    messages = _carrier_series(names.CARRIER_FINAL_1H)
    failed = _carrier_series(names.CARRIER_FAILED_1H)
    worst = f"topk({WORST}, {failed} - {baseline} * {messages})"
    among_worst = f" and on ({', '.join(names.CARRIER_LABELS)}) {worst}"
    return [
        (_NOW, f"{now}{among_worst}"),
        (_BASELINE, f"{baseline}{among_worst}"),
        (_MESSAGES, f"{messages}{among_worst}"),
        (_BEYOND_USUAL, worst),
    ]


def _worst_carriers() -> table.Panel:
    columns = _worst_carriers_columns()
    refs = "ABCDEFGHIJ"
    renamed = {f"Value #{refs[index]}": title for index, (title, _) in enumerate(columns)}
    panel = (
        table_panel(
            f"Worst carriers: the last hour against their usual (top {WORST})",
            *(table_query(expr) for _, expr in columns),
            width=24,
        )
        .description(
            "Per account, country and carrier (message types summed; the type variable does not "
            "apply): the share of final messages that failed or expired in the last hour, the usual share "
            "(the same hour of the previous 7 days, weighted by volume; before a carrier has 7 days of "
            "history, the other carriers of its country in the last hour), the final messages of the hour, "
            "and the failures beyond the usual share (failed - baseline x messages), the most first. The "
            "figures of the SmscCarrierFailureSpike alert (it fires at 3x the baseline, 5 points above it, "
            "over 100 messages). A carrier with neither baseline (no history, no peers in its country) is "
            "not listed; `other` is the carriers beyond the per-country label bound."
        )
        .unit("percentunit")
        .sort_by([common.TableSortByFieldState().display_name(_BEYOND_USUAL).desc(True)])
    )
    for count in _COUNTS:
        panel = panel.override_by_name(count, [model.DynamicConfigValue(id_val="unit", value="short")])
    # One row per carrier: the queries' tables merged on their labels, then Time dropped and the values named.
    return panel.transformations(
        [
            model.DataTransformerConfig(id_val="merge", options={}),
            model.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True}, "renameByName": renamed},
            ),
        ]
    )


def build() -> dashboard.Dashboard:
    sources = series(names.CARRIER_SOURCES)
    return (
        new_dashboard(
            UID,
            "SMSC · Destinations",
            "Where delivery dropped: delivery ratio, latency and spend by the recipient's country and "
            "carrier (the number range's, or the network of an HLR answer for the number), and the carriers "
            "failing more than usual for this hour of the day.",
            names.DESTINATION_FINAL,
        )
        .with_variable(_country_variable())
        .with_row(dashboard.Row("Carriers failing more than usual"))
        .with_panel(_worst_carriers())
        .with_row(dashboard.Row("Delivery by destination"))
        .with_panel(
            timeseries_panel(
                "Delivery ratio by country",
                query(_delivery_ratio(COUNTRY), "{{country}}"),
                unit="percentunit",
                description="Delivered / final outcomes over 5 minutes. " + _RECORDED,
            )
        )
        .with_panel(
            timeseries_panel(
                "Delivery ratio by carrier",
                query(_delivery_ratio(f"{COUNTRY}, carrier"), "{{carrier}} ({{country}})"),
                unit="percentunit",
                description="Delivered / final outcomes over 5 minutes, per carrier of each country. "
                + _RECORDED,
            )
        )
        .with_panel(
            timeseries_panel(
                "Delivery latency p95 by country",
                query(_latency_p95(COUNTRY), "{{country}}"),
                unit="s",
                description="From the first status of a message to its delivered status, over 5 minutes; "
                "coarse buckets (5 s, 30 s, 2 min, 10 min, 1 h): read it as which bucket, not to the second.",
            )
        )
        .with_panel(
            timeseries_panel(
                "Delivery latency p95 by carrier",
                query(_latency_p95(f"{COUNTRY}, carrier"), "{{carrier}} ({{country}})"),
                unit="s",
                description="As by country, per carrier of each country.",
            )
        )
        .with_row(dashboard.Row("Spend by destination"))
        .with_panel(
            timeseries_panel(
                "Spend per hour by country",
                query(_spend_per_hour(COUNTRY), "{{country}}"),
                description="The cost of the messages that became final, at the rate of the last 5 minutes, "
                "per hour; in the account's currency. " + _RECORDED,
            )
        )
        .with_panel(
            timeseries_panel(
                "Spend per hour by carrier",
                query(_spend_per_hour(f"{COUNTRY}, carrier"), "{{carrier}} ({{country}})"),
                description="As by country, per carrier of each country.",
            )
        )
        .with_panel(
            bar_panel(
                f"Spend in the range by country (top {TOP_SPEND})",
                table_query(_spend_in_range(COUNTRY)),
                description="Cost of the messages counted in the dashboard's time range.",
            )
        )
        .with_panel(
            bar_panel(
                f"Spend in the range by carrier (top {TOP_SPEND})",
                table_query(_spend_in_range(f"{COUNTRY}, carrier")),
                description="Cost of the messages counted in the dashboard's time range.",
            )
        )
        .with_row(dashboard.Row("Where the carrier comes from"))
        .with_panel(
            timeseries_panel(
                "Carrier from an HLR answer, the number range, or neither",
                query(
                    f"sum by (source) (increase({sources}[1h]))"
                    f" / ignoring (source) group_left () sum (increase({sources}[1h]))",
                    "{{source}}",
                ),
                unit="percentunit",
                description="Share of the last hour's messages by where their carrier came from: `hlr`, the "
                "network of an HLR answer the worker knew for the number (ported numbers are right); "
                "`range`, the carrier the number range was issued to; `unknown`, neither. All types and "
                "countries.",
            )
        )
        .with_panel(
            timeseries_panel(
                "HLR numbers remembered",
                query(f"max({names.HLR_NUMBERS_REMEMBERED.name})", "most on a worker"),
                query(f"min({names.HLR_NUMBERS_REMEMBERED.name})", "fewest on a worker"),
                description="Numbers whose HLR network a worker remembers (every worker reads every answer "
                "of smsc.hlr.networks, so all should hold the same; fewest below most: a worker still "
                "catching up). Bounded and expiring: SMSC_WORKER_HLR_RETENTION_SECONDS.",
            )
        )
    )
