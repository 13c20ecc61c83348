"""The metric names the dashboards query, taken from their owners so that a rename breaks the build.

- stream workers: `streams/contract.py` (looked up by name: a name it does not hold fails at import);
  their aggregates come one series per source partition (`partition` label): queries sum it away;
- recorded series: `dashboards/prometheus/rules.yml` (tests/unit/dashboards checks each is recorded there);
- ingest: the constants of `ingest/metrics.py`;
- Faust's Prometheus sensor (`faust.sensors.prometheus`): its names are `<prefix>_<name>`, the prefix being
  the app id with `-` and `.` replaced by `_`, as Faust does (app id `smsc-streams` -> `smsc_streams_`).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry

from ingest import metrics as ingest_metrics
from streams.contract import BY_NAME, MetricSpec
from streams.settings import WorkerSettings


def _contract(name: str) -> MetricSpec:
    return BY_NAME[name]


STATUS_CALLBACKS: Final = _contract("smsc_status_callbacks_total")
MESSAGES_FINAL: Final = _contract("smsc_messages_final_total")
ENGAGEMENT: Final = _contract("smsc_messages_engagement_total")
IN_FLIGHT: Final = _contract("smsc_messages_in_flight")
COHORT_MESSAGES: Final = _contract("smsc_cohort_messages")
COHORT_DELIVERED: Final = _contract("smsc_cohort_delivered")
DELIVERY_LATENCY: Final = _contract("smsc_delivery_latency_seconds")
MESSAGE_PARTS: Final = _contract("smsc_message_parts_total")
COST: Final = _contract("smsc_cost_total")
COST_UNDELIVERED: Final = _contract("smsc_cost_undelivered_total")
ERRORS: Final = _contract("smsc_errors_total")
ERROR_CODE_INFO: Final = _contract("smsc_error_code_info")
VOICE_CALLS: Final = _contract("smsc_voice_calls_total")
VOICE_TALK: Final = _contract("smsc_voice_call_duration_seconds")
VOICE_RING: Final = _contract("smsc_voice_ring_seconds")
VOICE_MENU: Final = _contract("smsc_voice_menu_selections_total")
VOICE_DTMF: Final = _contract("smsc_voice_dtmf_total")
VOICE_OVERTIME: Final = _contract("smsc_voice_overtime_seconds_total")
INCOMING: Final = _contract("smsc_incoming_messages_total")
CALL_CONFIRMATIONS: Final = _contract("smsc_call_confirmations_total")
HLR_LOOKUPS: Final = _contract("smsc_hlr_lookups_total")
DESTINATION_FINAL: Final = _contract("smsc_destination_messages_final_total")
DESTINATION_LATENCY: Final = _contract("smsc_destination_delivery_latency_seconds")
DESTINATION_COST: Final = _contract("smsc_destination_cost_total")
CARRIER_SOURCES: Final = _contract("smsc_destination_carrier_sources_total")
HLR_NUMBERS_REMEMBERED: Final = _contract("smsc_hlr_numbers_remembered")
DUPLICATES: Final = _contract("smsc_callbacks_duplicate_total")
DEAD: Final = _contract("smsc_callbacks_dead_total")
#: Raw records not yet processed per owned raw partition (streams/progress.py): the raw topic is read beside
#: Faust, so Faust's own offset gauges below do not cover it.
CONSUMER_LAG: Final = _contract("smsc_stream_consumer_lag_records")

#: 5-minute rates recorded per everything but `instance` and `partition` (rules.yml, smsc-rates-recording).
STATUS_CALLBACKS_RATE: Final = "account_type_status:smsc_status_callbacks:rate5m"
MESSAGES_FINAL_RATE: Final = "account_type_sender_outcome:smsc_messages_final:rate5m"
ENGAGEMENT_RATE: Final = "account_type_event:smsc_messages_engagement:rate5m"
ERRORS_RATE: Final = "account_type_err:smsc_errors:rate5m"
DELIVERY_LATENCY_BUCKET_RATE: Final = "account_type_le:smsc_delivery_latency_seconds_bucket:rate5m"
DESTINATION_FINAL_RATE: Final = "account_type_country_carrier_outcome:smsc_destination_messages_final:rate5m"
DESTINATION_COST_RATE: Final = "account_type_country_carrier:smsc_destination_cost:rate5m"
DESTINATION_LATENCY_BUCKET_RATE: Final = (
    "account_type_country_carrier_le:smsc_destination_delivery_latency_seconds_bucket:rate5m"
)
#: Recorded series -> the contract metric they are computed from (their labels but `instance`, `partition`).
RECORDED: Final = {
    STATUS_CALLBACKS_RATE: STATUS_CALLBACKS,
    MESSAGES_FINAL_RATE: MESSAGES_FINAL,
    ENGAGEMENT_RATE: ENGAGEMENT,
    ERRORS_RATE: ERRORS,
    DELIVERY_LATENCY_BUCKET_RATE: DELIVERY_LATENCY,
    DESTINATION_FINAL_RATE: DESTINATION_FINAL,
    DESTINATION_COST_RATE: DESTINATION_COST,
    DESTINATION_LATENCY_BUCKET_RATE: DESTINATION_LATENCY,
}

#: Per carrier of a destination country and account, over the last hour and its baseline: the same hour of
#: the previous 7 days, or before 7 days of history the country's other carriers in the last hour
#: (rules.yml, smsc-destination-recording: the figures of the SmscCarrierFailureSpike alert).
CARRIER_LABELS: Final = ("account", "country", "carrier")
CARRIER_FINAL_1H: Final = "account_country_carrier:smsc_destination_messages_final:increase1h"
CARRIER_FAILED_1H: Final = "account_country_carrier:smsc_destination_messages_failed:increase1h"
CARRIER_FAILURE_RATIO_1H: Final = "account_country_carrier:smsc_destination_failure_ratio:1h"
CARRIER_FAILURE_RATIO_BASELINE: Final = "account_country_carrier:smsc_destination_failure_ratio:baseline"

INGEST_REQUESTS: Final = ingest_metrics.REQUESTS_TOTAL
INGEST_DURATION: Final = ingest_metrics.REQUEST_DURATION_SECONDS
INGEST_REJECTED: Final = ingest_metrics.REJECTED_TOTAL
INGEST_BROKER_ERRORS: Final = ingest_metrics.BROKER_ERRORS_TOTAL

FAUST_PREFIX: Final = str(WorkerSettings.model_fields["app_id"].default).replace("-", "_").replace(".", "_")
#: Gauges per topic/partition of the partitions Faust itself consumes (not the raw topic: see CONSUMER_LAG).
FAUST_END_OFFSET: Final = f"{FAUST_PREFIX}_topic_partition_end_offset"
FAUST_COMMITTED_OFFSET: Final = f"{FAUST_PREFIX}_topic_partition_offset_commited"  # sic, Faust's spelling
#: Despite its name a gauge of rebalances *in progress*: +1 when one starts, -1 when the worker has its
#: assignment; then `..._recovering` is +1 until the tables are recovered (faust.sensors.prometheus).
FAUST_REBALANCING: Final = f"{FAUST_PREFIX}_total_rebalances"
FAUST_RECOVERING: Final = f"{FAUST_PREFIX}_total_rebalances_recovering"
#: A real counter of completed rebalances (recovery included): the count of a histogram of their latency.
FAUST_REBALANCES_DONE: Final = f"{FAUST_PREFIX}_rebalance_done_latency_count"
FAUST_METRICS: Final = (
    FAUST_END_OFFSET,
    FAUST_COMMITTED_OFFSET,
    FAUST_REBALANCING,
    FAUST_RECOVERING,
    FAUST_REBALANCES_DONE,
)

#: Series Prometheus makes itself.
PROMETHEUS_BUILTINS: Final = ("up", "ALERTS")


def ingest_labels() -> dict[str, tuple[str, ...]]:
    """Exposed name -> label names of every ingest metric, read from a scrape of a fresh registry."""
    registry = CollectorRegistry()
    ingest_metrics.IngestMetrics(registry, ["default"])
    labels: dict[str, tuple[str, ...]] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels.setdefault(sample.name, tuple(k for k in sample.labels if k != "le"))
    return labels


def known_series() -> frozenset[str]:
    """Every series name a query may use: contract metrics (and their histogram series), ingest, Faust."""
    names: set[str] = set(ingest_labels()) | set(FAUST_METRICS) | set(PROMETHEUS_BUILTINS)
    for spec in BY_NAME.values():
        names.add(spec.name)
        if spec.buckets:
            names.update(f"{spec.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return frozenset(names)
