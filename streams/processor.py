"""One source partition's processing: raw callback -> event or dead letter, deduplicated, with aggregates.

Pure and deterministic: the state after a record is a function of the records before it, in order. A
record at or below the last applied offset is a replay and changes nothing; that, and state snapshots
that carry their offset, make the numbers exact after a crash without Kafka transactions. One exception,
by design: a message's carrier may come from the worker's memory of HLR answers (`HlrMemory`), which
other partitions and workers fill; it is fixed at the message's first status and kept in its state.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import operator
import sys
from array import array
from dataclasses import dataclass, field
from datetime import tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from smsc.codes import (
    ERROR_CODES,
    HLR_TYPE,
    MESSAGE_TYPES,
    STATUS_CODES,
    VOICE_TYPE,
    Outcome,
    message_type_name,
)
from smsc.errors import SmscError
from smsc.events import UNKNOWN, Destination, dumps_callback_event
from smsc.models import Callback, CallConfirmation, IncomingSms, StatusCallback
from smsc.parse import account_timezone, parse_callback
from smsc.wire import decode_request
from streams.aggregates import Aggregates
from streams.carriers import hlr_carrier
from streams.destinations import range_destination
from streams.expiring import ExpiringSet
from streams.hlr_memory import HlrMemory, phone_digest
from streams.labels import BoundedLabel
from streams.lifecycle import MessageTable, step

NS: Final = 1_000_000_000
_DTMF_KEYS: Final = frozenset("0123456789*#")
_NOT_A_LIFECYCLE_STATE: Final = frozenset({Outcome.NOT_FOUND, Outcome.UNKNOWN})
#: Where a message's carrier came from (`smsc_destination_carrier_sources_total`, the events).
HLR_SOURCE: Final = "hlr"
RANGE_SOURCE: Final = "range"
#: The snapshot's label names of the carriers of one country: this prefix and the country's label.
_CARRIERS_LABEL: Final = "carriers:"


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    dedupe_window_seconds: int = 4 * 3600
    timezone: tzinfo = field(default_factory=lambda: account_timezone("Europe/Moscow"))
    senders: tuple[str, ...] = ()
    max_senders: int = 50
    menu_depth: int = 4
    max_menu_paths: int = 30
    max_incoming_numbers: int = 20
    max_hlr_values: int = 50
    max_unknown_codes: int = 50
    #: Determine each message's destination (country, carrier) for the events and the `smsc_destination_*`
    #: metrics. Off: none of that work (events carry a null destination).
    destinations: bool = True
    #: Carrier names always kept as labels (canonical spelling, streams/carriers.py).
    carriers: tuple[str, ...] = ()
    max_countries: int = 50
    max_carriers_per_country: int = 10
    #: An HLR answer counts for messages first seen at least this long after it was received.
    hlr_settle_seconds: int = 30


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of `smsc.callbacks.raw`, as the processor needs it."""

    partition: int
    offset: int
    body: bytes
    query_string: str | bytes
    content_type: str | None
    account: str
    received_at_ns: int


class Verdict(StrEnum):
    EVENT = "event"
    DUPLICATE = "duplicate"
    DEAD = "dead"
    REPLAY = "replay"


@dataclass(frozen=True, slots=True)
class Result:
    verdict: Verdict
    key: str | None = None
    event: bytes | None = None
    reason: str | None = None
    #: A final HLR answer with a usable network, for the worker to share with the other workers:
    #: (`phone_digest` of the number, carrier, answered at ns). Already remembered in this worker's memory.
    hlr_network: tuple[int, str, int] | None = None


