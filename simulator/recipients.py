"""Who the workload's messages go to: numbers of weighted destinations, ported numbers, a degraded carrier.

A recipient is a number and the network its subscriber is actually on. Most numbers are drawn from a
destination's range and are on that range's network. A ported number keeps its range but moved to another
network of its country: the workload looks it up (an HLR look-up, answered by the new network) before it
ever messages it, and messages it only once that answer has been sent and has had time to settle, the way
a client checks a number before a campaign.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from random import Random
from typing import Final

from simulator.draws import chance, weighted
from simulator.errors import ConfigError
from simulator.vocabulary import DESTINATIONS, NETWORKS, PORTABLE_DESTINATIONS, Destination, Network, carriers

#: Ported numbers the workload keeps at most (it stops porting more once it has them).
MAX_PORTED_NUMBERS: Final = 1_000
#: Share of the draws of a ported recipient that also port (and look up) one more number.
NEW_PORTED_SHARE: Final = 0.1
#: Share of the messages to a degraded carrier's numbers that do not get through (the rest walk as usual).
DEGRADED_SHARE: Final = 0.65


@dataclass(frozen=True, slots=True)
class Recipient:
    phone: str
    #: The network the number is on (what an HLR look-up of it answers).
    network: Network


@dataclass(frozen=True, slots=True)
class Recipients:
    """How recipients are chosen and how their networks behave."""

    #: `NAME` or `COUNTRY:NAME` (e.g. `MTS`, `RU:MTS`) of a simulated carrier whose messages mostly fail;
    #: matched case-insensitively against the canonical carrier of the network a number is on.
    degrade_carrier: str | None = None
    #: Share of the recipients of SMS, flash, Viber and calls that are ported numbers.
    ported_share: float = 0.0
    #: A ported number is messaged only this long (simulated seconds) after its look-up answer was sent.
    ported_settle_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.ported_share <= 1:
            raise ConfigError(f"{self.ported_share} is not a share between 0 and 1", field="ported_share")
        if not (self.ported_settle_seconds >= 0 and math.isfinite(self.ported_settle_seconds)):
            raise ConfigError("must be a finite number of seconds >= 0", field="ported_settle_seconds")
        if self.degrade_carrier is not None and not any(map(self.degrades, NETWORKS.values())):
            raise ConfigError(
                f"no simulated carrier {self.degrade_carrier!r} (simulated: {', '.join(carriers())};"
                " COUNTRY:NAME names one country's, e.g. RU:MTS)",
                field="degrade_carrier",
            )

    def degrades(self, network: Network) -> bool:
        """Whether messages to numbers on `network` mostly fail."""
        if self.degrade_carrier is None:
            return False
        country, _, name = self.degrade_carrier.strip().rpartition(":")
        if country and country.strip().upper() != network.country:
            return False
        return name.strip().casefold() == network.carrier.casefold()


def regular_recipient(rng: Random) -> Recipient:
    """A number of a destination drawn by weight, on the destination's own network."""
    destination = weighted(rng, [(destination, destination.weight) for destination in DESTINATIONS])
    return Recipient(phone_of(rng, destination), destination.network)


def phone_of(rng: Random, destination: Destination) -> str:
    return number(rng, destination.prefix, destination.length)


def number(rng: Random, prefix: str, length: int) -> str:
    digits = length - len(prefix)
    return f"{prefix}{rng.randrange(10**digits):0{digits}d}"


class PortedNumbers:
    """The pool of ported numbers: each waits from its look-up until it may be messaged, then is ready."""

    def __init__(self, rng: Random, settle_seconds: float) -> None:
        self.rng = rng
        self.settle_seconds = settle_seconds
        self.ready: list[Recipient] = []
        #: (may be messaged from, order, number): the looked-up numbers whose answer has not settled yet.
        self.waiting: list[tuple[float, int, Recipient]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self.ready) + len(self.waiting)

    def wants_another(self) -> bool:
        """Whether to port one more number now: sometimes, and always while none is ready or waiting."""
        another = chance(self.rng, NEW_PORTED_SHARE)
        return len(self) < MAX_PORTED_NUMBERS and (another or not self)

    def port(self) -> Recipient:
        """A new ported number: a number of a portable range, now on another network of its country."""
        destination = self.rng.choice(PORTABLE_DESTINATIONS)
        networks = sorted(
            {other.network for other in PORTABLE_DESTINATIONS if other.network != destination.network},
            key=lambda network: (network.mcc, network.mnc),
        )
        return Recipient(phone_of(self.rng, destination), self.rng.choice(networks))

    def looked_up(self, recipient: Recipient, answer_sent_at: float) -> None:
        """`recipient`'s look-up answer goes out at `answer_sent_at`: it may be messaged after it settles."""
        ready_at = answer_sent_at + self.settle_seconds
        heapq.heappush(self.waiting, (ready_at, next(self._order), recipient))

    def ready_at(self, now: float) -> Recipient | None:
        """A ported number that may be messaged at `now`, if there is one."""
        while self.waiting and self.waiting[0][0] <= now:
            self.ready.append(heapq.heappop(self.waiting)[2])
        return self.rng.choice(self.ready) if self.ready else None
