"""The Voice menu dashboard: were calls answered, how long they lasted, which keys people pressed."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.src import names
from dashboards.src.panels import (
    RATE,
    bar_panel,
    new_dashboard,
    quantiles,
    query,
    series,
    stat_panel,
    table_panel,
    table_query,
    timeseries_panel,
)
from smsc.codes import VoiceOutcome

UID = "smsc-voice-menu"
TOP = 10


def build() -> dashboard.Dashboard:
    calls = series(names.VOICE_CALLS)
    answered = series(names.VOICE_CALLS, outcome=f'="{VoiceOutcome.ANSWERED.value}"')
    paths = f"topk({TOP}, sum by (path) (increase({series(names.VOICE_MENU)}[$__range])))"
    return (
        new_dashboard(
            UID,
            "SMSC · Voice menu",
            "Voice calls: outcomes, answer rate, talk and ring time, menu paths, keys and overtime.",
            names.VOICE_CALLS,
        )
        .with_row(dashboard.Row("Calls"))
        .with_panel(
            timeseries_panel(
                "Call outcomes", query(f"sum by (outcome) (rate({calls}[{RATE}]))", "{{outcome}}"), unit="ops"
            )
        )
        .with_panel(
            timeseries_panel(
                "Answer rate (1h)",
                query(f"sum(increase({answered}[1h])) / (sum(increase({calls}[1h])) > 0)", "answered"),
                unit="percentunit",
            )
        )
        .with_panel(
            timeseries_panel(
                "Talk time p50 / p95 / p99", *quantiles(series(names.VOICE_TALK, "_bucket")), unit="s"
            )
        )
        .with_panel(
            timeseries_panel(
                "Ring time p50 / p95 / p99", *quantiles(series(names.VOICE_RING, "_bucket")), unit="s"
            )
        )
        .with_panel(
            stat_panel(
                "Overtime in the range",
                query(f"sum(increase({series(names.VOICE_OVERTIME)}[$__range]))"),
                unit="s",
            )
        )
        .with_panel(
            stat_panel(
                "Call confirmations in the range",
                query(f"sum(increase({series(names.CALL_CONFIRMATIONS)}[$__range]))"),
            )
        )
        .with_row(dashboard.Row("Menu"))
        .with_panel(table_panel(f"Top {TOP} menu paths", table_query(paths)))
        .with_panel(bar_panel(f"Top {TOP} menu paths", table_query(paths)))
        .with_panel(
            bar_panel(
                "DTMF keys pressed",
                table_query(f"sum by (key) (increase({series(names.VOICE_DTMF)}[$__range]))"),
            )
        )
    )
