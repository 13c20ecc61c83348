"""Seeded random draws the workload is made of: weighted choices, bounded delays, forked generators."""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from typing import TypeVar

T = TypeVar("T")


def weighted(rng: Random, table: Sequence[tuple[T, float]]) -> T:
    """One value of `(value, weight)` pairs, in proportion to the weights."""
    values = [value for value, _ in table]
    weights = [weight for _, weight in table]
    return rng.choices(values, weights)[0]


def delay(rng: Random, median_seconds: float, *, low: float, high: float, spread: float = 0.8) -> float:
    """A log-normal delay around `median_seconds` clipped to [low, high]: most short, a few long."""
    value = rng.lognormvariate(0.0, spread) * median_seconds
    return min(max(value, low), high)


def chance(rng: Random, probability: float) -> bool:
    """True with `probability`; consumes one draw whatever the probability, so streams stay aligned."""
    return rng.random() < probability


def forked(rng: Random) -> Random:
    """A generator for a varying number of draws that takes one draw of `rng`: whatever it is used for,
    the draws of `rng` that follow stay the same."""
    return Random(rng.getrandbits(64))  # noqa: S311 - a reproducible simulation, not secrets


def seeded(seed: int, stream: str) -> Random:
    """The generator of one named stream of draws: same seed and name, same draws, on any machine."""
    return Random(f"{seed}/{stream}")  # noqa: S311 - a reproducible simulation, not secrets
