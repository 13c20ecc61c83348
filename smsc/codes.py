"""The SMSC code tables (status, error, message type) and this project's reading of them.

The *outcome* and *category* columns are ours, not the provider's (docs/codes.md gives the sources):
a correction is a one-line change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeVar


class Outcome(StrEnum):
    """What a status means for the life of a message."""

    PENDING = "pending"
    DELIVERED = "delivered"
    READ = "read"
    CLICKED = "clicked"
    EXPIRED = "expired"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """Delivered, failed and expired end a message; read/clicked imply delivery but are engagement."""
        return self in _FINAL_OUTCOMES

    @property
    def implies_delivery(self) -> bool:
        return self in (Outcome.DELIVERED, Outcome.READ, Outcome.CLICKED)


_FINAL_OUTCOMES: Final = frozenset({Outcome.DELIVERED, Outcome.FAILED, Outcome.EXPIRED})


@dataclass(frozen=True, slots=True)
class StatusCode:
    code: int
    name: str
    meaning: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    description: str
    category: str


_Row = TypeVar("_Row", StatusCode, ErrorCode)


def _by_code(*rows: _Row) -> MappingProxyType[int, _Row]:
    return MappingProxyType({row.code: row for row in rows})


STATUS_CODES: Final[MappingProxyType[int, StatusCode]] = _by_code(
    StatusCode(-3, "not_found", "message not found (for this phone and id)", Outcome.NOT_FOUND),
    StatusCode(-2, "stopped", "stopped: a mailing paused before hand-over to the operator", Outcome.PENDING),
    StatusCode(-1, "waiting", "waiting to be sent (scheduled or queued)", Outcome.PENDING),
    StatusCode(0, "passed_to_operator", "handed over to the operator", Outcome.PENDING),
    StatusCode(1, "delivered", "delivered", Outcome.DELIVERED),
    StatusCode(2, "read", "read (HTML e-mail opened)", Outcome.READ),
    StatusCode(3, "expired", "expired: lifetime ran out undelivered", Outcome.EXPIRED),
    StatusCode(4, "clicked", "link clicked", Outcome.CLICKED),
    StatusCode(20, "undeliverable", "impossible to deliver", Outcome.FAILED),
    StatusCode(22, "wrong_format", "wrong number format", Outcome.FAILED),
    StatusCode(
        23, "forbidden", "forbidden (duplicate, flood, blacklist or spam-filter rules)", Outcome.FAILED
    ),
    StatusCode(24, "insufficient_funds", "insufficient funds", Outcome.FAILED),
    StatusCode(25, "unavailable_number", "unavailable number (no SMS reception or no route)", Outcome.FAILED),
)

ERROR_CODES: Final[MappingProxyType[int, ErrorCode]] = _by_code(
    ErrorCode(1, "subscriber does not exist", "subscriber"),
    ErrorCode(6, "subscriber offline or out of range", "subscriber"),
    ErrorCode(11, "service not available (roaming without SMS, landline)", "subscriber"),
    ErrorCode(12, "handset or SIM error", "subscriber"),
    ErrorCode(13, "subscriber blocked", "subscriber"),
    ErrorCode(21, "device does not support the service", "subscriber"),
    ErrorCode(200, "virtual send (test mode)", "test"),
    ErrorCode(219, "SIM replaced: alphanumeric senders blocked for 24 h", "subscriber"),
    ErrorCode(220, "operator's queue for this subscriber overflowed", "operator"),
    ErrorCode(237, "subscriber not answering (voice call)", "voice"),
    ErrorCode(238, "no template", "account"),
    ErrorCode(239, "sender IP forbidden", "account"),
    ErrorCode(240, "busy (voice call)", "voice"),
    ErrorCode(241, "conversion error, or not all SMS parts sent", "content"),
    ErrorCode(242, "answering machine detected (voice call)", "voice"),
    ErrorCode(243, "no contract", "account"),
    ErrorCode(244, "mailing forbidden", "account"),
    ErrorCode(245, "status not received", "operator"),
    ErrorCode(246, "time restriction", "account"),
    ErrorCode(247, "message limit exceeded", "account"),
    ErrorCode(248, "no route (no SMS gateway for the number)", "operator"),
    ErrorCode(249, "wrong number format", "number"),
    ErrorCode(250, "number forbidden by settings", "account"),
    ErrorCode(251, "daily per-number limit exceeded", "account"),
    ErrorCode(252, "number forbidden", "account"),
    ErrorCode(253, "spam filter", "account"),
    ErrorCode(254, "unregistered sender id", "account"),
    ErrorCode(255, "operator rejected without an exact code", "operator"),
)

#: Message types (`type` of a status callback, bits 0-3 of `flag`). E-mail (8) appears in `flag` only.
MESSAGE_TYPES: Final = MappingProxyType(
    {
        0: "sms",
        1: "flash",
        2: "binary",
        3: "wap_push",
        4: "hlr",
        5: "ping",
        6: "mms",
        7: "voice",
        8: "email",
        10: "viber",
        12: "social",
    }
)

VOICE_TYPE: Final = 7
HLR_TYPE: Final = 4


class VoiceOutcome(StrEnum):
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    BUSY = "busy"
    ANSWERING_MACHINE = "answering_machine"
    FAILED = "failed"
    EXPIRED = "expired"


_VOICE_ERRORS: Final = MappingProxyType(
    {237: VoiceOutcome.NOT_ANSWERED, 240: VoiceOutcome.BUSY, 242: VoiceOutcome.ANSWERING_MACHINE}
)


def status_outcome(status: int) -> Outcome:
    """The outcome of a status code; a code the tables do not know is `unknown`, never an error."""
    row = STATUS_CODES.get(status)
    return row.outcome if row else Outcome.UNKNOWN


def status_name(status: int) -> str:
    row = STATUS_CODES.get(status)
    return row.name if row else "unknown"


def error_description(err: int) -> str:
    row = ERROR_CODES.get(err)
    return row.description if row else "unknown error code"


def error_category(err: int) -> str:
    row = ERROR_CODES.get(err)
    return row.category if row else "unknown"


def message_type_name(message_type: int) -> str:
    """`sms`, `viber`, ...; an unknown type keeps its number (`type_13`), as the provider adds types."""
    return MESSAGE_TYPES.get(message_type, f"type_{message_type}")


def voice_outcome(status: int, err: int) -> VoiceOutcome | None:
    """The outcome of a voice call from a final status, or None while the call is not final."""
    outcome = status_outcome(status)
    if outcome.implies_delivery:
        return VoiceOutcome.ANSWERED
    if outcome is Outcome.EXPIRED:
        return VoiceOutcome.EXPIRED
    if outcome is Outcome.FAILED:
        return _VOICE_ERRORS.get(err, VoiceOutcome.FAILED)
    return None
