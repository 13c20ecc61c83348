"""The collector exposes the sum of the owned partitions in the Prometheus text format, by contract."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.aggregates import Aggregates
from streams.contract import METRICS
from streams.metrics import AggregatesCollector

NOW = 1_795_523_405


def partition(cost: str, latency: float) -> Aggregates:
    aggregates = Aggregates()
    aggregates.inc("smsc_cost_total", ("acme", "sms", "SHOP", "main", "none"), Decimal(cost))
    aggregates.inc("smsc_messages_final_total", ("acme", "sms", "SHOP", "delivered"))
    aggregates.observe("smsc_delivery_latency_seconds", ("acme", "sms"), latency)
    aggregates.cohort_first_seen(("acme", "sms"), NOW - 120)
    aggregates.cohort_delivered(("acme", "sms"), NOW - 120)
    aggregates.cohort_first_seen(("acme", "sms"), NOW - 7200)
    return aggregates


def scrape(*owned: Aggregates) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(AggregatesCollector(lambda: owned, clock=lambda: NOW))
    return registry


def test_sums_over_owned_partitions() -> None:
    registry = scrape(partition("1.10", 3), partition("2.20", 40))
    cost = {"account": "acme", "type": "sms", "sender": "SHOP", "balance": "main", "template_kind": "none"}
    assert registry.get_sample_value("smsc_cost_total", cost) == 3.3
    final = {"account": "acme", "type": "sms", "sender": "SHOP", "outcome": "delivered"}
    assert registry.get_sample_value("smsc_messages_final_total", final) == 2
    latency = {"account": "acme", "type": "sms"}
    assert registry.get_sample_value("smsc_delivery_latency_seconds_count", latency) == 2
    assert registry.get_sample_value("smsc_delivery_latency_seconds_bucket", {**latency, "le": "5.0"}) == 1
    assert registry.get_sample_value("smsc_delivery_latency_seconds_bucket", {**latency, "le": "+Inf"}) == 2
    assert registry.get_sample_value("smsc_delivery_latency_seconds_sum", latency) == 43
    assert registry.get_sample_value("smsc_cohort_messages", {**latency, "window": "1h"}) == 2
    assert registry.get_sample_value("smsc_cohort_messages", {**latency, "window": "24h"}) == 4
    assert registry.get_sample_value("smsc_cohort_delivered", {**latency, "window": "1h"}) == 2
    info = {"err": "240", "description": "busy (voice call)", "category": "voice"}
    assert registry.get_sample_value("smsc_error_code_info", info) == 1


def test_owning_nothing_exposes_every_family_and_no_samples() -> None:
    text = generate_latest(scrape()).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for spec in METRICS:
        assert spec.name.removesuffix("_total") in families
    assert families["smsc_cost"].samples == []
