"""Telling the three kinds of callback apart, and the key of the message a callback is about."""

from __future__ import annotations

import pytest

from smsc.errors import FieldError
from smsc.kinds import CallbackKind, classify, message_key


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"id": "1", "phone": "7", "mes": "hi", "to": "8"}, CallbackKind.INCOMING),
        ({"phone": "7", "mes": ""}, CallbackKind.INCOMING),  # presence decides, as PHP's isset()
        ({"phone": "7", "mes": "hi", "waitcall": "1"}, CallbackKind.INCOMING),  # mes is checked first
        ({"phone": "7", "ts": "1700000000", "waitcall": "1"}, CallbackKind.CALL_CONFIRMATION),
        ({"phone": "7", "waitcall": ""}, CallbackKind.CALL_CONFIRMATION),
        ({"id": "1", "phone": "7", "status": "1"}, CallbackKind.STATUS),
        ({"id": "1", "phone": "7", "status": "1", "sms_id": "5", "to": "8"}, CallbackKind.STATUS),
        ({}, CallbackKind.STATUS),
    ],
)
def test_classify(params: dict[str, str], kind: CallbackKind) -> None:
    assert classify(params) is kind


def test_message_key_of_a_status_is_id_and_phone() -> None:
    # A bulk send shares one id across phones: the message is id + phone.
    params = {"id": "42", "phone": "79991234567", "status": "1"}
    assert message_key(CallbackKind.STATUS, params) == "42:79991234567"


@pytest.mark.parametrize("kind", [CallbackKind.INCOMING, CallbackKind.CALL_CONFIRMATION])
def test_message_key_of_the_other_kinds_is_the_phone(kind: CallbackKind) -> None:
    assert message_key(kind, {"id": "42", "phone": "79991234567"}) == "79991234567"
    assert message_key(kind, {"phone": "79991234567"}) == "79991234567"


@pytest.mark.parametrize(
    ("kind", "params", "field", "reason"),
    [
        (CallbackKind.STATUS, {"id": "1"}, "phone", "missing"),
        (CallbackKind.STATUS, {"phone": "7"}, "id", "missing"),
        (CallbackKind.STATUS, {"id": "", "phone": "7"}, "id", "empty"),
        (CallbackKind.STATUS, {"id": "1", "phone": " \t"}, "phone", "empty"),
        (CallbackKind.INCOMING, {"mes": "hi"}, "phone", "missing"),
        (CallbackKind.CALL_CONFIRMATION, {"waitcall": "1", "phone": ""}, "phone", "empty"),
    ],
)
def test_message_key_errors_name_the_field(
    kind: CallbackKind, params: dict[str, str], field: str, reason: str
) -> None:
    with pytest.raises(FieldError) as caught:
        message_key(kind, params)
    assert caught.value.field == field
    assert caught.value.reason == reason
    assert str(caught.value) == f"{field}: {reason}"
