"""Injectable faults: error bursts, reordered and late statuses, duplicates, malformed and unsigned copies.

Faults never change the clean workload of a seed: reordering moves callbacks in time, the other faults
add copies of clean callbacks (each marked with its `Fault` and the `seq` it copies). Every decision is
drawn from the injector's own seeded generator.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from random import Random
from types import MappingProxyType
from typing import Final

from simulator.callbacks import Fault, SimulatedCallback
from simulator.draws import chance
from simulator.errors import ConfigError
from simulator.wire import SIGNATURE_PARAMS, WireChoice, WireConfig, encode, signature
from smsc import (
    BodyFormat,
    CallbackKind,
    Outcome,
    SignatureAlgorithm,
    SmscError,
    decode_request,
    parse_callback,
    status_outcome,
)

#: How far (in callbacks) a copy may trail the callback it copies.
MAX_COPY_DISTANCE: Final = 40
#: A late status arrives this long (seconds) after its message's final status, at most.
MAX_LATENESS_SECONDS: Final = 120.0


@dataclass(frozen=True, slots=True)
class ErrorBurst:
    """From `start_seconds` after the workload's start, for `length_seconds`, messages fail with `err`."""

    start_seconds: float
    length_seconds: float
    err: int = 255
    #: The share of messages created during the burst that fail this way.
    ratio: float = 0.8

    def __post_init__(self) -> None:
        if self.start_seconds < 0 or self.length_seconds <= 0:
            raise ConfigError("an error burst needs START >= 0 and LENGTH > 0", field="error_burst")
        if not 0 < self.ratio <= 1:
            raise ConfigError("an error burst's ratio must be in (0, 1]", field="error_burst")

    def covers(self, offset_seconds: float) -> bool:
        return self.start_seconds <= offset_seconds < self.start_seconds + self.length_seconds

    @classmethod
    def parse(cls, spec: str, *, ratio: float = 0.8) -> ErrorBurst:
        """`START:LENGTH[:ERR]` in seconds after the start, e.g. `60:30` or `60:30:248`."""
        parts = spec.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            err = int(parts[2]) if len(parts) == 3 else 255
            return cls(float(parts[0]), float(parts[1]), err, ratio)
        except ValueError:
            raise ConfigError(f"{spec!r} is not START:LENGTH[:ERR]", field="error_burst") from None


@dataclass(frozen=True, slots=True)
class Faults:
    """The share of clean callbacks (or messages, for reordering) each fault applies to."""

    duplicate_ratio: float = 0.0
    malformed_ratio: float = 0.0
    #: Need a secret in the `WireConfig`: without one there is no signature to drop or spoil.
    unsigned_ratio: float = 0.0
    bad_signature_ratio: float = 0.0
    #: Share of messages whose two adjacent statuses are sent in swapped order.
    out_of_order_ratio: float = 0.0
    #: Share of finished messages one of whose pending statuses is sent after the final one.
    late_ratio: float = 0.0
    error_bursts: tuple[ErrorBurst, ...] = ()

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_ratio") and not 0 <= value <= 1:
                raise ConfigError(f"{value} is not a share between 0 and 1", field=field.name)

    def burst_at(self, offset_seconds: float) -> ErrorBurst | None:
        return next((burst for burst in self.error_bursts if burst.covers(offset_seconds)), None)


NO_FAULTS: Final = Faults()


def reorder(statuses: Sequence[int], sent_at: list[float], rng: Random, faults: Faults) -> dict[int, Fault]:
    """Move statuses of one message in time (in place in `sent_at`); returns index -> fault applied.

    `statuses` are the message's status codes in the order they happened.
    """
    applied: dict[int, Fault] = {}
    if chance(rng, faults.out_of_order_ratio) and len(statuses) >= 2:
        first = rng.randrange(len(statuses) - 1)
        sent_at[first], sent_at[first + 1] = sent_at[first + 1], sent_at[first]
        applied[first + 1] = Fault.OUT_OF_ORDER
    if chance(rng, faults.late_ratio):
        final = next((i for i, code in enumerate(statuses) if status_outcome(code).is_final), None)
        pending = [i for i in range(final or 0) if status_outcome(statuses[i]) is Outcome.PENDING]
        if final is not None and pending:
            late = rng.choice(pending)
            sent_at[late] = max(sent_at) + rng.uniform(1.0, MAX_LATENESS_SECONDS)
            applied[late] = Fault.LATE
    return applied


class Malformation(StrEnum):
    """How a malformed copy is broken (the stream processors dead-letter all of them)."""

    TRUNCATED = "truncated"
    BAD_STATUS = "bad_status"
    BAD_TIMESTAMP = "bad_timestamp"
    INVALID_BYTES = "invalid_bytes"
    MISSING_PHONE = "missing_phone"
    EMPTY_BODY = "empty_body"


_BAD_TIME: Final = {
    CallbackKind.STATUS: "ts",
    CallbackKind.INCOMING: "time",
    CallbackKind.CALL_CONFIRMATION: "ts",
}


