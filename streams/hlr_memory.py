"""The network HLR answers gave for recipient numbers, held by each worker: bounded, expiring, compact.

A number's range says which carrier it was issued to; an HLR answer says which network it is on now
(ported numbers). A worker remembers every final HLR answer with a network for `retention_ns` and uses it
as the carrier of that number's later messages. Millions of numbers are normal, so the layout is for
memory (~20 B a number, see benchmarks/destinations_state.py) and needs nothing but the standard library:

  - numbers are 64-bit digests (`phone_digest`), carriers small ids into a table of names;
  - the newest answers sit in a dict, up to `generation_numbers` of them; then that dict is frozen into
    a generation: its digests sorted in an `array('Q')`, beside them the carrier ids (`array('H')`) and
    answer times (`array('q')`), and a fence of where each leading-bits slot starts, so a look-up is two
    array reads and a `bisect` over a handful of digests;
  - generations are merged like a binary counter (two of about the same size become one), up to an
    eighth of `max_numbers` or 262,144 numbers (a merge pauses the worker: ~0.5 s at most), so a look-up
    visits few of them;
  - a filter (two bits of a bit table a number, like a Bloom filter) answers most numbers never
    remembered, the common look-up, without visiting any generation;
  - a number answered again is overwritten where it is newest and its older copy is marked dead (one live
    copy per number, whatever is dropped later); an answer older than the one held is ignored;
  - `expire` frees whole generations whose answers all expired; an expired answer in a generation that
    still holds newer ones is no longer answered at once, and is freed when that generation is merged;
  - above `max_numbers`, the oldest generation is dropped (oldest dropped first, at most an eighth).

Everything is deterministic for a given sequence of calls: no wall clock, no randomness.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from array import array
from bisect import bisect_left
from typing import Final

DEFAULT_MAX_NUMBERS: Final = 5_000_000
DEFAULT_GENERATION_NUMBERS: Final = 1 << 16

#: Later than any answer: `carrier_of` without a time limit.
_NEVER: Final = 1 << 126
#: The largest merged generation (see `_merge_tail`).
_MERGED_NUMBERS: Final = 1 << 18
DIGEST_LIMIT: Final = 1 << 64
_CARRIER_BITS: Final = 16
_CARRIER_MASK: Final = (1 << _CARRIER_BITS) - 1
# Carrier id of an overwritten (dead) copy; the other ids index the table of names.
_DEAD: Final = _CARRIER_MASK
_MAX_CARRIERS: Final = _DEAD
_MAX_TIME_NS: Final = (1 << 63) - 1
_LONG_AGO: Final = -(1 << 63)
# Fence slots per generation: about 4-8 digests a slot, at most 2**20 slots (4 MiB).
_DIGESTS_PER_SLOT_BITS: Final = 3
_MAX_FENCE_BITS: Final = 20
# A filter of 2 bits a number over a table of 8-16 bits a number (rebuilt, twice the size it needs then,
# when full): 3-5 % of the numbers not held pass it and are searched for.
_FILTER_BITS_PER_NUMBER: Final = 8
_MIN_FILTER_BITS: Final = 1 << 12
# Generations are merged a slice of leading digest bits at a time, a slice about this many entries.
_MERGE_SLICE_NUMBERS: Final = 1 << 12


def _filter_bits(numbers: int) -> int:
    """Filter bits for `numbers` numbers and as many more: a power of two, at least `_MIN_FILTER_BITS`."""
    size = _MIN_FILTER_BITS
    while size < 2 * numbers * _FILTER_BITS_PER_NUMBER:
        size *= 2
    return size


def phone_digest(phone: str) -> int:
    """64-bit BLAKE2b of the number's digits: the key a worker remembers (and shares) it by."""
    digits = phone if phone.isascii() and phone.isdigit() else "".join(c for c in phone if "0" <= c <= "9")
    return int.from_bytes(hashlib.blake2b(digits.encode("ascii"), digest_size=8).digest(), "big")


