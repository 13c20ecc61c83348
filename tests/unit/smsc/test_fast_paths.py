"""The fast paths of decoding and parsing give what the general paths give, errors included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulator import WireConfig, generate
from smsc.errors import DecodeError, FieldError, InputTooLargeError, SmscError
from smsc.events import Destination, dumps_callback_event, dumps_event, event_from_callback
from smsc.models import Callback, StatusCallback
from smsc.parse import _int, account_timezone, parse_callback, parse_time
from smsc.wire import BodyFormat, Limits, _decode_json, decode_request
from tests.unit.smsc.test_wire import decode_error


def test_a_text_starting_with_a_bom_is_refused_as_json_loads_refuses_it() -> None:
    with pytest.raises(json.JSONDecodeError) as plain:
        json.loads('\ufeff{"id": "1"}')
    with pytest.raises(DecodeError) as ours:
        _decode_json('\ufeff{"id": "1"}'.encode(), "utf-8")
    assert ours.value.reason == f"malformed JSON: {plain.value.msg} at line 1 column 1"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"id": "1", "id": "2"}', "id", "twice"),
        (b'{"id": "1", "": "2"}', "body", "empty name"),
        (b'{"id": {"a": "1"}}', "id", "an object"),
        (b'{"id": true}', "id", "a boolean"),
        (b'{"id": null}', "id", "null"),
        (b'{"id": ["1"]}', "id", "an array"),
        (rb'{"mes": "\ud83d"}', "mes", "surrogate"),
    ],
)
def test_json_anomalies_leave_the_fast_path_with_the_same_error(body: bytes, field: str, words: str) -> None:
    error = decode_error(body)
    assert (error.field, words in error.reason) == (field, True)


def test_json_repeated_equal_values_and_escapes_are_accepted() -> None:
    decoded = decode_request(
        rb'{"id": "1", "id": "1", "mes": "\u041f\u0440\u0438\u0432\u0435\u0442", "n": 1.10}'
    )
    assert dict(decoded.params) == {"id": "1", "mes": "Привет", "n": "1.10"}


def test_json_limits_apply_on_the_fast_path() -> None:
    body = json.dumps({f"p{i}": "1" for i in range(5)}).encode()
    with pytest.raises(InputTooLargeError):
        decode_request(body, limits=Limits(max_parameters=4))
    with pytest.raises(InputTooLargeError):
        decode_request(b'{"abcdef": "1"}', limits=Limits(max_name_chars=5))
    assert len(decode_request(body, limits=Limits(max_parameters=5)).params) == 5


@pytest.mark.parametrize(
    "text",
    ["0", "7", "-1", "+5", "-0", "007", "123456789012345678", "1234567890123456789", "9223372036854775807"],
)
def test_integers_read_as_int_reads_them(text: str) -> None:
    assert _int(f" {text} ", "f") == int(text)


@pytest.mark.parametrize(
    "text", ["", "-", "+", "1.0", "1e3", "9223372036854775808", "12345678901234567890", "--1"]
)
def test_non_integers_are_refused(text: str) -> None:
    with pytest.raises(FieldError):
        _int(text or "-+", "f")


def test_non_ascii_digits_keep_their_old_reading() -> None:
    assert _int("٣", "f") == 3  # the pattern's \d admits them, as before the fast path


def test_parsed_times_are_the_same_from_the_cache() -> None:
    moscow = account_timezone("Europe/Moscow")
    for _ in range(2):
        assert parse_time("1740981600", field="ts", tz=moscow) == datetime(2025, 3, 3, 6, tzinfo=UTC)
        assert parse_time("03.03.25 09:00:00", field="time", tz=moscow) == datetime(2025, 3, 3, 6, tzinfo=UTC)
        other = timezone(timedelta(hours=5))  # not a ZoneInfo: read, not cached
        assert parse_time("03.03.25 09:00:00", field="time", tz=other) == datetime(2025, 3, 3, 4, tzinfo=UTC)
    with pytest.raises(FieldError):
        parse_time("99999999999", field="ts", tz=moscow)


def test_event_times_outside_utc_keep_their_own_text() -> None:
    utc = parse_callback({"id": "1", "phone": "7", "status": "1", "ts": "1740981600"})
    event = event_from_callback(utc, account="a", received_at_ns=1)
    assert event["ts"] == "2025-03-03T06:00:00Z"
    shifted = StatusCallback(
        id="1", phone="7", status=1, ts=datetime(2025, 3, 3, 9, tzinfo=timezone(timedelta(hours=3)))
    )
    assert event_from_callback(shifted, account="a", received_at_ns=1)["ts"] == "2025-03-03T09:00:00+03:00"
    assert json.loads(dumps_event(event)) == event


def _both(
    callback: Callback, account: str = "acme", destination: Destination | None = None
) -> tuple[bytes, bytes]:
    direct = dumps_callback_event(
        callback, account=account, received_at_ns=7, raw_partition=1, raw_offset=9, destination=destination
    )
    event = event_from_callback(
        callback, account=account, received_at_ns=7, raw_partition=1, raw_offset=9, destination=destination
    )
    return direct, dumps_event(event)


DESTINATIONS: list[Destination | None] = [
    None,
    ("RU", "MTS", "range"),
    ("KZ", "Beeline", "hlr"),
    ("unknown", "unknown", "unknown"),
    ("RU", 'Tele"2\\ \u2028Ё\n', "hlr"),  # what the carrier's name may hold is escaped alike
]


@pytest.mark.parametrize("body_format", list(BodyFormat))
@pytest.mark.parametrize("charset", ["utf-8", "windows-1251", "koi8-r"])
def test_the_direct_event_is_the_general_event_byte_for_byte(body_format: BodyFormat, charset: str) -> None:
    for simulated in generate(seed=11, count=1500, wire=WireConfig(charset=charset, body_format=body_format)):
        try:
            request = decode_request(simulated.body, simulated.query_string, simulated.content_type)
            callback = parse_callback(request.params)
        except SmscError:
            continue
        for destination in DESTINATIONS:
            direct, general = _both(callback, simulated.account, destination)
            assert direct == general


@pytest.mark.parametrize(
    "params",
    [
        {
            "id": "1",
            "phone": "7",
            "status": "1",
            "ts": "1740981600",
            "flag": str(1 << 8 | 0b11 << 9 | 1 << 5),
        },
        {"id": 'a"b\\c', "phone": "+7 (999)", "status": "20", "err": "6", "sender": "Ё\n\x01", "md5": "ab"},
        {"id": "1", "phone": "7", "status": "1", "type": "7", "cmt": "overtime: 1:05", "dtmf": "12#"},
        {"id": "1", "phone": "7", "status": "1", "type": "4", "imsi": "250", "cn": "Russia", "rnet": "X"},
        {
            "id": "1",
            "phone": "7",
            "status": "-1",
            "callmenu": "12",
            "ringtime": "5",
            "tag": "\u2028x",
            "z": "",
        },
        {"id": "1", "phone": "7", "status": "77", "cost": "1,5", "cnt": "3", "type": "300", "syserr": "x"},
        {"id": "1", "phone": "7", "mes": "hi", "to": "100"},
        {"phone": "7", "waitcall": "1", "ts": "1740981600"},
    ],
)
def test_unusual_callbacks_give_the_same_event_bytes(params: dict[str, str]) -> None:
    for destination in DESTINATIONS:
        direct, general = _both(parse_callback(params), destination=destination)
        assert direct == general


def test_values_of_other_types_take_the_general_path() -> None:
    callback = StatusCallback(id="1", phone="7", status=True, err=False, cnt=2)
    direct, general = _both(callback)
    assert direct == general
    assert b'"status":true' in direct