def malform(
    callback: SimulatedCallback,
    how: Malformation,
    *,
    secret: str | None = None,
    algorithm: SignatureAlgorithm = SignatureAlgorithm.MD5,
) -> tuple[bytes, str, str]:
    """(body, query string, content type) of a broken copy; falls back to a sure break if `how` parses.

    With the account's secret, a copy with a bad field is signed over what it carries, as SMSC signs what
    it sends: an endpoint that checks signatures then stores it, and the stream processors dead-letter it.
    """
    for attempt in (how, Malformation.MISSING_PHONE, Malformation.EMPTY_BODY):
        body, query, content_type = _break(callback, attempt, secret, algorithm)
        if not _parses(body, query, content_type):
            return body, query, content_type
    raise AssertionError("an empty body always fails to parse")  # pragma: no cover


def _break(
    callback: SimulatedCallback, how: Malformation, secret: str | None, algorithm: SignatureAlgorithm
) -> tuple[bytes, str, str]:
    params = dict(callback.params)
    choice = WireChoice(callback.charset, callback.body_format, callback.query_keys)
    if how is Malformation.TRUNCATED:
        return callback.body[: len(callback.body) * 2 // 3], callback.query_string, callback.content_type
    if how is Malformation.EMPTY_BODY:
        return b"", "", callback.content_type
    if how is Malformation.INVALID_BYTES:
        # Says UTF-8, carries a windows-1251 byte sequence that is not UTF-8.
        params["charset"] = "utf-8"
        request = encode(params, WireChoice("utf-8", BodyFormat.FORM, ()))
        return request.body + b"&cmt=%E7%E0%EA%E0%E7", "", request.content_type
    if how is Malformation.BAD_STATUS:
        params["status"] = "ok"
    elif how is Malformation.BAD_TIMESTAMP:
        params[_BAD_TIME[callback.kind]] = "вчера"
    else:
        params.pop("phone", None)
        choice = dataclasses.replace(choice, query_keys=())
    if secret is not None:
        for name in SIGNATURE_PARAMS & params.keys():
            del params[name]
        params[algorithm.value] = signature(callback.kind, params, secret, algorithm, callback.charset)
    request = encode(params, choice)
    return request.body, request.query_string, request.content_type


def _parses(body: bytes, query: str, content_type: str) -> bool:
    try:
        parse_callback(decode_request(body, query, content_type).params)
    except SmscError:
        return False
    return True


class Injector:
    """Numbers a clean stream of callbacks and adds the copies the faults ask for, a little later."""

    def __init__(self, faults: Faults, wire: WireConfig, rng: Random) -> None:
        self.faults = faults
        self.wire = wire
        self.rng = rng

    def __call__(self, clean: Iterator[SimulatedCallback]) -> Iterator[SimulatedCallback]:
        pending: list[tuple[int, int, SimulatedCallback]] = []  # (due position, tie-break, copy)
        tie_break = itertools.count()
        position = 0
        last_sent_at = 0.0
        for callback in clean:
            while pending and pending[0][0] <= position:
                _, _, copy = heapq.heappop(pending)
                yield dataclasses.replace(copy, seq=position, sent_at=max(copy.sent_at, last_sent_at))
                position += 1
            original = dataclasses.replace(callback, seq=position)
            yield original
            position += 1
            last_sent_at = original.sent_at
            for copy in self._copies(original):
                due = position + self.rng.randrange(MAX_COPY_DISTANCE)
                heapq.heappush(pending, (due, next(tie_break), copy))

    def _copies(self, original: SimulatedCallback) -> Iterator[SimulatedCallback]:
        rng, faults = self.rng, self.faults
        copy = partial(dataclasses.replace, original, original_seq=original.seq)
        if chance(rng, faults.duplicate_ratio):
            yield copy(fault=Fault.DUPLICATE)
        if chance(rng, faults.malformed_ratio):
            how = rng.choice(list(Malformation))
            body, query, content_type = malform(
                original, how, secret=self.wire.secret, algorithm=self.wire.algorithm
            )
            yield copy(fault=Fault.MALFORMED, body=body, query_string=query, content_type=content_type)
        signed = self.wire.secret is not None
        if chance(rng, faults.unsigned_ratio) and signed:
            yield self._resigned(original, None, Fault.UNSIGNED)
        if chance(rng, faults.bad_signature_ratio) and signed:
            yield self._resigned(original, f"{self.wire.secret}-wrong", Fault.BAD_SIGNATURE)

    def _resigned(self, original: SimulatedCallback, secret: str | None, fault: Fault) -> SimulatedCallback:
        params = {k: v for k, v in original.params.items() if k not in SIGNATURE_PARAMS}
        if secret is not None:
            algorithm = self.wire.algorithm
            params[algorithm.value] = signature(original.kind, params, secret, algorithm, original.charset)
        request = encode(params, WireChoice(original.charset, original.body_format, original.query_keys))
        return dataclasses.replace(
            original,
            params=MappingProxyType(params),
            body=request.body,
            query_string=request.query_string,
            content_type=request.content_type,
            fault=fault,
            original_seq=original.seq,
        )
