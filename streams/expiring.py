"""A set whose members expire a fixed time after they were added, on the partition's own clock.

The clock is the highest receive time seen in the partition, not the wall clock: replaying the same
records gives the same state, which is what makes the numbers exact after a crash.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator


class ExpiringSet:
    __slots__ = ("_expiry", "_members", "ttl_ns")

    def __init__(self, ttl_ns: int) -> None:
        self.ttl_ns = ttl_ns
        self._members: dict[str, int] = {}
        # (expires_at, member): appended in clock order, so the oldest is always on the left.
        self._expiry: deque[tuple[int, str]] = deque()

    def __contains__(self, member: str) -> bool:
        return member in self._members

    def __len__(self) -> int:
        return len(self._members)

    def add(self, member: str, now_ns: int) -> None:
        expires_at = now_ns + self.ttl_ns
        self._members[member] = expires_at
        self._expiry.append((expires_at, member))

    def expire(self, now_ns: int) -> list[str]:
        """Drop what expired by `now_ns`; returns the members dropped."""
        dropped = []
        while self._expiry and self._expiry[0][0] <= now_ns:
            expires_at, member = self._expiry.popleft()
            if self._members.get(member) == expires_at:  # not re-added since
                del self._members[member]
                dropped.append(member)
        return dropped

    def items(self) -> Iterator[tuple[str, int]]:
        return iter(self._members.items())

    def restore(self, items: list[tuple[str, int]]) -> None:
        self._members = dict(items)
        self._expiry = deque(sorted((expires_at, member) for member, expires_at in items))
