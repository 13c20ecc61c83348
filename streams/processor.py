"""One source partition's processing: raw callback -> event or dead letter, deduplicated, with aggregates.

Pure and deterministic: the state after a record is a function of the records before it, in order. A
record at or below the last applied offset is a replay and changes nothing; that, and state snapshots
that carry their offset, make the numbers exact after a crash without Kafka transactions.
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
from smsc.events import dumps_callback_event
from smsc.models import Callback, CallConfirmation, IncomingSms, StatusCallback
from smsc.parse import account_timezone, parse_callback
from smsc.wire import decode_request
from streams.aggregates import Aggregates
from streams.expiring import ExpiringSet
from streams.labels import BoundedLabel
from streams.lifecycle import MessageTable, step

NS: Final = 1_000_000_000
#: The label value of what an HLR answer lacks (a failed look-up: country, network and roaming).
UNKNOWN: Final = "unknown"
_DTMF_KEYS: Final = frozenset("0123456789*#")
_NOT_A_LIFECYCLE_STATE: Final = frozenset({Outcome.NOT_FOUND, Outcome.UNKNOWN})


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


class PartitionProcessor:
    def __init__(self, partition: int, config: ProcessorConfig) -> None:
        self.partition = partition
        self.config = config
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
        if isinstance(callback, StatusCallback):
            self._status(record.account, callback)
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
        )
        return Result(Verdict.EVENT, key=callback.message_key, event=event)

    def _status(self, account: str, callback: StatusCallback) -> None:
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
        if outcome in _NOT_A_LIFECYCLE_STATE:
            return  # a look-up answer (-3) or a code the tables do not know: counted, no message state
        key = f"{account}|{callback.message_key}"
        state = self.messages.get(key)
        labels = (account, type_name)
        if state is None:
            first_seen_s, state_type, counted, state_cost = occurred_s, message_type, 0, None
            agg.inc("smsc_messages_in_flight", labels)
            agg.cohort_first_seen(labels, occurred_s)
        else:
            first_seen_s, state_type, counted, state_cost = state
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
            if callback.cnt is not None and message_type != VOICE_TYPE:
                agg.inc("smsc_message_parts_total", (account, type_name, sender), callback.cnt)
        self.messages.set(key, first_seen_s, state_type, counted, state_cost)
        if final is not None:
            agg.inc("smsc_messages_final_total", (account, type_name, sender, final.value))
            agg.inc("smsc_messages_in_flight", labels, -1)
            self.finished.add(key, self.clock_ns)
            if final is Outcome.DELIVERED:
                agg.cohort_delivered(labels, first_seen_s)
                if outcome is Outcome.DELIVERED:
                    agg.observe("smsc_delivery_latency_seconds", labels, max(0, occurred_s - first_seen_s))
            elif state_cost is not None:
                agg.inc("smsc_cost_undelivered_total", labels, state_cost)
            if message_type == VOICE_TYPE:
                self._voice_call(account, callback)
        if engagement is not None:
            agg.inc("smsc_messages_engagement_total", (account, type_name, engagement.value))
        if count_lookup:
            agg.inc("smsc_hlr_lookups_total", (account, *self._hlr_answer(callback)))

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
        return {
            "partition": self.partition,
            "offset": self.offset,
            "clock_ns": self.clock_ns,
            "aggregates": self.aggregates.to_json(),
            "messages": self.messages.rows(),
            "seen": _digests_to_json(self.seen),
            "finished": _members_to_json(self.finished),
            "labels": {name: label.seen() for name, label in self._labels().items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], config: ProcessorConfig) -> PartitionProcessor:
        processor = cls(data["partition"], config)
        processor.offset = data["offset"]
        processor.clock_ns = data["clock_ns"]
        processor.aggregates = Aggregates.from_json(data["aggregates"], processor.partition)
        messages = processor.messages
        for key, first_seen, type_, counted, cost in data["messages"]:
            messages.set(key, first_seen, type_, counted, None if cost is None else Decimal(cost))
        processor.seen.restore(_digests_from_json(data["seen"]))
        processor.finished.restore(_members_from_json(data["finished"]))
        for name, label in processor._labels().items():
            label.restore(data["labels"].get(name, ()))
        return processor

    def _labels(self) -> dict[str, BoundedLabel]:
        return {
            "senders": self.senders,
            "menu_paths": self.menu_paths,
            "incoming_numbers": self.incoming_numbers,
            "hlr_values": self.hlr_values,
            "unknown_codes": self.unknown_codes,
        }


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
