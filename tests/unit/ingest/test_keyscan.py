"""The cheap key scanner gives exactly the full decoder's kind, format and key, or steps aside."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks.ingest_bodies import realistic_requests
from ingest.keyscan import _DECODING_TABLES, Scanned, _decode, _json_charset_member, scan
from smsc.encode import EncodedRequest, encode_request
from smsc.errors import DecodeError, EncodeError
from smsc.kinds import CallbackKind, classify, message_key_bytes
from smsc.wire import JSON_CHARSET_MEMBER, BodyFormat, Limits, decode_request
from tests.unit.ingest.callbacks import CHARSETS, FORMATS, callback

LIMITS = Limits()
FullResult = tuple[CallbackKind | None, BodyFormat | None, bytes | None]


def full_path(
    body: bytes, query_string: bytes, content_type: str | None, limits: Limits = LIMITS
) -> FullResult:
    """The reference: what ingest derived before the scanner existed (smsc.wire + smsc.kinds)."""
    try:
        decoded = decode_request(body, query_string, content_type, limits=limits)
    except DecodeError:
        return None, None, None
    kind = classify(decoded.params)
    return kind, decoded.format, message_key_bytes(kind, decoded.params)


def check(
    body: bytes, query_string: bytes, content_type: str | None, limits: Limits = LIMITS
) -> Scanned | None:
    scanned = scan(body, query_string, content_type, limits=limits)
    if scanned is not None:
        expected = full_path(body, query_string, content_type, limits)
        assert (scanned.kind, scanned.body_format, scanned.key) == expected
    return scanned


def _check_request(request: EncodedRequest, content_type: str | None = "default") -> Scanned | None:
    return check(
        request.body,
        request.query_string.encode("ascii"),
        request.content_type if content_type == "default" else content_type,
    )


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("body_format", FORMATS)
@pytest.mark.parametrize("kind", list(CallbackKind))
def test_what_smsc_sends_takes_the_cheap_path(
    kind: CallbackKind, body_format: BodyFormat, charset: str
) -> None:
    assert _check_request(callback(kind, charset=charset, body_format=body_format)) is not None
    # The handler URL's own parameters and the `!` rule stay on the cheap path too.
    bang = callback(kind, charset=charset, body_format=body_format, query_keys=("phone", "charset"))
    assert _check_request(bang) is not None


def test_the_benchmark_bodies_take_the_cheap_path() -> None:
    for request in realistic_requests():
        assert _check_request(request) is not None


def test_a_missing_phone_gives_a_null_key() -> None:
    scanned = check(b"id=1&status=1", b"", None)
    assert scanned == Scanned(CallbackKind.STATUS, BodyFormat.FORM, None)


@pytest.mark.parametrize(
    ("body", "query_string", "content_type"),
    [
        (b"id=1&phone=2&id=3", b"", None),  # conflicting duplicates: the decoder refuses
        (b"mes=%FF&phone=1&charset=utf-8", b"", None),  # not UTF-8
        (b"mes=%98&phone=1", b"", None),  # 0x98 is no windows-1251 character
        (b"phone=1", b"fmt=2", None),  # fmt announces XML
        (b"phone=1", b"", "application/json"),
        (b"phone=1&charset=koi8-r", b"charset=utf-8", None),  # the two charsets disagree
        (b"<a><phone>1</phone><phone>2</phone></a>", b"", None),
        (b"<a><b><c>1</c></b></a>", b"", None),
        (b'{"phone": 1, "phone": 2}', b"", None),
        (b'{"phone": "\\ud800"}', b"", None),  # a lone surrogate
        (b'{"phone": [1]}', b"", None),
        (b"\xef\xbb\xbfphone=1&charset=koi8-r", b"", None),  # a UTF-8 mark on a koi8-r body
    ],
)
def test_what_the_decoder_refuses_is_never_answered_by_the_scanner(
    body: bytes, query_string: bytes, content_type: str | None
) -> None:
    assert full_path(body, query_string, content_type) == (None, None, None)
    assert check(body, query_string, content_type) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # A root without children holds no parameter, whatever its own name.
        (b"<mes></mes>", Scanned(CallbackKind.STATUS, BodyFormat.XML, None)),
        (b"<waitcall>\n</waitcall>", Scanned(CallbackKind.STATUS, BodyFormat.XML, None)),
        (b"<id><mes></mes></id>", Scanned(CallbackKind.INCOMING, BodyFormat.XML, None)),
        (b"<a>\n <phone>7&amp;1</phone>\n</a>\n", Scanned(CallbackKind.STATUS, BodyFormat.XML, None)),
        (b"<a><waitcall/></a>", None),
        (b"<a><phone>1</phone>x</a>", None),
        (b"<a><phone>1</phone></a></a>", None),
        (
            b"<a><phone>1</phone><phone>1</phone><id>2</id></a>",
            Scanned(CallbackKind.STATUS, BodyFormat.XML, b"2:1"),
        ),
        (b"phone=1&phone=1&id=2", Scanned(CallbackKind.STATUS, BodyFormat.FORM, b"2:1")),
        (b"phone=1&phone=%31&id=2", None),
        (b"phone=1&mes=%E0%", None),
        (b'{"phone": "1", "waitcall": 1}', Scanned(CallbackKind.CALL_CONFIRMATION, BodyFormat.JSON, b"1")),
        (b'{"phone": "1", "waitcall": true}', None),
        (b'{"phone": "1", "id": NaN}', None),
    ],
)
def test_edge_cases_agree_with_the_decoder(body: bytes, expected: Scanned | None) -> None:
    assert check(body, b"", None) == expected


@pytest.mark.parametrize("max_name_chars", [3, 4, 5, 64, 65, 100])
@pytest.mark.parametrize(
    "body",
    [
        b"abcd=1&phone=7&id=1",
        b"<r><abcd>1</abcd><phone>7</phone><id>1</id></r>",
        b'{"abcd": "1", "phone": "7", "id": "1"}',
        b"n" * 64 + b"=1&phone=7&id=1",
        b"n" * 65 + b"=1&phone=7&id=1",
        b"<r><" + b"n" * 64 + b">1</" + b"n" * 64 + b"><phone>7</phone></r>",
        b"<r><" + b"n" * 65 + b">1</" + b"n" * 65 + b"><phone>7</phone></r>",
    ],
)
def test_the_name_length_limit_is_the_decoders(body: bytes, max_name_chars: int) -> None:
    check(body, b"", None, Limits(max_name_chars=max_name_chars))
    check(body, b"a=1", None, Limits(max_name_chars=max_name_chars))


@pytest.mark.parametrize("charset", [*_DECODING_TABLES, "utf-8"])
def test_the_decoders_read_every_byte_as_the_codecs_do(charset: str) -> None:
    samples = [bytes([byte]) for byte in range(256)] + [b"abc", bytes(range(256)), "Привет".encode(charset)]
    for raw in samples:
        try:
            expected: str | None = raw.decode(charset)
        except UnicodeDecodeError:
            expected = None
        try:
            decoded: str | None = _decode(raw, charset)
        except UnicodeDecodeError:
            decoded = None
        assert decoded == expected, raw


# -- properties ---------------------------------------------------------------------------------------

_NAMES = st.one_of(
    st.sampled_from(
        ["id", "phone", "mes", "waitcall", "status", "sender", "cmt", "charset", "fmt", "sms_id"]
    ),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)
_ALPHABET = st.one_of(
    st.sampled_from(list(" \t\r\n&=%+<>\"'\\]]>;#/{}[],:.-0123456789")),
    st.sampled_from(list("ПриветМТСабвгдеёжзийЪЫЬ№€")),
    st.characters(codec="utf-8"),
)
_VALUES = st.one_of(
    st.text(_ALPHABET, max_size=12),
    st.from_regex(r" ?[0-9]{1,12} ?", fullmatch=True),
    st.sampled_from(["", " ", "utf-8", "koi8-r", "cp1251", "UTF8", "latin-1", "2", "3", "1", "0"]),
)
_PARAMS = st.dictionaries(_NAMES, _VALUES, max_size=8)
_CONTENT_TYPES = st.sampled_from(
    ["default", None, "application/x-www-form-urlencoded", "application/json", "text/xml; charset=x", ""]
)


@st.composite
def encoded_callbacks(draw: st.DrawFn) -> tuple[EncodedRequest, str | None]:
    params = draw(_PARAMS)
    if draw(st.booleans()):  # most callbacks have a key: make sure the key's own values vary too
        params.setdefault("phone", draw(_VALUES))
        params.setdefault("id", draw(_VALUES))
    charset = draw(st.sampled_from(CHARSETS))
    body_format = draw(st.sampled_from(FORMATS))
    query_keys = draw(st.sets(st.sampled_from(sorted(params)))) if params else set()
    try:
        request = encode_request(params, charset=charset, body_format=body_format, query_keys=query_keys)
    except EncodeError:
        assume(False)
        raise
    return request, draw(_CONTENT_TYPES)


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoded_callbacks())
def test_the_scanner_equals_the_decoder_on_encoded_callbacks(
    drawn: tuple[EncodedRequest, str | None],
) -> None:
    request, content_type = drawn
    _check_request(request, content_type)


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoded_callbacks(), st.data())
def test_the_scanner_equals_the_decoder_on_damaged_callbacks(
    drawn: tuple[EncodedRequest, str | None], data: st.DataObject
) -> None:
    request, content_type = drawn
    body = bytearray(request.body)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body)))
        inserted = data.draw(
            st.binary(max_size=3) | st.sampled_from([b"&", b"=", b"%", b"<", b'"', b"\\", b"]]>"])
        )
        cut = data.draw(st.integers(0, 2))
        body[at : at + cut] = inserted
    check(bytes(body), request.query_string.encode("ascii"), request.content_type if content_type else None)


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=60)
    | st.from_regex(rb"[a-z_]{1,6}=[A-Za-z0-9%+._~*-]{0,8}(&[a-z_]{1,6}=[%0-9A-F+]{0,8}){0,4}"),
    st.sampled_from([b"", b"charset=utf-8", b"fmt=2", b"fmt=3", b"phone=7", b"charset=%FF", b"a&b"]),
    _CONTENT_TYPES.map(lambda content_type: None if content_type == "default" else content_type),
)
def test_the_scanner_equals_the_decoder_on_arbitrary_bytes(
    body: bytes, query_string: bytes, content_type: str | None
) -> None:
    check(body, query_string, content_type)


_JSON_PIECES = st.sampled_from(
    [
        *(b"{", b",", b":", b'"', b"x", b"}", b'"utf-8"', b'"koi8-r"', b'"charset"', b'\\"charset"'),
        *(b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c"),  # what `\s` matches in a bytes pattern
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_JSON_PIECES | st.binary(max_size=2), max_size=12).map(b"".join))
def test_the_json_charset_member_is_found_as_the_decoder_finds_it(body: bytes) -> None:
    expected = JSON_CHARSET_MEMBER.search(body)
    found = _json_charset_member(body)
    assert (found and (found.span(), found.group(1))) == (expected and (expected.span(), expected.group(1)))
