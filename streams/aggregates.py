"""The aggregates of one partition: counters, histograms and send cohorts, exact and serialisable.

Money is summed as Decimal and exposed as float; everything else is an integer. One instance per
source partition, which it names: a worker exposes each owned partition's aggregates as series of their own
(`partition` label), never a sum over partitions.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.contract import BY_NAME, COHORT_WINDOWS

Labels = tuple[str, ...]
Number = int | Decimal

_COHORT_BUCKET_SECONDS = 60
_COHORT_KEEP_SECONDS = max(COHORT_WINDOWS.values()) + _COHORT_BUCKET_SECONDS


@dataclass(slots=True)
class Histogram:
    buckets: list[int]  # per bucket, not cumulative; the last one is +Inf
    total: Number = 0
    count: int = 0


@dataclass(slots=True)
class Aggregates:
    #: The source (raw topic) partition these are the aggregates of: the `partition` label of their series.
    partition: int
    counters: dict[tuple[str, Labels], Number] = field(default_factory=dict)
    histograms: dict[tuple[str, Labels], Histogram] = field(default_factory=dict)
    #: (account, type) -> minute of first status (epoch seconds) -> [messages, delivered]
    cohorts: dict[Labels, dict[int, list[int]]] = field(default_factory=lambda: defaultdict(dict))

    def inc(self, name: str, labels: Labels, amount: Number = 1) -> None:
        key = (name, labels)
        self.counters[key] = self.counters.get(key, 0) + amount

    def observe(self, name: str, labels: Labels, value: float) -> None:
        key = (name, labels)
        histogram = self.histograms.get(key)
        bounds = BY_NAME[name].buckets
        if histogram is None:
            histogram = self.histograms[key] = Histogram([0] * (len(bounds) + 1))
        histogram.buckets[bisect.bisect_left(bounds, value)] += 1
        histogram.total += Decimal(str(value)) if isinstance(value, float) else value
        histogram.count += 1

    def cohort_first_seen(self, labels: Labels, first_seen_s: int) -> None:
        bucket = self.cohorts[labels].setdefault(first_seen_s - first_seen_s % _COHORT_BUCKET_SECONDS, [0, 0])
        bucket[0] += 1

    def cohort_delivered(self, labels: Labels, first_seen_s: int) -> None:
        minute = first_seen_s - first_seen_s % _COHORT_BUCKET_SECONDS
        bucket = self.cohorts[labels].get(minute)
        if bucket is not None:  # a cohort older than the longest window is gone, and so is its count
            bucket[1] += 1

    def cohort_gauges(self, now_s: float) -> dict[tuple[Labels, str], tuple[int, int]]:
        """(account, type), window -> (messages, delivered) of messages first seen within the window."""
        result: dict[tuple[Labels, str], tuple[int, int]] = {}
        for labels, minutes in self.cohorts.items():
            for window, seconds in COHORT_WINDOWS.items():
                messages = delivered = 0
                for minute, (count, done) in minutes.items():
                    if minute + _COHORT_BUCKET_SECONDS > now_s - seconds:
                        messages += count
                        delivered += done
                result[(labels, window)] = (messages, delivered)
        return result

    def prune_cohorts(self, now_s: float) -> None:
        for minutes in self.cohorts.values():
            for minute in [m for m in minutes if m < now_s - _COHORT_KEEP_SECONDS]:
                del minutes[minute]

    def to_json(self) -> dict[str, Any]:
        return {
            "counters": [
                [name, list(labels), _num(value)] for (name, labels), value in self.counters.items()
            ],
            "histograms": [
                [name, list(labels), h.buckets, _num(h.total), h.count]
                for (name, labels), h in self.histograms.items()
            ],
            "cohorts": [
                [list(labels), [[minute, *counts] for minute, counts in minutes.items()]]
                for labels, minutes in self.cohorts.items()
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], partition: int) -> Aggregates:
        aggregates = cls(partition)
        for name, labels, value in data["counters"]:
            aggregates.counters[(name, tuple(labels))] = _parse_num(value)
        for name, labels, buckets, total, count in data["histograms"]:
            aggregates.histograms[(name, tuple(labels))] = Histogram(buckets, _parse_num(total), count)
        for labels, minutes in data["cohorts"]:
            aggregates.cohorts[tuple(labels)] = {minute: [count, done] for minute, count, done in minutes}
        return aggregates


def _num(value: Number) -> int | str:
    return str(value) if isinstance(value, Decimal) else value


def _parse_num(value: int | str) -> Number:
    return Decimal(value) if isinstance(value, str) else value