class _Generation:
    """Frozen answers: digests sorted, with their carrier ids and answer times at the same index."""

    __slots__ = ("carriers", "digests", "fence", "live", "newest_ns", "oldest_ns", "shift", "times")

    def __init__(self, digests: array[int], carriers: array[int], times: array[int]) -> None:
        self.digests = digests
        self.carriers = carriers
        self.times = times
        self.live = len(digests)  # entries not overwritten by a newer answer since
        self.newest_ns = max(times, default=_LONG_AGO)
        self.oldest_ns = min(times, default=_LONG_AGO)
        bits = min(max(len(digests).bit_length() - _DIGESTS_PER_SLOT_BITS, 0), _MAX_FENCE_BITS)
        self.shift = 64 - bits
        # fence[s] is the index of the first digest of slot s (its leading `bits` bits), fence[-1] the end.
        slot_starts = range(0, (1 << 64) + 1, 1 << self.shift)
        self.fence = array("I", map(functools.partial(bisect_left, digests), slot_starts))

    def __len__(self) -> int:
        return len(self.digests)

    def index(self, digest: int) -> int:
        """Where `digest` is, or -1."""
        slot = digest >> self.shift
        start, end = self.fence[slot], self.fence[slot + 1]
        if start == end:
            return -1
        at = bisect_left(self.digests, digest, start, end)
        return at if at < end and self.digests[at] == digest else -1

    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.digests, self.carriers, self.times, self.fence))