class PartitionProcessor:
    """`hlr`: the worker's memory of HLR answers, shared by its partitions (None: carriers from the number
    range only). It improves a message's carrier when the answer reached it before the message's first
    status; so unlike everything else here, a destination depends on more than the partition's input."""

    def __init__(self, partition: int, config: ProcessorConfig, hlr: HlrMemory | None = None) -> None:
        self.partition = partition
        self.config = config
        self.hlr = hlr
        self.offset = -1
        self.clock_ns = 0
        self.aggregates = Aggregates(partition)
        self.messages = MessageTable()
        window_ns = config.dedupe_window_seconds * NS
        self.seen: ExpiringSet[int] = ExpiringSet(window_ns)  # identity digests, see `identity_digest`
        self.finished: ExpiringSet[str] = ExpiringSet(window_ns)
        self.senders = BoundedLabel(config.senders, max_seen=config.max_senders)
        self.menu_paths = BoundedLabel(max_seen=config.max_menu_paths)
        self.incoming_numbers = BoundedLabel(max_seen=config.max_incoming_numbers)
        self.hlr_values = BoundedLabel(max_seen=config.max_hlr_values)
        self.unknown_codes = BoundedLabel(max_seen=config.max_unknown_codes)
        # `unknown` is always a label of its own: a number that cannot be placed is worth seeing as such.
        self.countries = BoundedLabel((UNKNOWN,), max_seen=config.max_countries)
        self.carriers: dict[str, BoundedLabel] = {}  # by country label
        # The (country, carrier) labels of each destination: fixed once given, since a bounded label never
        # takes a value back (a restored processor gives the same, from the restored labels).
        self._destination_labels: dict[Destination, tuple[str, str]] = {}

    def process(self, record: SourceRecord) -> Result:
        if record.offset <= self.offset:
            return Result(Verdict.REPLAY)
        self.offset = record.offset
        if record.received_at_ns > self.clock_ns:
            self.clock_ns = record.received_at_ns
            self.seen.expire(self.clock_ns)
            for key in self.finished.expire(self.clock_ns):
                self.messages.pop(key)
        try:
            request = decode_request(record.body, record.query_string, record.content_type)
            callback = parse_callback(request.params, tz=self.config.timezone)
        except SmscError as exc:
            self.aggregates.inc("smsc_callbacks_dead_total", (record.account, exc.code))
            return Result(Verdict.DEAD, reason=str(exc))
        identity = identity_digest(_identity(record.account, callback))
        if identity in self.seen:
            self.aggregates.inc("smsc_callbacks_duplicate_total", (record.account, callback.kind.value))
            return Result(Verdict.DUPLICATE, key=callback.message_key)
        self.seen.add(identity, self.clock_ns)
        destination: Destination | None = None
        hlr_network: tuple[int, str, int] | None = None
        if isinstance(callback, StatusCallback):
            destination, hlr_network = self._status(record.account, callback, record.received_at_ns)
        elif isinstance(callback, IncomingSms):
            to = self.incoming_numbers(callback.to)
            self.aggregates.inc(
                "smsc_incoming_messages_total", (record.account, to, "true" if callback.is_reply else "false")
            )
        else:
            self.aggregates.inc("smsc_call_confirmations_total", (record.account,))
        event = dumps_callback_event(
            callback,
            account=record.account,
            received_at_ns=record.received_at_ns,
            raw_partition=record.partition,
            raw_offset=record.offset,
            destination=destination,
        )
        return Result(Verdict.EVENT, key=callback.message_key, event=event, hlr_network=hlr_network)

    def _status(
        self, account: str, callback: StatusCallback, received_at_ns: int
    ) -> tuple[Destination | None, tuple[int, str, int] | None]:
        """Counts the status; returns its message's destination and the HLR network it answered, if any."""
        agg = self.aggregates
        message_type = callback.message_type
        type_name = self._type(message_type)
        occurred_at = callback.occurred_at
        occurred_s = int(occurred_at.timestamp()) if occurred_at else self.clock_ns // NS
        status = callback.status
        agg.inc(
            "smsc_status_callbacks_total",
            (account, type_name, str(status) if status in STATUS_CODES else self.unknown_codes(str(status))),
        )
        if callback.err:
            agg.inc("smsc_errors_total", (account, type_name, self._code(callback.err)))
        outcome = callback.outcome
        destinations = self.config.destinations
        if outcome in _NOT_A_LIFECYCLE_STATE:
            # A look-up answer (-3) or a code the tables do not know: counted, no message state. Its event
            # still says where the number is.
            if not destinations:
                return None, None
            known = self.messages.get(f"{account}|{callback.message_key}")
            if known is not None and known[4] is not None:
                return known[4], None  # its message's destination, as every status of it says
            return self.destination(callback.phone, received_at_ns), None
        key = f"{account}|{callback.message_key}"
        state = self.messages.get(key)
        labels = (account, type_name)
        if state is None:
            first_seen_s, state_type, counted, state_cost = occurred_s, message_type, 0, None
            agg.inc("smsc_messages_in_flight", labels)
            agg.cohort_first_seen(labels, occurred_s)
            destination = None
            if destinations:
                destination = self.destination(callback.phone, received_at_ns)
                agg.inc("smsc_destination_carrier_sources_total", (account, destination[2]))
        else:
            first_seen_s, state_type, counted, state_cost, destination = state
        # The destination's series: (account, type, country label, carrier label); None when off.
        where = None
        if destination is not None:
            country, carrier = self._destination_labels.get(destination) or self._labels_of(destination)
            where = (account, type_name, country, carrier)
        cost = callback.cost
        counted, final, engagement, count_cost, count_lookup = step(
            counted, outcome, cost is not None or callback.cnt is not None, message_type == HLR_TYPE
        )
        sender = self.senders(callback.sender)
        if count_cost:
            state_cost = cost
            flag = callback.flag
            balance = flag.balance.value if flag else "main"
            template_kind = flag.template_kind.value if flag and flag.template_kind else "none"
            if cost is not None:
                agg.inc("smsc_cost_total", (account, type_name, sender, balance, template_kind), cost)
                if where is not None:
                    agg.inc("smsc_destination_cost_total", where, cost)
            if callback.cnt is not None and message_type != VOICE_TYPE:
                agg.inc("smsc_message_parts_total", (account, type_name, sender), callback.cnt)
        self.messages.set(key, first_seen_s, state_type, counted, state_cost, destination)
        if final is not None:
            agg.inc("smsc_messages_final_total", (account, type_name, sender, final.value))
            agg.inc("smsc_messages_in_flight", labels, -1)
            if where is not None:
                agg.inc("smsc_destination_messages_final_total", (*where, final.value))
            self.finished.add(key, self.clock_ns)
            if final is Outcome.DELIVERED:
                agg.cohort_delivered(labels, first_seen_s)
                if outcome is Outcome.DELIVERED:
                    latency = max(0, occurred_s - first_seen_s)
                    agg.observe("smsc_delivery_latency_seconds", labels, latency)
                    if where is not None:
                        agg.observe("smsc_destination_delivery_latency_seconds", where, latency)
            elif state_cost is not None:
                agg.inc("smsc_cost_undelivered_total", labels, state_cost)
            if message_type == VOICE_TYPE:
                self._voice_call(account, callback)
        if engagement is not None:
            agg.inc("smsc_messages_engagement_total", (account, type_name, engagement.value))
        hlr_network = None
        if count_lookup:
            agg.inc("smsc_hlr_lookups_total", (account, *self._hlr_answer(callback)))
            # A delivered look-up is an answer; a failed or expired one says nothing of the network.
            if destinations and final is Outcome.DELIVERED:
                hlr_network = self._remember_network(callback, received_at_ns)
        return destination, hlr_network

    def destination(self, phone: str, first_seen_ns: int | None) -> Destination:
        """(country, carrier, carrier source) of a number whose message was first seen (received) at
        `first_seen_ns`: the carrier of an HLR answer the worker remembers that was received at least
        `hlr_settle_seconds` before, else the carrier its range was issued to, else `unknown`.

        Why the settle time: answers reach the other workers through a topic, a little later. A replay
        after a crash finds every answer of that topic in memory; taking only those already settled when
        the message came makes the replay choose what the first pass chose (unless an answer took longer
        than the settle time to reach the worker), so no destination series goes down. None
        (`first_seen_ns` unknown: a snapshot of before destinations existed): the range's."""
        country, carrier = range_destination(phone)
        source = UNKNOWN if carrier == UNKNOWN else RANGE_SOURCE
        hlr = self.hlr
        if hlr is not None and len(hlr) and first_seen_ns is not None:
            settled = first_seen_ns - self.config.hlr_settle_seconds * NS
            answered = hlr.carrier_of(phone_digest(phone), settled)
            if answered is not None:
                carrier, source = answered, HLR_SOURCE
        return country, carrier, source

    def _labels_of(self, destination: Destination) -> tuple[str, str]:
        """The bounded (country, carrier) labels of a destination: the country among the first
        `max_countries` of the partition, the carrier configured or among its country's first
        `max_carriers_per_country`; else `other`. Remembered: the hot path reads them directly."""
        country = self.countries(destination[0], missing=UNKNOWN)
        labels = (country, self._carriers_of(country)(destination[1], missing=UNKNOWN))
        self._destination_labels[destination] = labels
        return labels

    def _carriers_of(self, country: str) -> BoundedLabel:
        carriers = self.carriers.get(country)
        if carriers is None:
            carriers = self.carriers[country] = BoundedLabel(
                (*self.config.carriers, UNKNOWN), max_seen=self.config.max_carriers_per_country
            )
        return carriers

    def _remember_network(self, callback: StatusCallback, received_at_ns: int) -> tuple[int, str, int] | None:
        """The look-up's answered network as a carrier, remembered for the number's later messages."""
        hlr = callback.hlr
        if hlr is None:
            return None
        carrier = hlr_carrier(hlr.mcc, hlr.mnc, hlr.network)
        if carrier is None:
            return None
        digest = phone_digest(callback.phone)
        if self.hlr is not None:
            self.hlr.remember(digest, carrier, received_at_ns)
        return digest, carrier, received_at_ns

    def _voice_call(self, account: str, callback: StatusCallback) -> None:
        agg = self.aggregates
        voice_outcome = callback.voice_outcome
        if voice_outcome is None:
            return
        agg.inc("smsc_voice_calls_total", (account, voice_outcome.value))
        if voice_outcome.value == "answered" and callback.cnt is not None:
            agg.observe("smsc_voice_call_duration_seconds", (account,), callback.cnt)
        menu = callback.voice_menu
        if menu and menu.ringtime_seconds is not None:
            agg.observe("smsc_voice_ring_seconds", (account,), menu.ringtime_seconds)
        if menu and menu.callmenu:
            path = self.menu_paths(menu.callmenu[: self.config.menu_depth])
            agg.inc("smsc_voice_menu_selections_total", (account, path))
        for key in callback.dtmf or "":
            agg.inc("smsc_voice_dtmf_total", (account, key if key in _DTMF_KEYS else "other"))
        if callback.overtime_seconds:
            agg.inc("smsc_voice_overtime_seconds_total", (account,), callback.overtime_seconds)

    def _hlr_answer(self, callback: StatusCallback) -> tuple[str, str, str]:
        """(country, network, roaming) of the look-up's final status; `unknown` for what its answer lacks
        (a failed look-up has no answer at all: all three)."""
        hlr = callback.hlr
        if hlr is None:
            return UNKNOWN, UNKNOWN, UNKNOWN
        return (
            self.hlr_values(hlr.country, missing=UNKNOWN),
            self.hlr_values(hlr.network, missing=UNKNOWN),
            "true" if hlr.roaming else "false",
        )

    def _type(self, message_type: int) -> str:
        name = MESSAGE_TYPES.get(message_type)
        return name if name is not None else self.unknown_codes(message_type_name(message_type))

    def _code(self, err: int) -> str:
        return str(err) if err in ERROR_CODES else self.unknown_codes(str(err))

    # -- snapshots ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        rows, destinations = self.messages.rows()
        return {
            "partition": self.partition,
            "offset": self.offset,
            "clock_ns": self.clock_ns,
            "aggregates": self.aggregates.to_json(),
            "messages": rows,
            "destinations": destinations,
            "seen": _digests_to_json(self.seen),
            "finished": _members_to_json(self.finished),
            "labels": {name: label.seen() for name, label in self._labels().items()},
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], config: ProcessorConfig, hlr: HlrMemory | None = None
    ) -> PartitionProcessor:
        """The processor of a snapshot. With destinations on, a message without one (a snapshot from
        before destinations, or taken with them off) gets it now, from the number in its key (its carrier
        source is not counted: that happens at a message's first status)."""
        processor = cls(data["partition"], config, hlr)
        processor.offset = data["offset"]
        processor.clock_ns = data["clock_ns"]
        processor.aggregates = Aggregates.from_json(data["aggregates"], processor.partition)
        # Labels first: a destination computed below takes its labels after the restored ones.
        for name, label in processor._labels().items():
            label.restore(data["labels"].get(name, ()))
        for name, seen in data["labels"].items():
            if name.startswith(_CARRIERS_LABEL):
                processor._carriers_of(name.removeprefix(_CARRIERS_LABEL)).restore(seen)
        destinations: list[Destination] = [
            (country, carrier, source) for country, carrier, source in data.get("destinations", ())
        ]
        messages = processor.messages
        for key, first_seen, type_, counted, cost, *rest in data["messages"]:
            where = rest[0] if rest else None
            destination: Destination | None = None  # off: none of that work, from the snapshot on
            if config.destinations:
                destination = (
                    processor.destination(phone_of_key(key), None) if where is None else destinations[where]
                )
            messages.set(
                key, first_seen, type_, counted, None if cost is None else Decimal(cost), destination
            )
        processor.seen.restore(_digests_from_json(data["seen"]))
        processor.finished.restore(_members_from_json(data["finished"]))
        return processor

    def _labels(self) -> dict[str, BoundedLabel]:
        return {
            "senders": self.senders,
            "menu_paths": self.menu_paths,
            "incoming_numbers": self.incoming_numbers,
            "hlr_values": self.hlr_values,
            "unknown_codes": self.unknown_codes,
            "countries": self.countries,
            **{_CARRIERS_LABEL + country: carriers for country, carriers in sorted(self.carriers.items())},
        }


