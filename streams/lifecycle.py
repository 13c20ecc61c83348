"""The life of one message (`id:phone`): first status, final outcome, engagement, what was counted once.

A final outcome is never reopened and never counted twice; `cost` and `cnt` belong to the message and
are counted once, from the first status that carries them (shared/smsc-codes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntFlag

from smsc.codes import Outcome


class Counted(IntFlag):
    NOTHING = 0
    DELIVERED = 1
    FAILED = 2
    EXPIRED = 4
    READ = 8
    CLICKED = 16
    COST = 32
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
    count_hlr: bool = False


def advance(state: MessageState, outcome: Outcome, *, has_cost: bool, has_hlr: bool) -> Transition:
    """Apply one (deduplicated) status to the message; returns what is to be counted now."""
    final: Outcome | None = None
    engagement: Outcome | None = None
    if outcome in _FINAL_FLAG and not state.is_final:
        final = outcome
        state.counted |= _FINAL_FLAG[outcome]
    elif outcome in _ENGAGEMENT_FLAG:
        flag = _ENGAGEMENT_FLAG[outcome]
        if not state.counted & flag:
            engagement = outcome
            state.counted |= flag
        if not state.is_final:  # read or clicked without a delivered status: delivered, once
            final = Outcome.DELIVERED
            state.counted |= Counted.DELIVERED
    count_cost = has_cost and not state.counted & Counted.COST
    if count_cost:
        state.counted |= Counted.COST
    count_hlr = has_hlr and not state.counted & Counted.HLR
    if count_hlr:
        state.counted |= Counted.HLR
    return Transition(final=final, engagement=engagement, count_cost=count_cost, count_hlr=count_hlr)
