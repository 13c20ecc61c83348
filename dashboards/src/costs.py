"""The Costs dashboard: what sending costs, per what, and what was paid for nothing."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.src import names
from dashboards.src.panels import new_dashboard, query, series, timeseries_panel
from smsc.codes import Outcome

UID = "smsc-costs"
_DELIVERED = f'="{Outcome.DELIVERED.value}"'


def _spend(by: str, window: str) -> str:
    return f"sum by ({by}) (increase({series(names.COST)}[{window}]))"


def build() -> dashboard.Dashboard:
    final = series(names.MESSAGES_FINAL)
    board = new_dashboard(
        UID,
        "SMSC · Costs",
        "Spend by type, sender, template kind and balance; cost per delivered message and money spent on "
        "messages that were not delivered. Costs are in the account's currency.",
        names.COST,
    ).with_row(dashboard.Row("Spend"))
    for by in ("type", "sender", "template_kind", "balance"):
        board = board.with_panel(
            timeseries_panel(
                f"Spend per hour and per day by {by.replace('_', ' ')}",
                query(_spend(by, "1h"), f"{{{{{by}}}}} per hour"),
                query(_spend(by, "1d"), f"{{{{{by}}}}} per day"),
            )
        )
    return (
        board.with_row(dashboard.Row("Efficiency"))
        .with_panel(
            timeseries_panel(
                "Cost per delivered message",
                query(
                    f"{_spend('type', '1h')} / (sum by (type) (increase("
                    f"{series(names.MESSAGES_FINAL, outcome=_DELIVERED)}[1h])) > 0)",
                    "{{type}}",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Spent on undelivered messages (per hour)",
                query(f"sum by (type) (increase({series(names.COST_UNDELIVERED)}[1h]))", "{{type}}"),
            )
        )
        .with_panel(
            timeseries_panel(
                "SMS parts per message",
                query(
                    f"sum by (type) (increase({series(names.MESSAGE_PARTS)}[1h]))"
                    f" / (sum by (type) (increase({final}[1h])) > 0)",
                    "{{type}}",
                ),
                description="Long or non-GSM-7 texts are split and every part is paid.",
            )
        )
    )