def phone_of_key(key: str) -> str:
    """The number of a message state's key, `account|id:phone`: after the last `:`. An id may hold `:`,
    a number SMSC sends does not (a number that does reads as an unknown destination anyway)."""
    return key.rpartition(":")[2]


# Snapshot layout of the two expiring sets: columns, expiry times as differences from the previous one
# (oldest first, so small non-negative numbers), digests as packed little-endian uint64 in base64 —
# a third of the JSON of [member, expires] pairs, which the snapshot writes every few seconds.
# Snapshots of the earlier layout (a list of pairs; identity texts in `seen`) are still read.


def _expiry_deltas(expiries: list[int]) -> list[int]:
    return list(map(operator.sub, expiries, [0, *expiries]))


def _digests_to_json(members: ExpiringSet[int]) -> dict[str, Any]:
    member_list, expiries = members.columns()
    digests = array("Q", member_list)
    if sys.byteorder == "big":
        digests.byteswap()
    encoded = base64.b64encode(digests.tobytes()).decode("ascii")
    return {"digests": encoded, "expires": _expiry_deltas(expiries)}


def _digests_from_json(data: Any) -> list[tuple[int, int]]:
    if isinstance(data, list):  # [identity text or digest, expires] pairs
        return [(identity_digest(m) if isinstance(m, str) else m, expires) for m, expires in data]
    digests = array("Q", base64.b64decode(data["digests"]))
    if sys.byteorder == "big":
        digests.byteswap()
    return list(zip(digests, itertools.accumulate(data["expires"]), strict=True))


