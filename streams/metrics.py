"""Exposing the aggregates of the partitions a worker owns as Prometheus metrics, one series per partition.

Each series carries the source partition it was computed from (`partition` label) and is never summed
over partitions here. So a series belongs to exactly one partition and only ever grows with it: after a
rebalance the partitions a worker gave away end their series on it, and the new owner starts series of
its own for them. A sum per worker would go down when a partition leaves, and Prometheus reads any
decrease of a counter as a reset (`rate()` and `increase()` then count the whole remaining value again).
Queries sum the label away: `sum without (instance, partition)` (dashboards/prometheus/rules.yml).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from smsc.codes import ERROR_CODES
from streams.aggregates import Aggregates, Histogram, Number
from streams.contract import BY_NAME, METRICS, SKIPPED_ANSWERS, MetricSpec, MetricType

#: Exposed label values of one series, the partition last; its value.
_Row = tuple[list[str], Number]


class AggregatesCollector(Collector):
    """Reads `owned()` (the aggregates of the owned partitions) on every scrape; keeps no state of its own.

    `hlr_numbers_remembered()`, when given, is the size of the worker's HLR memory: a gauge of the worker,
    shared by its partitions, so without a `partition` label.
    """

    def __init__(
        self,
        owned: Callable[[], Iterable[Aggregates]],
        clock: Callable[[], float] = time.time,
        *,
        hlr_numbers_remembered: Callable[[], int] | None = None,
    ) -> None:
        self._owned = owned
        self._clock = clock
        self._hlr_numbers_remembered = hlr_numbers_remembered

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on what is owned; describing none keeps registration cheap

    def collect(self) -> Iterator[Metric]:
        values: dict[str, list[_Row]] = defaultdict(list)
        histograms: dict[str, list[tuple[list[str], Histogram]]] = defaultdict(list)
        now = self._clock()
        for aggregates in sorted(self._owned(), key=lambda owned: owned.partition):
            partition = str(aggregates.partition)
            for (name, labels), value in aggregates.counters.items():
                values[name].append(([*labels, partition], value))
            for (name, labels), histogram in aggregates.histograms.items():
                histograms[name].append(([*labels, partition], histogram))
            for (labels, window), (messages, delivered) in sorted(aggregates.cohort_gauges(now).items()):
                values["smsc_cohort_messages"].append(([*labels, window, partition], messages))
                values["smsc_cohort_delivered"].append(([*labels, window, partition], delivered))
        if self._hlr_numbers_remembered is not None:
            values["smsc_hlr_numbers_remembered"].append(([], self._hlr_numbers_remembered()))
        for spec in METRICS:
            if spec.name == "smsc_error_code_info":
                yield _error_codes()
            elif spec.type is MetricType.HISTOGRAM:
                yield _histogram(spec, histograms[spec.name])
            else:
                yield _counter_or_gauge(spec, values[spec.name])


def _counter_or_gauge(spec: MetricSpec, rows: list[_Row]) -> Metric:
    family: CounterMetricFamily | GaugeMetricFamily
    if spec.type is MetricType.COUNTER:
        family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.exposed_labels)
    else:
        family = GaugeMetricFamily(spec.name, spec.help, labels=spec.exposed_labels)
    for labels, value in rows:
        family.add_metric(labels, float(value))
    return family


def _histogram(spec: MetricSpec, rows: list[tuple[list[str], Histogram]]) -> Metric:
    family = HistogramMetricFamily(spec.name, spec.help, labels=spec.exposed_labels)
    for labels, histogram in rows:
        cumulative, buckets = 0, []
        for bound, count in zip((*spec.buckets, float("inf")), histogram.buckets, strict=True):
            cumulative += count
            buckets.append((_bound(bound), float(cumulative)))
        family.add_metric(labels, buckets, float(histogram.total))
    return family


def _error_codes() -> Metric:
    """The code table, the same on every worker and for every partition: no `partition` label."""
    spec = BY_NAME["smsc_error_code_info"]
    family = GaugeMetricFamily(spec.name, spec.help, labels=spec.exposed_labels)
    for code, row in sorted(ERROR_CODES.items()):
        family.add_metric([str(code), row.description, row.category], 1.0)
    family.add_metric(["unknown", "an error code not in the table", "unknown"], 1.0)
    return family


class SkippedAnswersCollector(Collector):
    """The records of the HLR sharing topic this worker could not read, by reason (`skipped()`)."""

    def __init__(self, skipped: Callable[[], Mapping[str, int]]) -> None:
        self._skipped = skipped

    def describe(self) -> Iterator[Metric]:
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        spec = SKIPPED_ANSWERS
        family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.exposed_labels)
        for reason, count in sorted(self._skipped().items()):
            family.add_metric([reason], float(count))
        yield family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))
