"""The seeded workload: messages an SMSC account sends, the status walk of each, and what comes back.

Messages are created as a Poisson process in simulated time. Each one walks a plausible path through
the status table — queued (-1) -> passed to operator (0, sometimes again with err 6) -> delivered (1) /
read (2) / clicked (4) / failed (20..25 with an err) / expired (3), or stays stopped (-2) — and every
status becomes one callback, sent shortly after it happened. `cost`, `cnt`, `type`, `flag` and `sender`
belong to the message and are repeated on each of its statuses, as SMSC does. Callbacks come out in the
order SMSC sends them, which is time order except where a fault moved one.

Recipients (simulator/recipients.py) are numbers of weighted destinations in several countries; with
`Recipients.ported_share` some are ported numbers, each looked up (an HLR look-up answered by its new
network) before it is first messaged; `Recipients.degrade_carrier` makes most messages to one carrier's
numbers fail.

Generators drive it: one for the clean workload, one for faults, one for ported numbers and one for a
degraded carrier's failures, so a seed gives the same messages whatever faults are asked for, and
degrading a carrier changes only the messages to that carrier's numbers.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from random import Random
from typing import Final
from zoneinfo import ZoneInfo

from simulator.callbacks import Fault
from simulator.draws import chance, delay, forked, seeded, weighted
from simulator.errors import ConfigError
from simulator.faults import NO_FAULTS, Faults, reorder
from simulator.recipients import (
    DEGRADED_SHARE,
    PortedNumbers,
    Recipient,
    Recipients,
    number,
    phone_of,
    regular_recipient,
)
from simulator.vocabulary import (
    CLIENT_NUMBERS,
    COMMENTS,
    DEGRADED_ENDINGS,
    DTMF_KEYS,
    FAILURE_ERRORS,
    FAILURE_STATUSES,
    FLASH_TYPE,
    HLR_TYPE,
    HOME_DESTINATIONS,
    PRICES,
    REPLIES,
    ROAMING,
    SENDERS,
    SMS_CENTRES,
    SMS_TYPE,
    SYSTEM_ERRORS,
    VIBER_TYPE,
    VOICE_FAILURES,
    VOICE_MENU,
    VOICE_TYPE,
    Menu,
    Network,
)
from smsc import DEFAULT_ACCOUNT_TIMEZONE, CallbackKind, Flag, TemplateKind

#: A fixed default start, so that nothing depends on the wall clock: 2025-03-03 09:00 Moscow time.
DEFAULT_START: Final = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
ACCOUNT_ZONE: Final = ZoneInfo(DEFAULT_ACCOUNT_TIMEZONE)
#: Message lifetimes are compressed (a real one is hours) so that expiry shows within a short run.
EXPIRY_MEDIAN_SECONDS: Final = 120.0
#: SMSC posts a status this long after it happened, at most (seconds).
MAX_POST_DELAY: Final = 0.8
#: Regular numbers remembered as looked up or messaged (beyond it, a demo-length run, forgotten).
_MAX_REMEMBERED: Final = 1_000_000


def _remember(numbers: set[str], phone: str) -> None:
    if len(numbers) >= _MAX_REMEMBERED:
        numbers.clear()  # a run this long is a demo: no recount compares it
    numbers.add(phone)


class Product(StrEnum):
    """What the workload mixes: five kinds of outgoing message and the two kinds of incoming event."""

    SMS = "sms"
    FLASH = "flash"
    VIBER = "viber"
    VOICE = "voice"
    HLR = "hlr"
    INCOMING = "incoming"
    CALL_CONFIRMATION = "call_confirmation"


MESSAGE_TYPES: Final = {
    Product.SMS: SMS_TYPE,
    Product.FLASH: FLASH_TYPE,
    Product.VIBER: VIBER_TYPE,
    Product.VOICE: VOICE_TYPE,
    Product.HLR: HLR_TYPE,
}


@dataclass(frozen=True, slots=True)
class Mix:
    """Relative weights of the products (per event: one send, one incoming SMS, one confirmation)."""

    sms: float = 55.0
    flash: float = 4.0
    viber: float = 12.0
    voice: float = 8.0
    hlr: float = 6.0
    incoming: float = 11.0
    call_confirmation: float = 4.0

    def __post_init__(self) -> None:
        weights = self.table()
        if any(weight < 0 or not math.isfinite(weight) for _, weight in weights):
            raise ConfigError("weights must be finite and >= 0", field="mix")
        if not any(weight > 0 for _, weight in weights):
            raise ConfigError("at least one weight must be > 0", field="mix")

    def table(self) -> list[tuple[Product, float]]:
        return [(product, float(getattr(self, product.value))) for product in Product]

    @classmethod
    def parse(cls, spec: str) -> Mix:
        """`sms=50,voice=10,incoming=5`: the products named, every other one weighted 0."""
        weights = dict.fromkeys((product.value for product in Product), 0.0)
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, value = item.partition("=")
            if name.strip() not in weights:
                known = ", ".join(weights)
                raise ConfigError(f"unknown product {name.strip()!r} (known: {known})", field="mix")
            try:
                weights[name.strip()] = float(value)
            except ValueError:
                raise ConfigError(f"{item!r} is not NAME=WEIGHT", field="mix") from None
        return cls(**weights)


@dataclass(order=True, slots=True)
class Planned:
    """One callback SMSC will send at `sent_at` (simulated Unix seconds): its kind, key and parameters."""

    sent_at: float
    order: int
    kind: CallbackKind = field(compare=False)
    key: str = field(compare=False)
    params: dict[str, str] = field(compare=False)
    fault: Fault | None = field(default=None, compare=False)


@dataclass(slots=True)
class _Step:
    """A status of one message: its code, when it happened, its err and any extra parameters."""

    status: int
    at: float
    err: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Send:
    """What every status of one message repeats."""

    id: str
    message_type: int
    sender: str | None
    flag: Flag
    price: Decimal
    parts: int
    cmt: str | None


class Workload:
    """An endless, time-ordered stream of planned callbacks for one seed."""

    def __init__(
        self,
        seed: int,
        *,
        start: datetime = DEFAULT_START,
        messages_per_second: float = 10.0,
        mix: Mix | None = None,
        faults: Faults = NO_FAULTS,
        recipients: Recipients | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ConfigError("must be timezone-aware", field="start")
        if not messages_per_second > 0:
            raise ConfigError("must be > 0", field="messages_per_second")
        self.start = start.timestamp()
        self.messages_per_second = messages_per_second
        self.mix = (mix or Mix()).table()
        self.faults = faults
        self.recipients = recipients or Recipients()
        self.rng = seeded(seed, "workload")
        self.fault_rng = seeded(seed, "faults")
        self.degrade_rng = seeded(seed, "degrade")
        self.ported_rng = seeded(seed, "ported")
        self.ported = PortedNumbers(self.ported_rng, self.recipients.ported_settle_seconds)
        self._ids = itertools.count(100_001)
        self._incoming_ids = itertools.count(5_000_001)
        self._order = itertools.count()
        self._recent_sms: deque[tuple[str, str]] = deque(maxlen=256)
        # Regular numbers are either looked up or messaged, never both: only ported numbers are (after
        # their answer has settled). A random repeat would make the carrier of that message depend on when
        # the workers, sharing answers across partitions, saw the answer (the recount's does not).
        self._looked_up: set[str] = set()
        self._messaged: set[str] = set()

    def __iter__(self) -> Iterator[Planned]:
        heap: list[Planned] = []
        now = self.start
        while True:
            now += self.rng.expovariate(self.messages_per_second)
            while heap and heap[0].sent_at <= now:
                yield heapq.heappop(heap)
            for planned in self._plan(now):
                heapq.heappush(heap, planned)

    def _plan(self, now: float) -> list[Planned]:
        product = weighted(self.rng, self.mix)
        if product is Product.INCOMING:
            return [self._incoming(now)]
        if product is Product.CALL_CONFIRMATION:
            return [self._confirmation(now)]
        return self._send(product, now)

    # -- outgoing messages ------------------------------------------------------------------------

    def _send(self, product: Product, now: float) -> list[Planned]:
        rng = self.rng
        send = self._new_send(product)
        recipients = rng.randint(2, 5) if product is Product.SMS and chance(rng, 0.12) else 1
        planned: list[Planned] = []
        for _ in range(recipients):
            recipient, look_up = self._recipient(product, now)
            planned += look_up
            planned += self._message(send, product, now, recipient)
            if product is Product.SMS:
                self._recent_sms.append((send.id, recipient.phone))
        return planned

    def _new_send(self, product: Product) -> _Send:
        rng = self.rng
        message_type = MESSAGE_TYPES[product]
        senders = SENDERS[message_type]
        return _Send(
            id=str(next(self._ids)),
            message_type=message_type,
            sender=rng.choice(senders) if senders else None,
            flag=Flag.build(
                message_type,
                second_balance=chance(rng, 0.15),
                template_kind=None if chance(rng, 0.5) else rng.choice(list(TemplateKind)),
            ),
            price=rng.choice(PRICES[message_type]),
            parts=weighted(rng, ((1, 65), (2, 25), (3, 7), (4, 3))) if product is Product.SMS else 1,
            cmt=rng.choice(COMMENTS),
        )

    def _recipient(self, product: Product, now: float) -> tuple[Recipient, list[Planned]]:
        """Who one message goes to, and the look-up of a newly ported number planned with it, if any.

        A ported recipient is one whose look-up answer has settled; while none has, the message goes to
        a regular number.
        """
        regular = regular_recipient(self.rng)
        if product is Product.HLR:
            while regular.phone in self._messaged:
                regular = regular_recipient(self.rng)
            _remember(self._looked_up, regular.phone)
            return regular, []
        while regular.phone in self._looked_up:
            regular = regular_recipient(self.rng)
        _remember(self._messaged, regular.phone)
        share = self.recipients.ported_share
        if not share or not chance(self.ported_rng, share):
            return regular, []
        look_up: list[Planned] = []
        if self.ported.wants_another():
            ported = self.ported.port()
            look_up = self._message(self._new_send(Product.HLR), Product.HLR, now, ported, answers=True)
            self.ported.looked_up(ported, max(planned.sent_at for planned in look_up))
        return self.ported.ready_at(now) or regular, look_up

    def _message(
        self, send: _Send, product: Product, now: float, recipient: Recipient, *, answers: bool = False
    ) -> list[Planned]:
        steps = self._walk(product, now, recipient.network, answers=answers)
        return self._statuses(send, recipient.phone, steps)

    def _walk(self, product: Product, now: float, network: Network, *, answers: bool = False) -> list[_Step]:
        if product is Product.HLR:
            steps = self._hlr_walk(now, network, answers=answers)
        elif product is Product.VOICE:
            steps = self._voice_walk(now)
        else:
            steps = self._message_walk(product, now)
        if product is not Product.HLR and self.recipients.degrades(network):
            steps = self._degraded(steps, now)
        burst = self.faults.burst_at(now - self.start)
        if burst is not None and chance(self.fault_rng, burst.ratio):
            handed_over = [step for step in steps if step.status in (-1, 0)] or [_Step(0, now)]
            steps = [*handed_over, _Step(20, handed_over[-1].at + 2.0, burst.err)]
        return _strictly_increasing(steps)

    def _degraded(self, steps: list[_Step], now: float) -> list[_Step]:
        """Most messages to a degraded carrier's numbers fail or expire after hand-over (own generator)."""
        rng = self.degrade_rng
        if not chance(rng, DEGRADED_SHARE):
            return steps
        handed_over = [step for step in steps if step.status in (-1, 0)] or [_Step(0, now)]
        status, err = weighted(rng, DEGRADED_ENDINGS)
        if status == 3:
            ends = handed_over[-1].at + delay(rng, EXPIRY_MEDIAN_SECONDS, low=30.0, high=1800.0)
        else:
            ends = handed_over[-1].at + delay(rng, 5.0, low=1.0, high=120.0)
        return [*handed_over, _Step(status, ends, err)]

    def _message_walk(self, product: Product, now: float) -> list[_Step]:
        rng = self.rng
        steps = [_Step(-1, now)] if chance(rng, 0.7) else []
        at = now + delay(rng, 1.0, low=0.1, high=5.0)
        fate = rng.random()
        if fate < 0.01:  # a mailing stopped before hand-over: stays in flight
            return [*steps, _Step(-2, at)]
        if fate < 0.03:  # refused before hand-over: funds or rules
            status = rng.choice((23, 24))
            return [*steps, _failure(rng, status, at)]
        steps.append(_Step(0, at))
        if chance(rng, 0.12):  # subscriber offline for a while; SMSC keeps trying
            at += delay(rng, 20.0, low=5.0, high=120.0)
            steps.append(_Step(0, at, 6))
        delivered, failed = (0.88, 0.97) if product is Product.VIBER else (0.84, 0.94)
        outcome = rng.random()
        if outcome < delivered:
            at += delay(rng, 4.0, low=1.0, high=300.0)
            steps.append(_Step(1, at))
            if product is Product.VIBER and chance(rng, 0.65):
                at += delay(rng, 120.0, low=5.0, high=1800.0)
                steps.append(_Step(2, at))
            if product is not Product.FLASH and chance(rng, 0.08):
                at += delay(rng, 60.0, low=5.0, high=1800.0)
                steps.append(_Step(4, at))
        elif outcome < failed:
            status = weighted(rng, FAILURE_STATUSES)
            steps.append(_failure(rng, status, at + delay(rng, 5.0, low=1.0, high=120.0)))
        else:
            err = 6 if chance(rng, 0.5) else 0
            steps.append(_Step(3, at + delay(rng, EXPIRY_MEDIAN_SECONDS, low=30.0, high=1800.0), err))
        return steps

    def _voice_walk(self, now: float) -> list[_Step]:
        rng = self.rng
        steps = [_Step(-1, now)] if chance(rng, 0.8) else []
        at = now + delay(rng, 2.0, low=0.5, high=10.0)
        steps.append(_Step(0, at))
        fate = rng.random()
        if fate < 0.62:
            ring = rng.randint(2, 25)
            talk = int(delay(rng, 40.0, low=3.0, high=600.0))
            extra = {"ringtime": str(ring)}
            if chance(rng, 0.5):
                path = _menu_path(rng)
                extra["callmenu"] = path
                extra["calltime"] = str(rng.randint(2, max(2, talk)))
            else:
                extra["calltime"] = str(talk)
            if chance(rng, 0.35):
                extra["dtmf"] = "".join(rng.choice(DTMF_KEYS) for _ in range(rng.randint(1, 4)))
            if chance(rng, 0.12):
                overtime = rng.randint(5, 150)
                extra["overtime"] = f"{overtime // 60:02d}:{overtime % 60:02d}"
            extra["talk"] = str(talk)
            steps.append(_Step(1, at + ring + talk, 0, extra))
        elif fate < 0.97:
            err = weighted(rng, VOICE_FAILURES)
            steps.append(_Step(20, at + rng.randint(5, 60), err))
        else:
            steps.append(_Step(3, at + delay(rng, EXPIRY_MEDIAN_SECONDS, low=30.0, high=1800.0)))
        return steps

    def _hlr_walk(self, now: float, network: Network, *, answers: bool = False) -> list[_Step]:
        """A look-up; `answers`: it gets an answer (but for an error burst), as a ported number's does."""
        rng = self.rng
        steps = [_Step(0, now)] if chance(rng, 0.5) else []
        at = now + delay(rng, 2.0, low=0.5, high=15.0)
        if chance(rng, 0.1) and not answers:
            steps.append(_failure(rng, 20, at, errors=(1, 6, 11)))
            return steps
        extra = {
            "imsi": f"{network.mcc}{network.mnc}{rng.randrange(10**10):010d}",
            "msc": number(rng, network.msc_prefix, 11 if network.msc_prefix.startswith("7") else 12),
            "mcc": str(network.mcc),
            "mnc": network.mnc,
            "cn": network.country_name,
            "net": network.name,
        }
        if chance(rng, 0.12):
            extra["rcn"], extra["rnet"] = rng.choice(ROAMING)
        steps.append(_Step(1, at, 0, extra))
        return steps

    def _statuses(self, send: _Send, phone: str, steps: list[_Step]) -> list[Planned]:
        # However many statuses a burst or a degraded carrier left, the messages that follow stay the same.
        rng = forked(self.rng)
        talk = next((int(step.extra["talk"]) for step in steps if "talk" in step.extra), 0)
        if send.message_type == VOICE_TYPE:
            cnt = talk
            cost = send.price * max(1, math.ceil(talk / 60)) if talk else Decimal("0.00")
        else:
            cnt, cost = send.parts, send.price * send.parts
        sent_at = [step.at + rng.uniform(0.0, MAX_POST_DELAY) for step in steps]
        for index in range(1, len(sent_at)):  # a clean message's statuses go out in the order they happened
            sent_at[index] = max(sent_at[index], sent_at[index - 1] + 0.001)
        faults = reorder([step.status for step in steps], sent_at, self.fault_rng, self.faults)
        key = f"{send.id}:{phone}"
        planned = []
        for index, step in enumerate(steps):
            params = {"id": send.id, "phone": phone, "status": str(step.status)}
            params["time"] = datetime.fromtimestamp(int(step.at), ACCOUNT_ZONE).strftime("%d.%m.%y %H:%M:%S")
            params["ts"] = str(int(step.at))
            if step.err:
                params["err"] = str(step.err)
            if step.err and step.status >= 20 and chance(rng, 0.3):
                params["syserr"] = rng.choice(SYSTEM_ERRORS)
            params["cnt"] = str(cnt)
            params["type"] = str(send.message_type)
            params["cost"] = f"{cost:.2f}"
            params["flag"] = str(send.flag.raw)
            if send.sender is not None:
                params["sender"] = send.sender
            extra = dict(step.extra)
            extra.pop("talk", None)
            if "dtmf" in extra:
                params["dtmf"] = extra.pop("dtmf")
            comment = [send.cmt] if send.cmt else []
            if "overtime" in extra:
                comment.append(f"overtime: {extra.pop('overtime')}")
            if comment:
                params["cmt"] = "\n".join(comment)
            params.update(extra)
            planned.append(
                Planned(
                    sent_at[index], next(self._order), CallbackKind.STATUS, key, params, faults.get(index)
                )
            )
        return planned

    # -- incoming SMS and call confirmations ------------------------------------------------------

    def _incoming(self, now: float) -> Planned:
        rng = self.rng
        params = {"id": str(next(self._incoming_ids))}
        if self._recent_sms and chance(rng, 0.4):
            sms_id, phone = rng.choice(self._recent_sms)
            params["sms_id"] = sms_id
        else:
            phone = phone_of(rng, rng.choice(HOME_DESTINATIONS))
        params |= {
            "phone": phone,
            "mes": rng.choice(REPLIES),
            "to": rng.choice(CLIENT_NUMBERS),
            "smsc": rng.choice(SMS_CENTRES),
            "sent": str(int(now) - rng.randint(1, 20)),
            "time": str(int(now)),
        }
        return self._at(now, CallbackKind.INCOMING, phone, params)

    def _confirmation(self, now: float) -> Planned:
        phone = phone_of(self.rng, self.rng.choice(HOME_DESTINATIONS))
        params = {"waitcall": "1", "phone": phone, "ts": str(int(now))}
        return self._at(now, CallbackKind.CALL_CONFIRMATION, phone, params)

    def _at(self, now: float, kind: CallbackKind, key: str, params: dict[str, str]) -> Planned:
        sent_at = now + self.rng.uniform(0.0, MAX_POST_DELAY)
        return Planned(sent_at, next(self._order), kind, key, params)


def _failure(rng: Random, status: int, at: float, *, errors: tuple[int, ...] | None = None) -> _Step:
    return _Step(status, at, rng.choice(errors or FAILURE_ERRORS[status]))


def _menu_path(rng: Random) -> str:
    keys: list[str] = []
    menu: Menu = VOICE_MENU
    while menu and (not keys or chance(rng, 0.7)):
        key = rng.choice(sorted(menu))
        keys.append(key)
        menu = menu[key]
    return "".join(keys)


def _strictly_increasing(steps: list[_Step]) -> list[_Step]:
    """`ts` is whole seconds and part of a status's identity: no two statuses of a message share one."""
    for previous, step in itertools.pairwise(steps):
        if int(step.at) <= int(previous.at):
            step.at = int(previous.at) + 1 + (step.at % 1)
    return steps