def _members_to_json(members: ExpiringSet[str]) -> dict[str, Any]:
    member_list, expiries = members.columns()
    return {"members": member_list, "expires": _expiry_deltas(expiries)}


def _members_from_json(data: Any) -> list[tuple[str, int]]:
    if isinstance(data, list):
        return [(member, expires) for member, expires in data]
    return list(zip(data["members"], itertools.accumulate(data["expires"]), strict=True))


def identity_digest(identity: str) -> int:
    """The 64-bit BLAKE2b digest of a deduplication identity: what the dedupe window stores.

    Why: the window holds every identity of the last 4 hours (a million and more); as text each costs
    ~150 B, as a 64-bit int ~90 B with its set slot. Stable across processes (unlike `hash()`), so
    snapshots restore. The price is a collision chance: a new callback is wrongly taken for a duplicate
    only if its digest equals one of the n in the window, probability n / 2**64 per callback. With a
    million identities in the window and 100 million callbacks a day: 5.4e-14 per callback, one false
    duplicate in ~500 years; ten times both, one in ~5 years. Acceptable where a message key collision
    would not be (it would merge two lifecycles), hence message keys stay text; and below the rate of
    undetected memory errors of the machines that hold the state.
    """
    return int.from_bytes(hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=8).digest())


def _identity(account: str, callback: Callback) -> str:
    """The deduplication identity: status (id, phone, status, ts); incoming (id); confirmation (phone, ts)."""
    if isinstance(callback, StatusCallback):
        when = callback.occurred_at.isoformat() if callback.occurred_at else ""
        return f"s|{account}|{callback.id}|{callback.phone}|{callback.status}|{when}"
    if isinstance(callback, IncomingSms):
        return f"i|{account}|{callback.id}"
    assert isinstance(callback, CallConfirmation)
    return f"c|{account}|{callback.phone}|{callback.ts.isoformat()}"
