"""The Delivery dashboard: did messages arrive, how fast, and why not."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.src import names
from dashboards.src.panels import (
    RATE,
    bar_panel,
    new_dashboard,
    quantiles,
    query,
    recorded,
    series,
    stat_panel,
    table_panel,
    table_query,
    timeseries_panel,
)
from smsc.codes import Outcome

UID = "smsc-delivery"
_DELIVERED = f'="{Outcome.DELIVERED.value}"'


def _ratio(window: str) -> str:
    if window == "5m":  # the recorded 5-minute rates: their ratio is that of the 5-minute increases
        delivered = recorded(names.MESSAGES_FINAL_RATE, names.MESSAGES_FINAL, outcome=_DELIVERED)
        final = recorded(names.MESSAGES_FINAL_RATE, names.MESSAGES_FINAL)
        return f"sum by (type) ({delivered}) / (sum by (type) ({final}) > 0)"
    delivered = series(names.MESSAGES_FINAL, outcome=_DELIVERED)
    final = series(names.MESSAGES_FINAL)
    return (
        f"sum by (type) (increase({delivered}[{window}])) / (sum by (type) (increase({final}[{window}])) > 0)"
    )


_RECORDED = "5-minute rates recorded by Prometheus (rules.yml), summed over workers and partitions."


def build() -> dashboard.Dashboard:
    final = series(names.MESSAGES_FINAL)
    return (
        new_dashboard(
            UID,
            "SMSC · Delivery",
            "Delivery ratio, outcomes, latency and error codes of the messages sent through SMSC.",
            names.MESSAGES_FINAL,
        )
        .with_row(dashboard.Row("Delivery ratio"))
        .with_panel(
            timeseries_panel(
                "Delivery ratio by type (5m, 1h, 24h)",
                *(query(_ratio(window), f"{{{{type}}}} {window}") for window in ("5m", "1h", "24h")),
                unit="percentunit",
                description="Delivered / final outcomes among messages that became final in the window "
                "(5m: from the recorded rates).",
            )
        )
        .with_panel(
            timeseries_panel(
                "Delivery ratio by send cohort",
                query(
                    f"sum by (type, window) ({series(names.COHORT_DELIVERED)})"
                    f" / (sum by (type, window) ({series(names.COHORT_MESSAGES)}) > 0)",
                    "{{type}} sent in the last {{window}}",
                ),
                unit="percentunit",
                description="Of the messages first seen in the last hour / day, the share delivered so far.",
            )
        )
        .with_panel(stat_panel("Messages in flight", query(f"sum({series(names.IN_FLIGHT)})"), width=6))
        .with_panel(
            stat_panel(
                "Delivered in the range",
                query(
                    f"sum(increase({series(names.MESSAGES_FINAL, outcome=_DELIVERED)}[$__range]))"
                    f" / (sum(increase({final}[$__range])) > 0)"
                ),
                unit="percentunit",
                width=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Messages in flight by type",
                query(f"sum by (type) ({series(names.IN_FLIGHT)})", "{{type}}"),
            )
        )
        .with_row(dashboard.Row("Outcomes and latency"))
        .with_panel(
            timeseries_panel(
                "Messages by final outcome",
                query(
                    f"sum by (outcome) ({recorded(names.MESSAGES_FINAL_RATE, names.MESSAGES_FINAL)})",
                    "{{outcome}}",
                ),
                unit="ops",
                description=_RECORDED,
            )
        )
        .with_panel(
            timeseries_panel(
                "Engagement (read, clicked)",
                query(f"sum by (event) ({recorded(names.ENGAGEMENT_RATE, names.ENGAGEMENT)})", "{{event}}"),
                unit="ops",
                description=_RECORDED,
            )
        )
        .with_panel(
            timeseries_panel(
                "Delivery latency p50 / p95 / p99",
                *quantiles(recorded(names.DELIVERY_LATENCY_BUCKET_RATE, names.DELIVERY_LATENCY), rates=True),
                unit="s",
                description="From the first status of a message to its delivered status, over 5 minutes "
                "(bucket rates recorded by Prometheus).",
            )
        )
        .with_panel(
            timeseries_panel(
                "Statuses over time",
                query(
                    f"sum by (status) ({recorded(names.STATUS_CALLBACKS_RATE, names.STATUS_CALLBACKS)})",
                    "{{status}}",
                ),
                unit="ops",
                description=_RECORDED,
            )
        )
        .with_row(dashboard.Row("Errors"))
        .with_panel(
            table_panel(
                "Top error codes",
                table_query(
                    f"topk(10, sum by (err) (increase({series(names.ERRORS)}[$__range])))"
                    " * on (err) group_left (description, category)"
                    f" max by (err, description, category) ({names.ERROR_CODE_INFO.name})"
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Errors by code",
                query(f"sum by (err) ({recorded(names.ERRORS_RATE, names.ERRORS)})", "{{err}}"),
                unit="ops",
                description=_RECORDED,
            )
        )
        .with_row(dashboard.Row("Incoming and HLR"))
        .with_panel(
            timeseries_panel(
                "Incoming SMS and replies",
                query(f"sum by (is_reply) (rate({series(names.INCOMING)}[{RATE}]))", "reply={{is_reply}}"),
                unit="ops",
            )
        )
        .with_panel(
            bar_panel(
                "HLR results by country and network",
                table_query(
                    f"topk(20, sum by (country, network) (increase({series(names.HLR_LOOKUPS)}[$__range])))"
                ),
                description="Every HLR look-up once, when it is final. A failed look-up (subscriber unknown, "
                "no answer) is country and network `unknown`, as is whatever an answer leaves out.",
            )
        )
    )