class HlrMemory:
    """Number digest -> carrier of its newest HLR answer, for `retention_ns` after that answer."""

    __slots__ = (
        "_carrier_ids",
        "_carriers",
        "_count",
        "_cutoff_ns",
        "_filter",
        "_filter_mask",
        "_filter_room",
        "_generations",
        "_newest",
        "_newest_ns",
        "generation_numbers",
        "max_numbers",
        "retention_ns",
    )

    def __init__(
        self,
        retention_ns: int,
        max_numbers: int = DEFAULT_MAX_NUMBERS,
        *,
        generation_numbers: int = DEFAULT_GENERATION_NUMBERS,
    ) -> None:
        if retention_ns <= 0 or max_numbers <= 0 or generation_numbers <= 0:
            raise ValueError("retention_ns, max_numbers and generation_numbers must be positive")
        self.retention_ns = retention_ns
        self.max_numbers = max_numbers
        # A generation never holds more than an eighth of the bound: that is what dropping one loses.
        self.generation_numbers = max(1, min(generation_numbers, max_numbers // 8))
        self._carriers: list[str] = []
        self._carrier_ids: dict[str, int] = {}
        # digest -> time_ns << 16 | carrier id: one int a number, no tuple.
        self._newest: dict[int, int] = {}
        self._newest_ns = _LONG_AGO
        self._generations: list[_Generation] = []  # oldest first
        self._count = 0
        self._cutoff_ns = _LONG_AGO  # answers at or before this are expired
        # Sized for the bound from the start: growing it means re-adding every number held, ~1 µs each in
        # Python, a multi-second stall of the worker at millions of numbers (its load at start included).
        size = _filter_bits(max_numbers)
        self._filter = bytearray(size // 8)
        self._filter_mask = size - 1
        self._filter_room = size // _FILTER_BITS_PER_NUMBER

    def __len__(self) -> int:
        """Numbers held: one each, including expired answers not freed yet (see `expire`)."""
        return self._count

    def carrier_of(self, phone_digest: int, answered_by_ns: int | None = None) -> str | None:
        """The carrier of the number's newest HLR answer if it has not expired (and, with `answered_by_ns`,
        if it was answered at or before then), else None."""
        latest = _NEVER if answered_by_ns is None else answered_by_ns
        packed = self._newest.get(phone_digest)
        if packed is not None:
            answered = packed >> _CARRIER_BITS
            if answered <= self._cutoff_ns or answered > latest:
                return None
            return self._carriers[packed & _CARRIER_MASK]
        bits, mask = self._filter, self._filter_mask  # _may_hold, inlined
        low, high = phone_digest & mask, (phone_digest >> 32) & mask
        if not (bits[low >> 3] >> (low & 7) & bits[high >> 3] >> (high & 7) & 1):
            return None  # never remembered (or dropped since): the common case, without a search
        for generation in reversed(self._generations):  # Generation.index, inlined: the hot path
            fence = generation.fence
            slot = phone_digest >> generation.shift
            start, end = fence[slot], fence[slot + 1]
            if start == end:
                continue
            digests = generation.digests
            at = bisect_left(digests, phone_digest, start, end)
            if at < end and digests[at] == phone_digest:
                carrier = generation.carriers[at]
                # The newest copy is met first, so a dead one means the live copy was dropped.
                answered = generation.times[at]
                if carrier == _DEAD or answered <= self._cutoff_ns or answered > latest:
                    return None
                return self._carriers[carrier]
        return None

    def remember(self, phone_digest: int, carrier: str, answered_at_ns: int) -> None:
        """Hold `carrier` as the number's network, unless a newer answer is held or this one expired."""
        if not 0 <= phone_digest < DIGEST_LIMIT:
            raise ValueError(f"{phone_digest} is not a 64-bit digest")
        answered_at_ns = min(answered_at_ns, _MAX_TIME_NS)
        if answered_at_ns <= self._cutoff_ns:
            return
        carrier_id = self._carrier_id(carrier)
        if carrier_id is None:
            return
        held = self._newest.get(phone_digest)
        if held is not None:
            if held >> _CARRIER_BITS > answered_at_ns:
                return
        elif self._may_hold(phone_digest):
            for generation in reversed(self._generations):
                at = generation.index(phone_digest)
                if at < 0:
                    continue
                if generation.carriers[at] != _DEAD:
                    if generation.times[at] > answered_at_ns:
                        return
                    generation.carriers[at] = _DEAD
                    generation.live -= 1
                    self._count -= 1
                break
        if held is None:
            self._count += 1
        self._newest[phone_digest] = answered_at_ns << _CARRIER_BITS | carrier_id
        self._newest_ns = max(self._newest_ns, answered_at_ns)
        if held is None:
            self._filter_room -= 1
            if self._filter_room < 0:
                self._rebuild_filter()
            else:
                self._filter_add(phone_digest)
        if len(self._newest) >= self.generation_numbers:
            self._freeze_newest()
        while self._count > self.max_numbers:
            if not self._generations:
                self._freeze_newest()
            self._drop(0)

    def expire(self, now_ns: int) -> int:
        """Forget answers `retention_ns` old by `now_ns`; returns how many numbers were freed."""
        cutoff = now_ns - self.retention_ns
        if cutoff <= self._cutoff_ns:
            return 0
        self._cutoff_ns = cutoff
        before = self._count
        for index in reversed(range(len(self._generations))):
            if self._generations[index].newest_ns <= cutoff:
                self._drop(index)
        if self._newest and self._newest_ns <= cutoff:
            self._count -= len(self._newest)
            self._newest.clear()
            self._newest_ns = _LONG_AGO
        return before - self._count

    def generations(self) -> list[int]:
        """Entries (live or dead) of each frozen generation, oldest first, then of the newest dict."""
        return [len(generation) for generation in self._generations] + [len(self._newest)]

    def memory_bytes(self) -> int:
        """An estimate of what the memory holds: arrays exactly, the newest dict and names approximately."""
        newest = sys.getsizeof(self._newest) + len(self._newest) * 2 * sys.getsizeof(_MAX_TIME_NS)
        names = sum(sys.getsizeof(name) for name in self._carriers) + sys.getsizeof(self._carrier_ids)
        generations = sum(generation.nbytes() for generation in self._generations)
        return newest + names + len(self._filter) + generations

    def _carrier_id(self, carrier: str) -> int | None:
        carrier_id = self._carrier_ids.get(carrier)
        if carrier_id is not None:
            return carrier_id
        if len(self._carriers) >= _MAX_CARRIERS:
            self._renumber_carriers()
            if len(self._carriers) >= _MAX_CARRIERS:
                return None  # 65,535 distinct networks held at once: no room for one more
        carrier_id = len(self._carriers)
        self._carriers.append(carrier)
        self._carrier_ids[carrier] = carrier_id
        return carrier_id

    def _renumber_carriers(self) -> None:
        """Keep only the names still held, renumbered in their old order."""
        used = {packed & _CARRIER_MASK for packed in self._newest.values()}
        for generation in self._generations:
            used.update(generation.carriers)
        used.discard(_DEAD)
        kept = sorted(used)
        renumbered = list(range(_CARRIER_MASK + 1))
        for new_id, old_id in enumerate(kept):
            renumbered[old_id] = new_id
        self._carriers = [self._carriers[old_id] for old_id in kept]
        self._carrier_ids = {name: carrier_id for carrier_id, name in enumerate(self._carriers)}
        self._newest = {
            digest: (packed >> _CARRIER_BITS) << _CARRIER_BITS | renumbered[packed & _CARRIER_MASK]
            for digest, packed in self._newest.items()
        }
        for generation in self._generations:
            generation.carriers = array("H", map(renumbered.__getitem__, generation.carriers))

    def _freeze_newest(self) -> None:
        if not self._newest:
            return
        digests = sorted(self._newest)
        packed = list(map(self._newest.__getitem__, digests))
        self._generations.append(
            _Generation(
                array("Q", digests),
                array("H", [value & _CARRIER_MASK for value in packed]),
                array("q", [value >> _CARRIER_BITS for value in packed]),
            )
        )
        self._newest = {}
        self._newest_ns = _LONG_AGO
        self._merge_tail()

    def _merge_tail(self) -> None:
        """Merge the two newest generations while the older is no bigger and the result within bounds."""
        # Also at most `_MERGED_NUMBERS`: a merge runs on the worker's event loop, ~2 µs an entry, and one
        # of an eighth of 5 million stalled it 1.3-1.9 s; more, smaller generations cost a held number's
        # look-up a few bisects more (the filter answers the rest before any).
        cap = max(self.generation_numbers, min(self.max_numbers // 8, _MERGED_NUMBERS))
        generations = self._generations
        while len(generations) >= 2:
            older, newer = generations[-2], generations[-1]
            if older.live > newer.live or older.live + newer.live > cap:
                return
            generations[-2:] = [self._merged(older, newer)]

    def _merged(self, older: _Generation, newer: _Generation) -> _Generation:
        """One generation of the live, unexpired entries of two (a number is live in at most one).

        Merged a slice of leading digest bits at a time, so that the index lists sorting needs stay small.
        """
        digests, carriers, times = array("Q"), array("H"), array("q")
        cutoff, older_start, newer_start = self._cutoff_ns, 0, 0
        pruning = (
            older.live < len(older)
            or newer.live < len(newer)
            or min(older.oldest_ns, newer.oldest_ns) <= cutoff
        )
        slice_bits = ((len(older) + len(newer)) // _MERGE_SLICE_NUMBERS).bit_length()
        for piece in range(1, (1 << slice_bits) + 1):
            bound = piece << (64 - slice_bits)
            older_end = bisect_left(older.digests, bound, older_start)
            newer_end = bisect_left(newer.digests, bound, newer_start)
            part_digests = older.digests[older_start:older_end] + newer.digests[newer_start:newer_end]
            part_carriers = older.carriers[older_start:older_end] + newer.carriers[newer_start:newer_end]
            part_times = older.times[older_start:older_end] + newer.times[newer_start:newer_end]
            if pruning:
                kept = [
                    at
                    for at, (carrier, time) in enumerate(zip(part_carriers, part_times, strict=True))
                    if carrier != _DEAD and time > cutoff
                ]
            else:
                kept = list(range(len(part_digests)))
            kept.sort(key=part_digests.__getitem__)  # two sorted runs: one merge pass
            digests.extend(map(part_digests.__getitem__, kept))
            carriers.extend(map(part_carriers.__getitem__, kept))
            times.extend(map(part_times.__getitem__, kept))
            older_start, newer_start = older_end, newer_end
        self._count -= older.live + newer.live - len(digests)
        return _Generation(digests, carriers, times)

    def _may_hold(self, digest: int) -> bool:
        """False if the number is surely not held (live); true for every number held and a few others."""
        bits, mask = self._filter, self._filter_mask
        low, high = digest & mask, (digest >> 32) & mask
        return bool(bits[low >> 3] >> (low & 7) & bits[high >> 3] >> (high & 7) & 1)

    def _filter_add(self, digest: int) -> None:
        bits, mask = self._filter, self._filter_mask
        low, high = digest & mask, (digest >> 32) & mask
        bits[low >> 3] |= 1 << (low & 7)
        bits[high >> 3] |= 1 << (high & 7)

    def _rebuild_filter(self) -> None:
        """A filter of the numbers held, with room for as many more (dropped numbers leave it). Only once
        as many numbers were added as the filter was sized for: at the bound, after ~2 million answers
        per million it holds, a stall of ~1 µs per number held."""
        size = max(_filter_bits(self._count), len(self._filter) * 8)
        self._filter = bytearray(size // 8)
        self._filter_mask = size - 1
        self._filter_room = size // _FILTER_BITS_PER_NUMBER - self._count
        for digest in self._newest:
            self._filter_add(digest)
        for generation in self._generations:
            for digest, carrier in zip(generation.digests, generation.carriers, strict=True):
                if carrier != _DEAD:
                    self._filter_add(digest)

    def _drop(self, index: int) -> None:
        self._count -= self._generations.pop(index).live
