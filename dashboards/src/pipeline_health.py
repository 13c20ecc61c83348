"""The Pipeline health dashboard: is every callback taken in, stored, read and understood."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.src import names
from dashboards.src.panels import RATE, new_dashboard, quantiles, query, selector, series, timeseries_panel

UID = "smsc-pipeline-health"


def build() -> dashboard.Dashboard:
    ingest = names.ingest_labels()
    requests = f"{names.INGEST_REQUESTS}{selector(ingest[names.INGEST_REQUESTS])}"
    rejected = f"{names.INGEST_REJECTED}{selector(ingest[names.INGEST_REJECTED])}"
    return (
        new_dashboard(
            UID,
            "SMSC · Pipeline health",
            "Ingest answers and latency, the broker, the stream workers' lag, dead letters and rebalances.",
            names.DEAD,
        )
        .with_row(dashboard.Row("Ingest"))
        .with_panel(
            timeseries_panel(
                "Ingest requests by code",
                query(f"sum by (code) (rate({requests}[{RATE}]))", "{{code}}"),
                unit="reqps",
                description="SMSC retries every answer but 200 and 404 every 4 minutes, 50 times.",
            )
        )
        .with_panel(
            timeseries_panel(
                "Rejected requests by reason",
                query(f"sum by (reason) (rate({rejected}[{RATE}]))", "{{reason}}"),
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Ingest latency p50 / p95 / p99",
                *quantiles(f"{names.INGEST_DURATION}_bucket"),
                unit="s",
                description="Arrival to answer, including the wait for the broker's acknowledgement.",
            )
        )
        .with_panel(
            timeseries_panel(
                "Broker errors",
                query(f"sum(rate({names.INGEST_BROKER_ERRORS}[{RATE}]))", "not acknowledged"),
                unit="ops",
            )
        )
        .with_row(dashboard.Row("Stream workers"))
        .with_panel(
            timeseries_panel(
                "Consumer lag by topic",
                query(f"sum by (topic) (max by (topic, partition) ({names.CONSUMER_LAG.name}))", "{{topic}}"),
                description="Raw records not yet processed (end offset - next offset), reported by the "
                "worker that owns each partition.",
            )
        )
        .with_panel(
            timeseries_panel(
                "Worker rebalances",
                query(
                    f"sum by (instance) (increase({names.FAUST_REBALANCES_DONE}[{RATE}]))",
                    "{{instance}} completed",
                ),
                query(
                    f"sum by (instance) ({names.FAUST_REBALANCING} + {names.FAUST_RECOVERING})",
                    "{{instance}} in progress",
                ),
                description="Completed rebalances (recovery included) per worker, and whether one is under "
                "way: meanwhile the numbers of the partitions that move can be missing.",
            )
        )
        .with_panel(
            timeseries_panel(
                "Dead-lettered callbacks by reason",
                query(f"sum by (reason) (rate({series(names.DEAD)}[{RATE}]))", "{{reason}}"),
                unit="ops",
            )
        )
        .with_panel(
            timeseries_panel(
                "Duplicate callbacks dropped",
                query(f"sum by (kind) (rate({series(names.DUPLICATES)}[{RATE}]))", "{{kind}}"),
                unit="ops",
            )
        )
        .with_panel(
            timeseries_panel(
                "Targets up",
                query('up{job=~"smsc-.*"}', "{{job}} {{instance}}"),
            )
        )
        .with_panel(
            timeseries_panel(
                "Firing alerts",
                query(
                    'count by (alertname) (ALERTS{alertstate="firing", alertname=~"Smsc.*"})', "{{alertname}}"
                ),
            )
        )
    )
