"""How far behind a worker is on the raw partitions it owns, as Prometheus gauges read at scrape time.

Only owned partitions are exposed, like the aggregates: after a rebalance the series move to the new owner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.contract import PROGRESS


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    topic: str
    partition: int
    next_offset: int  # the first raw offset not yet processed
    end_offset: int  # the high watermark of the last fetch


class ProgressCollector(Collector):
    def __init__(self, progress: Callable[[], Iterable[PartitionProgress]]) -> None:
        self._progress = progress

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        rows = sorted(self._progress(), key=lambda row: (row.topic, row.partition))
        families = {
            spec.name: GaugeMetricFamily(spec.name, spec.help, labels=spec.labels) for spec in PROGRESS
        }
        for row in rows:
            labels = [row.topic, str(row.partition)]
            # A worker can be ahead of a stale high watermark for a moment: lag is never negative.
            families["smsc_stream_consumer_lag_records"].add_metric(
                labels, float(max(row.end_offset - row.next_offset, 0))
            )
            families["smsc_stream_consumer_offset"].add_metric(labels, float(row.next_offset))
            families["smsc_stream_end_offset"].add_metric(labels, float(row.end_offset))
        yield from families.values()
