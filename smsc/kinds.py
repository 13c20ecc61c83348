"""The three kinds of callback, telling them apart, and the key of the message a callback is about."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from smsc.errors import FieldError


class CallbackKind(StrEnum):
    STATUS = "status"
    INCOMING = "incoming"
    CALL_CONFIRMATION = "call_confirmation"


def classify(params: Mapping[str, str]) -> CallbackKind:
    """The provider's own rule: `mes` -> incoming SMS; else `waitcall` -> call confirmation; else status."""
    if "mes" in params:
        return CallbackKind.INCOMING
    if "waitcall" in params:
        return CallbackKind.CALL_CONFIRMATION
    return CallbackKind.STATUS


def message_key(kind: CallbackKind, params: Mapping[str, str]) -> str:
    """`id:phone` for a status (one message of a bulk send), `phone` otherwise: the Kafka partition key."""
    phone = _required(params, "phone")
    if kind is CallbackKind.STATUS:
        return f"{_required(params, 'id')}:{phone}"
    return phone


def message_key_bytes(kind: CallbackKind, params: Mapping[str, str]) -> bytes | None:
    """`message_key` as the Kafka record key; None (a null key) when the callback lacks its fields."""
    try:
        return message_key(kind, params).encode("utf-8")
    except FieldError:
        return None


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise FieldError("missing" if name not in params else "empty", field=name)
    return value
