"""Bounded label values: a metric label never takes more values than configured, the rest are `other`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

OTHER: Final = "other"


class BoundedLabel:
    """The configured values plus the first `max_seen` others met, in order; every later newcomer is `other`.

    Deterministic for a given input order, so a replay of a partition gives the same labels.
    """

    __slots__ = ("_allowed", "_configured", "max_seen")

    def __init__(self, configured: Iterable[str] = (), *, max_seen: int = 50) -> None:
        self._configured = frozenset(configured)
        self._allowed: set[str] = set(self._configured)
        self.max_seen = max_seen

    def __call__(self, value: str | None, *, missing: str = "none") -> str:
        if not value:
            return missing
        if value in self._allowed:
            return value
        if len(self._allowed) - len(self._configured) < self.max_seen:
            self._allowed.add(value)
            return value
        return OTHER

    def seen(self) -> list[str]:
        return sorted(self._allowed - self._configured)

    def restore(self, seen: Iterable[str]) -> None:
        self._allowed = set(self._configured) | set(seen)
