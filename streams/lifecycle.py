"""The life of one message (`id:phone`): first status, final outcome, engagement, what was counted once,
and its destination (computed once, at its first status).

A final outcome is never reopened and never counted twice; `cost` and `cnt` belong to the message and
are counted once, from the first status that carries them. An HLR look-up is counted once, when it
becomes final, whatever its outcome: a failed look-up is a look-up too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntFlag
from typing import Final

from smsc.codes import Outcome
from smsc.events import Destination


class Counted(IntFlag):
    NOTHING = 0
    DELIVERED = 1
    FAILED = 2
    EXPIRED = 4
    READ = 8
    CLICKED = 16
    COST = 32
    #: The HLR look-up was counted. Since it is counted with the final outcome, this only matters for the
    #: states of snapshots taken when it was counted with the first status carrying an answer.
    HLR = 64

    FINAL = DELIVERED | FAILED | EXPIRED


_FINAL_FLAG = {
    Outcome.DELIVERED: Counted.DELIVERED,
    Outcome.FAILED: Counted.FAILED,
    Outcome.EXPIRED: Counted.EXPIRED,
}
_ENGAGEMENT_FLAG = {Outcome.READ: Counted.READ, Outcome.CLICKED: Counted.CLICKED}


@dataclass(slots=True)
class MessageState:
    first_seen_s: int
    type: int
    counted: Counted = Counted.NOTHING
    cost: Decimal | None = None
    #: Where the message went, fixed at its first status (smsc.events.Destination).
    destination: Destination | None = None

    @property
    def is_final(self) -> bool:
        return bool(self.counted & Counted.FINAL)

    @property
    def delivered(self) -> bool:
        return bool(self.counted & Counted.DELIVERED)


@dataclass(frozen=True, slots=True)
class Transition:
    """What one status changed in its message: each field is counted by the aggregates exactly once."""

    first_seen: bool = False
    final: Outcome | None = None
    engagement: Outcome | None = None
    count_cost: bool = False
    count_lookup: bool = False


def advance(state: MessageState, outcome: Outcome, *, has_cost: bool, is_lookup: bool) -> Transition:
    """Apply one (deduplicated) status to the message; returns what is to be counted now."""
    counted, final, engagement, count_cost, count_lookup = step(
        int(state.counted), outcome, has_cost, is_lookup
    )
    state.counted = Counted(counted)
    return Transition(final=final, engagement=engagement, count_cost=count_cost, count_lookup=count_lookup)


# Plain ints: `IntFlag` arithmetic builds an enum member per operation, which the hot path cannot afford.
_FINAL_BITS: Final = {outcome: int(flag) for outcome, flag in _FINAL_FLAG.items()}
_ENGAGEMENT_BITS: Final = {outcome: int(flag) for outcome, flag in _ENGAGEMENT_FLAG.items()}
_FINAL: Final = int(Counted.FINAL)
_DELIVERED: Final = int(Counted.DELIVERED)
_COST: Final = int(Counted.COST)
_HLR: Final = int(Counted.HLR)


def step(
    counted: int, outcome: Outcome, has_cost: bool, is_lookup: bool
) -> tuple[int, Outcome | None, Outcome | None, bool, bool]:
    """`advance` on the bare `Counted` bits: (new bits, final, engagement, count cost, count look-up).

    `is_lookup`: the status is of an HLR look-up (type 4), counted when it becomes final.
    """
    final: Outcome | None = None
    engagement: Outcome | None = None
    bit = _FINAL_BITS.get(outcome)
    if bit is not None:
        if not counted & _FINAL:
            final = outcome
            counted |= bit
    elif (bit := _ENGAGEMENT_BITS.get(outcome)) is not None:
        if not counted & bit:
            engagement = outcome
            counted |= bit
        if not counted & _FINAL:  # read or clicked without a delivered status: delivered, once
            final = Outcome.DELIVERED
            counted |= _DELIVERED
    count_cost = has_cost and not counted & _COST
    if count_cost:
        counted |= _COST
    count_lookup = is_lookup and final is not None and not counted & _HLR
    if count_lookup:
        counted |= _HLR
    return counted, final, engagement, count_cost, count_lookup


#: (first seen, epoch seconds; message type; `Counted` bits; the cost counted, if any; the destination)
Unpacked = tuple[int, int, int, Decimal | None, Destination | None]

_COUNTED_BITS: Final = 7
_TYPE_BITS: Final = 8
_COST_BITS: Final = 16
_DESTINATION_BITS: Final = 16
_TYPE_SHIFT: Final = _COUNTED_BITS
_COST_SHIFT: Final = _TYPE_SHIFT + _TYPE_BITS
_DESTINATION_SHIFT: Final = _COST_SHIFT + _COST_BITS
_FIRST_SEEN_SHIFT: Final = _DESTINATION_SHIFT + _DESTINATION_BITS
_COUNTED_MASK: Final = (1 << _COUNTED_BITS) - 1
_TYPE_MASK: Final = (1 << _TYPE_BITS) - 1
_COST_MASK: Final = (1 << _COST_BITS) - 1
_DESTINATION_MASK: Final = (1 << _DESTINATION_BITS) - 1


class MessageTable:
    """The in-flight messages of a partition, by key, each packed into one int.

    Memory decides the layout: a million in-flight messages is normal, and a `MessageState` object per
    message (~200 B with its boxed fields and a Decimal) is most of the state. Packed: first seen (any
    sign: Python's shifts are arithmetic) | destination id | cost id | type | counted bits, one ~36 B int
    (a first seen of today takes 31 bits: 78 bits in all, three 30-bit digits as before the destination).
    Costs and destinations are interned (a few distinct prices and destinations in practice): id 0 is "no
    cost" and "no destination". A message whose type does not fit 8 bits, or whose cost or destination
    arrives once 65,535 distinct ones are interned, is kept as a `MessageState`, so nothing is ever
    approximated. Interned costs are kept by their text, so `1.5` and `1.50` stay distinct (the sums keep
    the sender's digits).
    """

    __slots__ = ("_cost_ids", "_costs", "_destination_ids", "_destinations", "_states")

    def __init__(self) -> None:
        self._states: dict[str, int | MessageState] = {}
        self._costs: list[Decimal | None] = [None]
        self._cost_ids: dict[str, int] = {}
        self._destinations: list[Destination | None] = [None]
        self._destination_ids: dict[Destination, int] = {}

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, key: object) -> bool:
        return key in self._states

    def get(self, key: str) -> Unpacked | None:
        packed = self._states.get(key)
        if packed is None:
            return None
        if type(packed) is int:
            return (
                packed >> _FIRST_SEEN_SHIFT,
                (packed >> _TYPE_SHIFT) & _TYPE_MASK,
                packed & _COUNTED_MASK,
                self._costs[(packed >> _COST_SHIFT) & _COST_MASK],
                self._destinations[(packed >> _DESTINATION_SHIFT) & _DESTINATION_MASK],
            )
        assert isinstance(packed, MessageState)
        return packed.first_seen_s, packed.type, int(packed.counted), packed.cost, packed.destination

    def set(
        self,
        key: str,
        first_seen_s: int,
        type_: int,
        counted: int,
        cost: Decimal | None,
        destination: Destination | None = None,
    ) -> None:
        cost_id = 0 if cost is None else self._cost_id(cost)
        destination_id = 0  # ids start at 1: a found id is true
        if destination is not None:
            destination_id = self._destination_ids.get(destination) or self._destination_id(destination)
        if cost_id < 0 or destination_id < 0 or not 0 <= type_ <= _TYPE_MASK:
            self._states[key] = MessageState(first_seen_s, type_, Counted(counted), cost, destination)
            return
        self._states[key] = (
            (first_seen_s << _FIRST_SEEN_SHIFT)
            | (destination_id << _DESTINATION_SHIFT)
            | (cost_id << _COST_SHIFT)
            | (type_ << _TYPE_SHIFT)
            | counted
        )

    def pop(self, key: str) -> None:
        self._states.pop(key, None)

    def rows(self) -> tuple[list[list[object]], list[list[str]]]:
        """The snapshot's rows, [key, first seen, type, counted, cost text or None, destination] per
        message, and the destinations ([country, carrier, source]) that a row's destination indexes (or
        None: no destination). Indexes are given in the order of the rows, so a table restored from the
        rows writes the same rows again."""
        costs = [None if cost is None else str(cost) for cost in self._costs]
        destinations: list[list[str]] = []
        indexes: dict[Destination, int] = {}
        by_id: list[int | None] = [None] * len(self._destinations)

        def index(destination: Destination) -> int:
            found = indexes.get(destination)
            if found is None:
                found = indexes[destination] = len(destinations)
                destinations.append(list(destination))
            return found

        rows: list[list[object]] = []
        append = rows.append
        for key, packed in self._states.items():
            if type(packed) is int:
                destination_id = (packed >> _DESTINATION_SHIFT) & _DESTINATION_MASK
                where = by_id[destination_id]
                if where is None and destination_id:
                    destination = self._destinations[destination_id]
                    assert destination is not None
                    where = by_id[destination_id] = index(destination)
                append(
                    [
                        key,
                        packed >> _FIRST_SEEN_SHIFT,
                        (packed >> _TYPE_SHIFT) & _TYPE_MASK,
                        packed & _COUNTED_MASK,
                        costs[(packed >> _COST_SHIFT) & _COST_MASK],
                        where,
                    ]
                )
            else:
                assert isinstance(packed, MessageState)
                cost = None if packed.cost is None else str(packed.cost)
                where = None if packed.destination is None else index(packed.destination)
                append([key, packed.first_seen_s, packed.type, int(packed.counted), cost, where])
        return rows, destinations

    def _cost_id(self, cost: Decimal) -> int:
        """The interned id of this cost, or -1 when the table is full."""
        text = str(cost)
        cost_id = self._cost_ids.get(text)
        if cost_id is None:
            if len(self._costs) > _COST_MASK:
                return -1
            cost_id = self._cost_ids[text] = len(self._costs)
            self._costs.append(cost)
        return cost_id

    def _destination_id(self, destination: Destination) -> int:
        """The interned id of this destination, or -1 when the table is full."""
        destination_id = self._destination_ids.get(destination)
        if destination_id is None:
            if len(self._destinations) > _DESTINATION_MASK:
                return -1
            destination_id = self._destination_ids[destination] = len(self._destinations)
            self._destinations.append(destination)
        return destination_id
