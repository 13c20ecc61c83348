"""Typed, immutable models of the three kinds of callback, with every field of the protocol.

Choices: identifiers (`id`, `phone`, `sms_id`, `to`, HLR `mnc`) stay text, because leading zeros and
`+` are significant; quantities are numbers; `cost` is a `Decimal` (money is summed, and a float would
drift); every time is an aware UTC `datetime`; durations are whole seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from smsc.codes import (
    HLR_TYPE,
    VOICE_TYPE,
    Outcome,
    VoiceOutcome,
    message_type_name,
    status_outcome,
    voice_outcome,
)
from smsc.flag import Flag
from smsc.kinds import CallbackKind
from smsc.signature import SignatureAlgorithm

#: Parameters the models do not name (handler-URL parameters such as `charset`, `fmt`, a client tag),
#: kept in order as received.
Extra = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Signature:
    algorithm: SignatureAlgorithm
    value: str


@dataclass(frozen=True, slots=True)
class HlrResult:
    """The extra fields of an HLR look-up (type 4)."""

    imsi: str | None = None
    msc: str | None = None
    mcc: int | None = None
    #: Text: a 2- or 3-digit code whose leading zero is significant.
    mnc: str | None = None
    country: str | None = None
    network: str | None = None
    roaming_country: str | None = None
    roaming_network: str | None = None

    @property
    def roaming(self) -> bool:
        return bool(self.roaming_country or self.roaming_network)


@dataclass(frozen=True, slots=True)
class VoiceMenu:
    """What a caller did in an interactive voice menu."""

    #: Talk time until a key was pressed, or the whole talk time.
    calltime_seconds: int | None = None
    #: The keys pressed going through the menu, in order.
    callmenu: str | None = None
    #: How long the phone rang before it was answered.
    ringtime_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """A delivery status of one message (`id` + `phone`)."""

    id: str
    phone: str
    status: int
    ts: datetime | None = None
    time: datetime | None = None
    err: int = 0
    syserr: str | None = None
    cnt: int | None = None
    type: int | None = None
    cost: Decimal | None = None
    flag: Flag | None = None
    sender: str | None = None
    dtmf: str | None = None
    cmt: str | None = None
    #: From the `overtime: mm:ss` line SMSC adds to `cmt` for a voice call with overtime.
    overtime_seconds: int | None = None
    hlr: HlrResult | None = None
    voice_menu: VoiceMenu | None = None
    signature: Signature | None = None
    extra: Extra = ()

    kind: ClassVar[CallbackKind] = CallbackKind.STATUS

    @property
    def message_key(self) -> str:
        return f"{self.id}:{self.phone}"

    @property
    def occurred_at(self) -> datetime | None:
        """When the status changed: `ts` when given, else `time` (account time zone, to the second)."""
        return self.ts or self.time

    @property
    def message_type(self) -> int:
        """`type`, else bits 0-3 of `flag`, else 0 (SMS, the provider's default)."""
        if self.type is not None:
            return self.type
        return self.flag.message_type if self.flag else 0

    @property
    def type_name(self) -> str:
        return message_type_name(self.message_type)

    @property
    def outcome(self) -> Outcome:
        return status_outcome(self.status)

    @property
    def voice_outcome(self) -> VoiceOutcome | None:
        return voice_outcome(self.status, self.err) if self.message_type == VOICE_TYPE else None

    @property
    def is_hlr(self) -> bool:
        return self.message_type == HLR_TYPE


@dataclass(frozen=True, slots=True)
class IncomingSms:
    """An SMS a subscriber sent to one of the client's numbers."""

    id: str
    phone: str
    mes: str
    to: str
    sms_id: str | None = None
    smsc: str | None = None
    sent: datetime | None = None
    time: datetime | None = None
    signature: Signature | None = None
    extra: Extra = ()

    kind: ClassVar[CallbackKind] = CallbackKind.INCOMING

    @property
    def message_key(self) -> str:
        return self.phone

    @property
    def is_reply(self) -> bool:
        """A reply to a message we sent (`sms_id` names it), not a message to a dedicated number."""
        return self.sms_id is not None

    @property
    def occurred_at(self) -> datetime | None:
        return self.time or self.sent


@dataclass(frozen=True, slots=True)
class CallConfirmation:
    """A subscriber's call for the "confirm a number by a call" service (`waitcall`)."""

    phone: str
    ts: datetime
    waitcall: int = 1
    signature: Signature | None = None
    extra: Extra = ()

    kind: ClassVar[CallbackKind] = CallbackKind.CALL_CONFIRMATION

    @property
    def message_key(self) -> str:
        return self.phone

    @property
    def occurred_at(self) -> datetime:
        return self.ts


Callback = StatusCallback | IncomingSms | CallConfirmation
