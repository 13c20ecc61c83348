"""The progress gauges: per owned raw partition, the next offset, the end offset and their difference."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.progress import PartitionProgress, ProgressCollector


def scrape(*rows: PartitionProgress) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(ProgressCollector(lambda: rows))
    return registry


def test_lag_is_end_minus_next_offset_per_partition() -> None:
    registry = scrape(
        PartitionProgress("smsc.callbacks.raw", 0, next_offset=120, end_offset=200),
        PartitionProgress("smsc.callbacks.raw", 3, next_offset=55, end_offset=55),
    )
    first = {"topic": "smsc.callbacks.raw", "partition": "0"}
    other = {"topic": "smsc.callbacks.raw", "partition": "3"}
    assert registry.get_sample_value("smsc_stream_consumer_lag_records", first) == 80
    assert registry.get_sample_value("smsc_stream_consumer_lag_records", other) == 0
    assert registry.get_sample_value("smsc_stream_consumer_offset", first) == 120
    assert registry.get_sample_value("smsc_stream_end_offset", first) == 200


def test_a_stale_end_offset_never_gives_a_negative_lag() -> None:
    registry = scrape(PartitionProgress("raw", 1, next_offset=10, end_offset=7))
    assert (
        registry.get_sample_value("smsc_stream_consumer_lag_records", {"topic": "raw", "partition": "1"}) == 0
    )


def test_owning_nothing_exposes_no_samples() -> None:
    families = list(scrape().collect())
    assert [family.name for family in families] == [
        "smsc_stream_consumer_lag_records",
        "smsc_stream_consumer_offset",
        "smsc_stream_end_offset",
    ]
    assert all(family.samples == [] for family in families)
