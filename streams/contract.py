"""The Prometheus contract of the stream workers: names, types, labels and buckets.

Dashboards, alerts and the acceptance tests rely on these names: add metrics, never rename these.
Every series computed from a source partition's aggregates carries that partition's number as the
`partition` label (`MetricSpec.exposed_labels`): a partition that moves to another worker ends its series
on the old worker and starts one on the new, so a rebalance never makes a counter go down
(docs/streams-design.md, "Series and cardinality").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


#: The raw topic's partition a series was computed from, as a decimal string.
PARTITION: Final = "partition"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    type: MetricType
    #: What the metric is about; the simulator's truth has the same (its totals are over partitions).
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()
    #: One series per source partition: `PARTITION` follows `labels` on every exposed sample.
    per_partition: bool = True

    @property
    def exposed_labels(self) -> tuple[str, ...]:
        """The label names of the exposed samples (a histogram's `le` aside)."""
        return (*self.labels, PARTITION) if self.per_partition else self.labels


LATENCY_BUCKETS: Final = (
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    21600.0,
    86400.0,
)
TALK_BUCKETS: Final = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
RING_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
#: Coarse on purpose: a histogram per destination costs a series per bucket (docs: series budget).
DESTINATION_LATENCY_BUCKETS: Final = (5.0, 30.0, 120.0, 600.0, 3600.0)

C, G, H = MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM

METRICS: Final = (
    MetricSpec(
        "smsc_status_callbacks_total", C, ("account", "type", "status"), "Deduplicated status callbacks."
    ),
    MetricSpec(
        "smsc_messages_final_total",
        C,
        ("account", "type", "sender", "outcome"),
        "Messages that reached a final outcome (delivered, failed, expired), once each.",
    ),
    MetricSpec(
        "smsc_messages_engagement_total",
        C,
        ("account", "type", "event"),
        "read and clicked, once per message each.",
    ),
    MetricSpec("smsc_messages_in_flight", G, ("account", "type"), "Messages seen but not yet final."),
    MetricSpec(
        "smsc_cohort_messages", G, ("account", "type", "window"), "Messages first seen in the last window."
    ),
    MetricSpec(
        "smsc_cohort_delivered", G, ("account", "type", "window"), "Of that cohort, delivered so far."
    ),
    MetricSpec(
        "smsc_delivery_latency_seconds",
        H,
        ("account", "type"),
        "First status to delivered status.",
        LATENCY_BUCKETS,
    ),
    MetricSpec(
        "smsc_message_parts_total", C, ("account", "type", "sender"), "SMS parts (cnt), once per message."
    ),
    MetricSpec(
        "smsc_cost_total",
        C,
        ("account", "type", "sender", "balance", "template_kind"),
        "Sum of message cost, once per message.",
    ),
    MetricSpec(
        "smsc_cost_undelivered_total",
        C,
        ("account", "type"),
        "Cost of messages whose final outcome is not delivered.",
    ),
    MetricSpec("smsc_errors_total", C, ("account", "type", "err"), "Status callbacks with a non-zero err."),
    MetricSpec(  # the static code table, the same on every worker: no partition
        "smsc_error_code_info",
        G,
        ("err", "description", "category"),
        "Error code descriptions (value 1).",
        per_partition=False,
    ),
    MetricSpec("smsc_voice_calls_total", C, ("account", "outcome"), "Voice calls by final outcome."),
    MetricSpec(
        "smsc_voice_call_duration_seconds", H, ("account",), "Talk time of answered calls.", TALK_BUCKETS
    ),
    MetricSpec("smsc_voice_ring_seconds", H, ("account",), "Ring time before an answer.", RING_BUCKETS),
    MetricSpec(
        "smsc_voice_menu_selections_total", C, ("account", "path"), "Voice-menu key sequences (bounded)."
    ),
    MetricSpec("smsc_voice_dtmf_total", C, ("account", "key"), "Keys pressed (dtmf)."),
    MetricSpec("smsc_voice_overtime_seconds_total", C, ("account",), "Overtime from the cmt overtime line."),
    MetricSpec("smsc_incoming_messages_total", C, ("account", "to", "is_reply"), "Incoming SMS."),
    MetricSpec("smsc_call_confirmations_total", C, ("account",), "Call confirmations (waitcall)."),
    MetricSpec(
        "smsc_hlr_lookups_total",
        C,
        ("account", "country", "network", "roaming"),
        "HLR look-ups, once each, failed ones too: `unknown` for what the answer lacks.",
    ),
    MetricSpec(
        "smsc_destination_messages_final_total",
        C,
        ("account", "type", "country", "carrier", "outcome"),
        "Messages that reached a final outcome, by destination (country, carrier), once each.",
    ),
    MetricSpec(
        "smsc_destination_delivery_latency_seconds",
        H,
        ("account", "type", "country", "carrier"),
        "First status to delivered status, by destination.",
        DESTINATION_LATENCY_BUCKETS,
    ),
    MetricSpec(
        "smsc_destination_cost_total",
        C,
        ("account", "type", "country", "carrier"),
        "Sum of message cost, once per message, by destination.",
    ),
    MetricSpec(
        "smsc_destination_carrier_sources_total",
        C,
        ("account", "source"),
        "Messages by where their carrier came from: an HLR answer, the number range, or neither.",
    ),
    MetricSpec(  # the worker's memory, shared by its partitions: no partition
        "smsc_hlr_numbers_remembered",
        G,
        (),
        "Numbers whose HLR network the worker remembers.",
        per_partition=False,
    ),
    MetricSpec("smsc_callbacks_duplicate_total", C, ("account", "kind"), "Retries dropped by deduplication."),
    MetricSpec("smsc_callbacks_dead_total", C, ("account", "reason"), "Callbacks that could not be parsed."),
)

#: How far each worker is behind on the raw partitions it owns (streams/progress.py), per partition: Faust's
#: own offset gauges cover only the topics Faust consumes, and the raw topic is read beside Faust.
PROGRESS: Final = (
    MetricSpec(
        "smsc_stream_consumer_lag_records",
        G,
        ("topic", "partition"),
        "Raw records not yet processed: end offset - next offset, per owned partition.",
        per_partition=False,  # `partition` is one of its own labels already
    ),
    MetricSpec(
        "smsc_stream_consumer_offset",
        G,
        ("topic", "partition"),
        "The next raw offset to process.",
        per_partition=False,
    ),
    MetricSpec(
        "smsc_stream_end_offset",
        G,
        ("topic", "partition"),
        "The partition's end (high watermark) last seen.",
        per_partition=False,
    ),
)

#: Records of the HLR sharing topic (streams/hlr_sharing.py) a worker could not read.
SKIPPED_ANSWERS: Final = MetricSpec(
    "smsc_hlr_shared_answers_skipped_total",
    C,
    ("reason",),
    "Records of the HLR sharing topic skipped as unreadable, by reason (key, value, tombstone).",
    per_partition=False,
)

BY_NAME: Final = {spec.name: spec for spec in (*METRICS, *PROGRESS, SKIPPED_ANSWERS)}

COHORT_WINDOWS: Final = {"1h": 3600, "24h": 86400}
