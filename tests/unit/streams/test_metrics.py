"""The collector exposes each owned partition's aggregates as series of their own, by contract."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.aggregates import Aggregates
from streams.contract import METRICS, PARTITION, MetricType
from streams.metrics import AggregatesCollector

NOW = 1_795_523_405
COST = {"account": "acme", "type": "sms", "sender": "SHOP", "balance": "main", "template_kind": "none"}
FINAL = {"account": "acme", "type": "sms", "sender": "SHOP", "outcome": "delivered"}
ACME_SMS = {"account": "acme", "type": "sms"}


def partition(number: int, cost: str, latency: float) -> Aggregates:
    aggregates = Aggregates(number)
    aggregates.inc("smsc_cost_total", tuple(COST.values()), Decimal(cost))
    aggregates.inc("smsc_messages_final_total", tuple(FINAL.values()))
    aggregates.observe("smsc_delivery_latency_seconds", ("acme", "sms"), latency)
    aggregates.cohort_first_seen(("acme", "sms"), NOW - 120)
    aggregates.cohort_delivered(("acme", "sms"), NOW - 120)
    aggregates.cohort_first_seen(("acme", "sms"), NOW - 7200)
    aggregates.inc("smsc_messages_in_flight", ("acme", "sms"))
    return aggregates


def scrape(*owned: Aggregates) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(AggregatesCollector(lambda: owned, clock=lambda: NOW))
    return registry


def test_each_owned_partition_is_a_series_of_its_own() -> None:
    registry = scrape(partition(3, "2.20", 40), partition(0, "1.10", 3))
    get = registry.get_sample_value
    assert get("smsc_cost_total", {**COST, PARTITION: "0"}) == 1.1
    assert get("smsc_cost_total", {**COST, PARTITION: "3"}) == 2.2
    assert get("smsc_messages_final_total", {**FINAL, PARTITION: "0"}) == 1
    assert get("smsc_messages_final_total", {**FINAL, PARTITION: "3"}) == 1
    assert get("smsc_messages_final_total", FINAL) is None  # never summed over partitions
    zero, three = {**ACME_SMS, PARTITION: "0"}, {**ACME_SMS, PARTITION: "3"}
    assert get("smsc_delivery_latency_seconds_count", zero) == 1
    assert get("smsc_delivery_latency_seconds_bucket", {**zero, "le": "5.0"}) == 1
    assert get("smsc_delivery_latency_seconds_bucket", {**three, "le": "5.0"}) == 0
    assert get("smsc_delivery_latency_seconds_bucket", {**three, "le": "+Inf"}) == 1
    assert get("smsc_delivery_latency_seconds_sum", three) == 40
    assert get("smsc_messages_in_flight", three) == 1
    assert get("smsc_cohort_messages", {**zero, "window": "1h"}) == 1
    assert get("smsc_cohort_messages", {**zero, "window": "24h"}) == 2
    assert get("smsc_cohort_delivered", {**three, "window": "1h"}) == 1
    # The code table is the same for every partition and every worker: exposed once, without a partition.
    info = {"err": "240", "description": "busy (voice call)", "category": "voice"}
    assert get("smsc_error_code_info", info) == 1


def test_every_sample_carries_the_labels_the_contract_exposes() -> None:
    text = generate_latest(scrape(partition(1, "1.00", 2), partition(2, "2.00", 4))).decode()
    specs = {
        spec.name.removesuffix("_total") if spec.type is MetricType.COUNTER else spec.name: spec
        for spec in METRICS
    }
    seen = 0
    for family in text_string_to_metric_families(text):
        spec = specs[family.name]
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            names = [name for name in sample.labels if name != "le"]
            assert sorted(names) == sorted(spec.exposed_labels), sample
            assert (PARTITION in names) is (spec.name != "smsc_error_code_info")
            seen += 1
    assert seen > 20


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every counter and histogram sample of a scrape, read now."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        if family.type in ("counter", "histogram")
        for sample in family.samples
    }


def test_a_partition_that_moves_takes_its_series_along_and_no_series_goes_down() -> None:
    """The operator's case: a second worker takes partition 1. Before, worker A's summed series fell from
    the sum of both partitions to partition 0 alone, which Prometheus reads as a counter reset."""
    zero, one = partition(0, "1.00", 2), partition(1, "2.00", 4)
    before = samples(scrape(zero, one))
    zero.inc("smsc_messages_final_total", tuple(FINAL.values()))
    one.observe("smsc_delivery_latency_seconds", ("acme", "sms"), 7)
    worker_a, worker_b = samples(scrape(zero)), samples(scrape(one))
    assert worker_a.keys() | worker_b.keys() == before.keys()
    assert not worker_a.keys() & worker_b.keys()
    for after in (worker_a, worker_b):
        assert all(value >= before[key] for key, value in after.items())
    final = ("smsc_messages_final_total", tuple(sorted({**FINAL, PARTITION: "0"}.items())))
    assert (before[final], worker_a[final]) == (1, 2)
    latency = ("smsc_delivery_latency_seconds_count", tuple(sorted({**ACME_SMS, PARTITION: "1"}.items())))
    assert (before[latency], worker_b[latency]) == (1, 2)


def test_owning_nothing_exposes_every_family_and_no_samples() -> None:
    text = generate_latest(scrape()).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for spec in METRICS:
        assert spec.name.removesuffix("_total") in families
    assert families["smsc_cost"].samples == []
