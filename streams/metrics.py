"""Exposing the aggregates of the partitions a worker owns as Prometheus metrics, summed at scrape time.

A worker exposes exactly the partitions it currently owns: after a rebalance, what it gave away
disappears from its scrape and appears in the new owner's, so summing over workers is exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from smsc.codes import ERROR_CODES
from streams.aggregates import Aggregates, Histogram, Labels, Number
from streams.contract import BY_NAME, METRICS, MetricType


class AggregatesCollector(Collector):
    """Reads `owned()` (the aggregates of the owned partitions) on every scrape; keeps no state of its own."""

    def __init__(
        self, owned: Callable[[], Iterable[Aggregates]], clock: Callable[[], float] = time.time
    ) -> None:
        self._owned = owned
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on what is owned; describing none keeps registration cheap

    def collect(self) -> Iterator[Metric]:
        counters: dict[tuple[str, Labels], Number] = {}
        histograms: dict[tuple[str, Labels], Histogram] = {}
        cohorts: dict[tuple[Labels, str], list[int]] = {}
        now = self._clock()
        for aggregates in self._owned():
            for key, value in aggregates.counters.items():
                counters[key] = counters.get(key, 0) + value
            for key, histogram in aggregates.histograms.items():
                total = histograms.setdefault(key, Histogram([0] * len(histogram.buckets)))
                total.buckets = [a + b for a, b in zip(total.buckets, histogram.buckets, strict=True)]
                total.total += histogram.total
                total.count += histogram.count
            for cohort, (messages, delivered) in aggregates.cohort_gauges(now).items():
                pair = cohorts.setdefault(cohort, [0, 0])
                pair[0] += messages
                pair[1] += delivered
        yield from self._counters_and_gauges(counters)
        yield from self._histograms(histograms)
        yield from self._cohorts(cohorts)
        yield self._error_codes()

    def _counters_and_gauges(self, values: dict[tuple[str, Labels], Number]) -> Iterator[Metric]:
        for spec in METRICS:
            if spec.type is MetricType.HISTOGRAM or spec.name in _SPECIAL:
                continue
            family: CounterMetricFamily | GaugeMetricFamily
            if spec.type is MetricType.COUNTER:
                family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.labels)
            else:
                family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            for (name, labels), value in values.items():
                if name == spec.name:
                    family.add_metric(list(labels), float(value))
            yield family

    def _histograms(self, values: dict[tuple[str, Labels], Histogram]) -> Iterator[Metric]:
        for spec in METRICS:
            if spec.type is not MetricType.HISTOGRAM:
                continue
            family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
            for (name, labels), histogram in values.items():
                if name != spec.name:
                    continue
                cumulative, buckets = 0, []
                for bound, count in zip((*spec.buckets, float("inf")), histogram.buckets, strict=True):
                    cumulative += count
                    buckets.append((_bound(bound), float(cumulative)))
                family.add_metric(list(labels), buckets, float(histogram.total))
            yield family

    def _cohorts(self, values: dict[tuple[Labels, str], list[int]]) -> Iterator[Metric]:
        for name, index in (("smsc_cohort_messages", 0), ("smsc_cohort_delivered", 1)):
            spec = BY_NAME[name]
            family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            for (labels, window), pair in sorted(values.items()):
                family.add_metric([*labels, window], float(pair[index]))
            yield family

    def _error_codes(self) -> Metric:
        spec = BY_NAME["smsc_error_code_info"]
        family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
        for code, row in sorted(ERROR_CODES.items()):
            family.add_metric([str(code), row.description, row.category], 1.0)
        family.add_metric(["unknown", "an error code not in the table", "unknown"], 1.0)
        return family


_SPECIAL = frozenset({"smsc_cohort_messages", "smsc_cohort_delivered", "smsc_error_code_info"})


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))
