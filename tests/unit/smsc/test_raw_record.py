"""The raw record contract: what ingest writes, the stream processors read back, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.errors import DecodeError
from smsc.kinds import CallbackKind
from smsc.raw_record import (
    ACCOUNT_HEADER,
    CONTENT_TYPE_HEADER,
    KIND_HEADER,
    QUERY_STRING_HEADER,
    RAW_TOPIC,
    RECEIVED_AT_NS_HEADER,
    REJECT_REASON_HEADER,
    REJECTED_TOPIC,
    REMOTE_ADDR_HEADER,
    REQUEST_ID_HEADER,
    VERSION_HEADER,
    RawRecord,
)

RECORD = RawRecord(
    body="id=1&phone=79990001122&status=1&cmt=привет".encode("cp1251"),
    query_string=b"id=1&phone=%2B7999",
    content_type="application/x-www-form-urlencoded",
    account="acme",
    received_at_ns=1_732_530_000_123_456_789,
    remote_addr="203.0.113.7",
    request_id="0f" * 16,
    kind=CallbackKind.STATUS,
)


def test_topic_names() -> None:
    assert (RAW_TOPIC, REJECTED_TOPIC) == ("smsc.callbacks.raw", "smsc.callbacks.rejected")


def test_headers_are_exactly_the_documented_ones() -> None:
    assert RECORD.to_headers() == [
        (VERSION_HEADER, b"1"),
        (QUERY_STRING_HEADER, b"id=1&phone=%2B7999"),
        (ACCOUNT_HEADER, b"acme"),
        (RECEIVED_AT_NS_HEADER, b"1732530000123456789"),
        (REQUEST_ID_HEADER, b"0f" * 16),
        (CONTENT_TYPE_HEADER, b"application/x-www-form-urlencoded"),
        (REMOTE_ADDR_HEADER, b"203.0.113.7"),
        (KIND_HEADER, b"status"),
    ]


def test_round_trip() -> None:
    assert RawRecord.from_headers(RECORD.body, RECORD.to_headers()) == RECORD


def test_absent_optional_fields_write_no_header_and_read_back_as_none() -> None:
    record = RawRecord(b"\xff", b"", None, "default", 0, None, "r", reject_reason="undecodable")
    names = [name for name, _ in record.to_headers()]
    assert CONTENT_TYPE_HEADER not in names
    assert REMOTE_ADDR_HEADER not in names
    assert KIND_HEADER not in names
    assert (REJECT_REASON_HEADER, b"undecodable") in record.to_headers()
    assert RawRecord.from_headers(b"\xff", record.to_headers()) == record


def test_a_null_value_reads_as_an_empty_body() -> None:
    record = RawRecord(b"", b"", None, "default", 5, None, "r")
    assert RawRecord.from_headers(None, record.to_headers()) == record


@pytest.mark.parametrize(
    "name", [VERSION_HEADER, QUERY_STRING_HEADER, ACCOUNT_HEADER, RECEIVED_AT_NS_HEADER, REQUEST_ID_HEADER]
)
def test_a_missing_required_header_is_named(name: str) -> None:
    headers = [(n, v) for n, v in RECORD.to_headers() if n != name]
    with pytest.raises(DecodeError) as caught:
        RawRecord.from_headers(RECORD.body, headers)
    assert caught.value.field == name
    assert caught.value.reason == "missing"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (VERSION_HEADER, b"2"),
        (RECEIVED_AT_NS_HEADER, b"-5"),
        (RECEIVED_AT_NS_HEADER, b"12x"),
        (KIND_HEADER, b"statuz"),
        (ACCOUNT_HEADER, b"\xff"),
    ],
)
def test_a_malformed_header_is_named(name: str, value: bytes) -> None:
    headers = [(n, value if n == name else v) for n, v in RECORD.to_headers()]
    with pytest.raises(DecodeError) as caught:
        RawRecord.from_headers(RECORD.body, headers)
    assert caught.value.field == name


def test_unknown_headers_are_ignored_and_the_first_of_a_repeated_one_wins() -> None:
    headers = [*RECORD.to_headers(), ("traceparent", b"00-abc"), (ACCOUNT_HEADER, b"other")]
    assert RawRecord.from_headers(RECORD.body, headers) == RECORD


@given(
    body=st.binary(max_size=200),
    query=st.binary(max_size=100),
    content_type=st.none() | st.text(st.characters(max_codepoint=255), max_size=40),
    account=st.text(min_size=1, max_size=20),
    received=st.integers(min_value=0, max_value=2**63),
    remote=st.none() | st.text(max_size=40),
    kind=st.none() | st.sampled_from(CallbackKind),
    reason=st.none() | st.text(max_size=20),
)
def test_any_record_survives_the_headers(
    body: bytes,
    query: bytes,
    content_type: str | None,
    account: str,
    received: int,
    remote: str | None,
    kind: CallbackKind | None,
    reason: str | None,
) -> None:
    record = RawRecord(body, query, content_type, account, received, remote, "id-1", kind, reason)
    assert RawRecord.from_headers(body, record.to_headers()) == record
