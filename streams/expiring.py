"""A set whose members expire a fixed time after they were added, on the partition's own clock.

The clock is the highest receive time seen in the partition, not the wall clock: replaying the same
records gives the same state, which is what makes the numbers exact after a crash.

Layout, for memory (a million members is normal): the members in a plain set, and their expiry times in
insertion order in two flat queues (an `array` of int64 and a list), consumed from a head index. The
clock never goes back, so insertion order is expiry order and the oldest is always at the head. No
per-member tuple or boxed expiry time: ~90 B per member instead of ~200 B.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

M = TypeVar("M", bound=Hashable)

# Below this many consumed slots the queues are not compacted: slicing a short prefix is cheap enough,
# and compacting at most when half is consumed keeps appends and pops amortised O(1).
_COMPACT_MIN = 4096


class ExpiringSet(Generic[M]):
    __slots__ = ("_head", "_members", "_order", "_readded", "_times", "ttl_ns")

    def __init__(self, ttl_ns: int) -> None:
        self.ttl_ns = ttl_ns
        self._members: set[M] = set()
        self._times = array("q")  # expiry time of each queue slot
        self._order: list[M] = []  # member of each queue slot
        self._head = 0
        # Members added again while still present: how many of their queue slots are still ahead. Only
        # the last slot ends the membership (the previous expiry is extended), as a re-add always did.
        self._readded: dict[M, int] = {}

    def __contains__(self, member: object) -> bool:
        return member in self._members

    def __len__(self) -> int:
        return len(self._members)

    def add(self, member: M, now_ns: int) -> None:
        if member in self._members:
            self._readded[member] = self._readded.get(member, 1) + 1
        else:
            self._members.add(member)
        self._times.append(now_ns + self.ttl_ns)
        self._order.append(member)

    def expire(self, now_ns: int) -> list[M]:
        """Drop what expired by `now_ns`; returns the members dropped."""
        times, head = self._times, self._head
        if head >= len(times) or times[head] > now_ns:
            return []
        dropped: list[M] = []
        order, readded, end = self._order, self._readded, len(times)
        while head < end and times[head] <= now_ns:
            member = order[head]
            head += 1
            pending = readded.get(member)
            if pending is not None:  # a later slot of the same member is still ahead
                if pending > 2:
                    readded[member] = pending - 1
                else:
                    del readded[member]
                continue
            self._members.discard(member)
            dropped.append(member)
        self._head = head
        if head >= _COMPACT_MIN and head * 2 >= end:
            del times[:head]
            del order[:head]
            self._head = 0
        return dropped

    def items(self) -> Iterator[tuple[M, int]]:
        """(member, expires_at) of each member, oldest first; a re-added member once, with its last expiry."""
        times, order, readded = self._times, self._order, self._readded
        if not readded:
            for index in range(self._head, len(times)):
                yield order[index], times[index]
            return
        remaining = dict(readded)
        for index in range(self._head, len(times)):
            member = order[index]
            left = remaining.get(member)
            if left is not None and left > 1:
                remaining[member] = left - 1
                continue
            yield member, times[index]

    def columns(self) -> tuple[list[M], list[int]]:
        """`items()` as two lists (members, expiry times): slices of the queues unless one was re-added."""
        if self._readded:
            items = list(self.items())
            return [member for member, _ in items], [expires_at for _, expires_at in items]
        return self._order[self._head :], self._times[self._head :].tolist()

    def restore(self, items: list[tuple[M, int]]) -> None:
        ordered = sorted(items, key=lambda item: item[1])
        self._members = {member for member, _ in ordered}
        self._times = array("q", (expires_at for _, expires_at in ordered))
        self._order = [member for member, _ in ordered]
        self._head = 0
        self._readded = {}
