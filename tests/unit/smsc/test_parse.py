"""Parameters -> typed callbacks: every field of the protocol, and precise errors for bad values."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc import (
    Balance,
    CallbackKind,
    CallConfirmation,
    FieldError,
    IncomingSms,
    Outcome,
    SignatureAlgorithm,
    SmscError,
    StatusCallback,
    TemplateKind,
    VoiceOutcome,
    account_timezone,
    decode_request,
    encode_request,
    parse_callback,
)
from smsc.parse import parse_duration, parse_overtime, parse_time
from smsc.wire import BodyFormat

MOSCOW = account_timezone("Europe/Moscow")


def status(**params: str) -> StatusCallback:
    callback = parse_callback({"id": "1001", "phone": "79991234567", "status": "1", **params})
    assert isinstance(callback, StatusCallback)
    return callback


def test_a_full_status_callback_has_every_field() -> None:
    flag = 7 | 1 << 5 | 1 << 8 | 0b11 << 9  # voice call, second balance, advertising template
    callback = status(
        status="1",
        time="24.11.26 15:30:05",
        ts="1795523405",
        err="0",
        syserr="12",
        cnt="3",
        type="7",
        cost="12.50",
        flag=str(flag),
        sender="SHOP",
        dtmf="1#",
        cmt="campaign 7\novertime: 01:05",
        calltime="42",
        callmenu="1-3",
        ringtime="0:07",
        md5="ABCDEF",
        charset="utf-8",
        account="acme",
    )
    assert callback.kind is CallbackKind.STATUS
    assert callback.message_key == "1001:79991234567"
    assert callback.ts == datetime(2026, 11, 24, 12, 30, 5, tzinfo=UTC)
    assert callback.time == datetime(2026, 11, 24, 12, 30, 5, tzinfo=UTC)  # Moscow is UTC+3
    assert (callback.err, callback.syserr, callback.cnt, callback.type) == (0, "12", 3, 7)
    assert callback.cost == Decimal("12.50")
    assert callback.flag is not None
    assert callback.flag.message_type == 7
    assert callback.flag.balance is Balance.SECOND
    assert callback.flag.template_kind is TemplateKind.ADVERTISING
    assert (callback.sender, callback.dtmf) == ("SHOP", "1#")
    assert callback.overtime_seconds == 65
    assert callback.voice_menu is not None
    assert (callback.voice_menu.calltime_seconds, callback.voice_menu.callmenu) == (42, "1-3")
    assert callback.voice_menu.ringtime_seconds == 7
    assert callback.signature is not None
    assert callback.signature.algorithm is SignatureAlgorithm.MD5
    assert callback.extra == (("charset", "utf-8"), ("account", "acme"))
    assert callback.outcome is Outcome.DELIVERED
    assert callback.voice_outcome is VoiceOutcome.ANSWERED
    assert callback.type_name == "voice"


def test_hlr_fields() -> None:
    callback = status(
        type="4",
        imsi="250011234567890",
        msc="79160000000",
        mcc="250",
        mnc="01",
        cn="Россия",
        net="MTS",
        rcn="",
        rnet="",
    )
    assert callback.is_hlr
    assert callback.hlr is not None
    assert (callback.hlr.mcc, callback.hlr.mnc) == (250, "01")
    assert (callback.hlr.country, callback.hlr.network, callback.hlr.roaming) == ("Россия", "MTS", False)
    assert status(type="4", mcc="250", rnet="Vodafone").hlr.roaming is True  # type: ignore[union-attr]


def test_minimal_status_and_defaults() -> None:
    callback = status(err="", cost="")
    assert (callback.err, callback.cost, callback.flag, callback.hlr, callback.voice_menu) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert callback.message_type == 0
    assert callback.occurred_at is None


def test_message_type_falls_back_to_flag_bits() -> None:
    assert status(flag=str(10)).message_type == 10
    assert status(flag=str(10), type="0").message_type == 0


def test_failed_voice_outcomes_come_from_err() -> None:
    assert status(type="7", status="20", err="240").voice_outcome is VoiceOutcome.BUSY
    assert status(type="7", status="20", err="237").voice_outcome is VoiceOutcome.NOT_ANSWERED
    assert status(type="7", status="3").voice_outcome is VoiceOutcome.EXPIRED
    assert status(type="7", status="0").voice_outcome is None
    assert status(type="0", status="1").voice_outcome is None


def test_incoming_sms() -> None:
    callback = parse_callback(
        {"id": "55", "sms_id": "1001", "phone": "79991234567", "mes": " Да ", "to": "79000000000",
         "smsc": "MTS", "sent": "1795523400", "time": "1795523405", "sha1": "ff"}
    )  # fmt: skip
    assert isinstance(callback, IncomingSms)
    assert callback.mes == " Да "  # the text exactly as sent
    assert callback.is_reply
    assert callback.message_key == "79991234567"
    assert callback.sent == datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    not_reply = parse_callback({"id": "56", "phone": "7999", "mes": "", "to": "7000"})
    assert isinstance(not_reply, IncomingSms)
    assert not not_reply.is_reply


def test_call_confirmation() -> None:
    callback = parse_callback({"waitcall": "1", "phone": "79991234567", "ts": "1795523405", "crc32": "123"})
    assert isinstance(callback, CallConfirmation)
    assert callback.occurred_at == datetime(2026, 11, 24, 12, 30, 5, tzinfo=UTC)
    assert callback.kind is CallbackKind.CALL_CONFIRMATION


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"phone": "7999", "status": "1"}, "id", "missing"),
        ({"id": "1", "phone": " ", "status": "1"}, "phone", "empty"),
        ({"id": "1", "phone": "7999", "status": "delivered"}, "status", "not an integer"),
        ({"id": "1", "phone": "7999", "status": "1", "err": "-5"}, "err", "negative"),
        ({"id": "1", "phone": "7999", "status": "1", "cost": "1e3"}, "cost", "not a decimal"),
        ({"id": "1", "phone": "7999", "status": "1", "cost": "NaN"}, "cost", "not a decimal"),
        ({"id": "1", "phone": "7999", "status": "1", "flag": "70000"}, "flag", "2-byte"),
        ({"id": "1", "phone": "7999", "status": "1", "ts": "yesterday"}, "ts", "neither Unix"),
        (
            {"id": "1", "phone": "7999", "status": "1", "time": "31.02.26 10:00:00"},
            "time",
            "not a valid date",
        ),
        ({"id": "1", "phone": "7999", "status": "1", "ts": "99999999999"}, "ts", "plausible"),
        ({"id": "1", "phone": "7999", "status": "1", "mcc": "2500"}, "mcc", "3-digit"),
        ({"id": "1", "phone": "7999", "status": "1", "mnc": "x1"}, "mnc", "network code"),
        ({"id": "1", "phone": "7999", "status": "1", "ringtime": "1:75"}, "ringtime", "duration"),
        ({"id": "1", "phone": "7999", "status": "1", "cmt": "overtime: soon"}, "cmt", "duration"),
        ({"id": "1" * 65, "phone": "7999", "status": "1"}, "id", "longer than 64"),
        ({"id": "1\n2", "phone": "7999", "status": "1"}, "id", "control characters"),
        ({"waitcall": "1", "phone": "7999"}, "ts", "missing"),
        ({"mes": "hi", "phone": "7999", "to": "7000"}, "id", "missing"),
    ],
)
def test_bad_values_name_the_field_and_the_reason(params: dict[str, str], field: str, reason: str) -> None:
    with pytest.raises(FieldError, match=reason) as caught:
        parse_callback(params)
    assert caught.value.field == field
    assert caught.value.code == "invalid_field"


def test_time_forms() -> None:
    assert parse_time("24.11.2026 15:30:05", field="time", tz=MOSCOW) == datetime(
        2026, 11, 24, 12, 30, 5, tzinfo=UTC
    )
    assert parse_time("1795523405.5", field="ts", tz=MOSCOW) == datetime(
        2026, 11, 24, 12, 30, 5, 500000, tzinfo=UTC
    )
    assert parse_time("24.11.26 15:30:05", field="time", tz=account_timezone("UTC")).hour == 15
    with pytest.raises(FieldError, match="unknown time zone"):
        account_timezone("Mars/Olympus")


def test_durations_and_overtime() -> None:
    assert [parse_duration(v, "x") for v in ("0", "75", "1:15", "01:15", "1:01:15")] == [0, 75, 75, 75, 3675]
    assert parse_overtime("no overtime here") is None
    assert parse_overtime("line one\n  Overtime: 2:03  \nline three") == 123
    assert status(cost="1,5").cost == Decimal("1.5")


# Keys the protocol knows, so that generated dictionaries hit the typed paths, not only `extra`.
_KEYS = st.sampled_from(
    ("id", "phone", "status", "ts", "time", "err", "syserr", "cnt", "type", "cost", "flag", "sender",
     "dtmf", "cmt", "mcc", "mnc", "calltime", "callmenu", "ringtime", "mes", "to", "sms_id", "sent",
     "waitcall", "md5", "sha1", "crc32", "imsi", "cn")
)  # fmt: skip
_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(-(2**70), 2**70).map(str),
    st.from_regex(r"\d{1,2}\.\d{1,2}\.\d{2,4} \d{1,2}:\d{1,2}:\d{1,2}", fullmatch=True),
    st.from_regex(r"\d{1,3}:\d{1,3}(:\d{1,3})?", fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_KEYS | st.text(min_size=1, max_size=8), _VALUES, max_size=12))
def test_any_parameters_give_a_model_or_the_librarys_own_error(params: dict[str, str]) -> None:
    error: SmscError | None = None
    try:
        callback = parse_callback(params)
    except SmscError as exc:
        error = exc
    if error is not None:
        assert error.field is None or error.field
        assert error.reason
    else:
        assert callback.kind in CallbackKind


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["", "charset=utf-8", "fmt=2", "fmt=3", "charset=koi8-r"]))
def test_any_bytes_through_decode_and_parse_raise_only_library_errors(body: bytes, query: str) -> None:
    with contextlib.suppress(SmscError):
        parse_callback(decode_request(body, query).params)


@pytest.mark.parametrize("body_format", list(BodyFormat))
@pytest.mark.parametrize("charset", ["windows-1251", "koi8-r", "utf-8"])
def test_every_kind_decodes_from_every_charset_and_format(charset: str, body_format: BodyFormat) -> None:
    cases: list[tuple[dict[str, str], type]] = [
        ({"id": "7", "phone": "79991234567", "status": "20", "err": "1", "sender": "Магазин", "cost": "1.20"},
         StatusCallback),
        ({"id": "9", "phone": "79991234567", "mes": "Привет, это ответ", "to": "79000000000"}, IncomingSms),
        ({"waitcall": "1", "phone": "79991234567", "ts": "1795523405"}, CallConfirmation),
    ]  # fmt: skip
    for params, model in cases:
        encoded = encode_request({**params, "charset": charset}, charset=charset, body_format=body_format)
        request = decode_request(encoded.body, encoded.query_string, encoded.content_type)
        callback = parse_callback(request.params)
        assert isinstance(callback, model)
        assert request.charset == charset
        assert dict(callback.extra) == {"charset": charset}
    sender = parse_callback(
        decode_request(
            encode_request(cases[0][0], charset=charset, body_format=body_format).body,
            f"charset={charset}",
        ).params
    )
    assert isinstance(sender, StatusCallback)
    assert sender.sender == "Магазин"
