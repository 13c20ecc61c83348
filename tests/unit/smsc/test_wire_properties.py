"""Properties of decoding: encode -> decode round trips in every charset and format, any bytes give
parameters or the library's own error, and sign -> verify round trips."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc.charsets import SUPPORTED_CHARSETS
from smsc.encode import CONTENT_TYPES, encode_request
from smsc.errors import DecodeError, SignatureError, SmscError
from smsc.kinds import CallbackKind
from smsc.signature import SIGNED_FIELDS, SignatureAlgorithm, sign, verify_signature
from smsc.wire import DEFAULT_LIMITS, BodyFormat, DecodedRequest, Limits, decode_request

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Python codec of each charset, for `st.characters(codec=...)`.
CODECS = {"windows-1251": "cp1251", "koi8-r": "koi8-r", "utf-8": "utf-8"}
#: Other spellings the handler URL may use; each must decode to the canonical name.
SPELLINGS = {
    "windows-1251": ("windows-1251", "cp1251", "Windows-1251"),
    "koi8-r": ("koi8-r", "KOI8-R", "koi8_r"),
    "utf-8": ("utf-8", "UTF-8", "utf8"),
}
FMT = {BodyFormat.XML: "2", BodyFormat.JSON: "3"}
#: Characters XML 1.0 cannot carry at all, not even as character references (see smsc/encode.py).
XML_FORBIDDEN = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
#: Names the decoder reads before decoding (the handler-URL parameters SMSC sends back); set on purpose below.
RESERVED = frozenset({"charset", "fmt"})


#: Names and values that look like the parameters the decoder reads early, to tempt its shortcuts.
DECOYS = ('"charset', 'a"charset', "charset ", " charset", "Charset", "fmt ", "<charset>koi8-r</charset>")
DECOY_VALUES = ('"charset": "koi8-r"', "charset=koi8-r&fmt=2", "<charset>utf-8</charset>", "{", "<", "\ufeff")


def texts(charset: str, body_format: BodyFormat, *, min_size: int = 0) -> st.SearchStrategy[str]:
    exclude = XML_FORBIDDEN if body_format is BodyFormat.XML else ""
    alphabet = st.characters(codec=CODECS[charset], exclude_characters=exclude)
    return st.text(alphabet, min_size=min_size, max_size=24)


def names(charset: str, body_format: BodyFormat) -> st.SearchStrategy[str]:
    if body_format is BodyFormat.XML:
        # XML-valid ASCII identifiers, as encode_request requires for element names.
        identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
        return (identifiers | st.sampled_from(("Charset", "charset_", "xcharset", "FMT"))).filter(
            lambda n: n not in RESERVED
        )
    return (texts(charset, body_format, min_size=1) | st.sampled_from(DECOYS)).filter(
        lambda n: n not in RESERVED
    )


def values(charset: str, body_format: BodyFormat) -> st.SearchStrategy[str]:
    decoys = [value for value in DECOY_VALUES if encodable(value, charset)]
    return texts(charset, body_format) | st.sampled_from(decoys)


def encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Callback:
    params: dict[str, str]
    charset: str
    body_format: BodyFormat
    query_keys: frozenset[str]


@st.composite
def callbacks(draw: st.DrawFn, charset: str, body_format: BodyFormat) -> Callback:
    params = draw(st.dictionaries(names(charset, body_format), values(charset, body_format), max_size=8))
    # The handler URL's own parameters come back too: `charset` (optional only for the default charset,
    # which applies when nothing names one) and `fmt`.
    if charset != "windows-1251" or draw(st.booleans()):
        params["charset"] = draw(st.sampled_from(SPELLINGS[charset]))
    if body_format in FMT and draw(st.booleans()):
        params["fmt"] = FMT[body_format]
    query_keys = draw(st.frozensets(st.sampled_from(sorted(params)))) if params else frozenset()
    return Callback(params, charset, body_format, query_keys)


def any_callback() -> st.SearchStrategy[Callback]:
    return st.sampled_from(SUPPORTED_CHARSETS).flatmap(
        lambda charset: st.sampled_from(BodyFormat).flatmap(lambda fmt: callbacks(charset, fmt))
    )


def decoded_or_own_error(
    body: bytes, query: str | bytes, content_type: str | None, limits: Limits = DEFAULT_LIMITS
) -> DecodedRequest | SmscError:
    """Decode; anything but a DecodedRequest or the library's own error fails the test."""
    try:
        decoded = decode_request(body, query, content_type, limits=limits)
    except SmscError as error:
        return checked(error)
    assert decoded.charset in SUPPORTED_CHARSETS
    assert decoded.query_keys <= decoded.params.keys()
    assert all(isinstance(name, str) and name for name in decoded.params)
    assert all(isinstance(value, str) for value in decoded.params.values())
    return decoded


def checked(error: SmscError) -> SmscError:
    """Decoding raises only DecodeError (and its InputTooLargeError), with a reason."""
    assert isinstance(error, DecodeError)
    assert error.reason
    # The field names where the error is; bounded, as attacker-chosen names can be 64 KiB long.
    assert error.field is None or 0 < len(error.field) <= 64
    assert error.code in ("undecodable", "too_large")
    return error


# --- (1) encode -> decode round trip --------------------------------------------------------------


@pytest.mark.parametrize("body_format", list(BodyFormat))
@pytest.mark.parametrize("charset", SUPPORTED_CHARSETS)
@PROPERTY
@given(data=st.data())
def test_encode_decode_round_trip(charset: str, body_format: BodyFormat, data: st.DataObject) -> None:
    callback = data.draw(callbacks(charset, body_format))
    encoded = encode_request(
        callback.params, charset=charset, body_format=body_format, query_keys=callback.query_keys
    )
    # Most requests carry no usable Content-Type: the body itself must tell its format.
    content_type = data.draw(st.sampled_from([encoded.content_type, None, CONTENT_TYPES[BodyFormat.FORM]]))
    # A server may hand the query over as text (latin-1) or as bytes.
    spellings: list[str | bytes] = [encoded.query_string, encoded.query_string.encode()]
    query = data.draw(st.sampled_from(spellings))

    decoded = decode_request(encoded.body, query, content_type)

    assert dict(decoded.params) == callback.params
    assert decoded.charset == charset
    assert decoded.query_keys == callback.query_keys
    assert decoded.format is body_format


# --- (2) arbitrary input gives parameters or the library's own error ------------------------------

PREFIXES = (
    b"",
    b"<",
    b"{",
    b"[",
    b"\xef\xbb\xbf",
    b"\xef\xbb\xbf<",
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<?xml version="1.0" encoding="koi8-r"?><r>',
    b"<!DOCTYPE r [",
    b"charset=utf-8&",
    b"charset=",
    b'{"charset": "utf-8", "',
    b"<r><charset>utf-8</charset>",
)
QUERY_PREFIXES = (
    b"",
    b"charset=",
    b"fmt=",
    b"fmt=2&",
    b"fmt=3&",
    b"charset=utf-8&",
    b"charset=koi8-r&",
    b"!",
)
CONTENT_TYPE_SAMPLES = (
    None,
    "",
    "application/json",
    "application/xml",
    "text/xml; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)


def bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=400),
        st.builds(bytes.__add__, st.sampled_from(PREFIXES), st.binary(max_size=200)),
        st.builds(bytes.__add__, st.sampled_from(PREFIXES), st.text(max_size=100).map(str.encode)),
    )


def queries() -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        st.builds(bytes.__add__, st.sampled_from(QUERY_PREFIXES), st.binary(max_size=100)),
        st.text(max_size=100),
        st.builds(
            lambda prefix, rest: prefix.decode() + rest, st.sampled_from(QUERY_PREFIXES), st.text(max_size=60)
        ),
    )


def content_types() -> st.SearchStrategy[str | None]:
    return st.one_of(st.sampled_from(CONTENT_TYPE_SAMPLES), st.text(max_size=40))


@PROPERTY
@given(body=bodies(), query=queries(), content_type=content_types())
def test_arbitrary_input_gives_parameters_or_an_smsc_error(
    body: bytes, query: str | bytes, content_type: str | None
) -> None:
    decoded_or_own_error(body, query, content_type)


@PROPERTY
@given(
    body=bodies(),
    query=queries(),
    content_type=content_types(),
    limits=st.builds(
        Limits,
        max_body_bytes=st.integers(0, 300),
        max_query_bytes=st.integers(0, 100),
        max_parameters=st.integers(0, 6),
        max_name_chars=st.integers(0, 10),
    ),
)
def test_arbitrary_input_under_tight_limits(
    body: bytes, query: str | bytes, content_type: str | None, limits: Limits
) -> None:
    result = decoded_or_own_error(body, query, content_type, limits)
    if isinstance(result, DecodedRequest):
        assert len(result.params) <= limits.max_parameters
        assert all(len(name) <= limits.max_name_chars for name in result.params)


# --- (3) mutated valid requests -------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    """A few random edits: flip, insert, delete, duplicate a slice, truncate."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if operation == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=4) | st.sampled_from([b"<", b"&", b'"', b"%", b"="])
            )
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif operation == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


@PROPERTY
@given(callback=any_callback(), data=st.data())
def test_mutated_requests_give_parameters_or_an_smsc_error(callback: Callback, data: st.DataObject) -> None:
    encoded = encode_request(
        callback.params,
        charset=callback.charset,
        body_format=callback.body_format,
        query_keys=callback.query_keys,
    )
    body = data.draw(mutated(encoded.body) | st.just(encoded.body))
    query = data.draw(mutated(encoded.query_string.encode()) | st.just(encoded.query_string.encode()))
    content_type = data.draw(st.sampled_from([encoded.content_type, None]))
    decoded_or_own_error(body, query, content_type)


# --- (4) sign -> verify ---------------------------------------------------------------------------

SECRETS = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)


@st.composite
def signed_params(draw: st.DrawFn, kind: CallbackKind, charset: str) -> dict[str, str]:
    values = st.text(st.characters(codec=CODECS[charset]), max_size=20)
    params = {name: draw(values) for name in SIGNED_FIELDS[kind]}
    if kind is CallbackKind.CALL_CONFIRMATION:
        params["waitcall"] = "1"
    return params


@pytest.mark.parametrize("charset", SUPPORTED_CHARSETS)
@PROPERTY
@given(data=st.data(), secret=SECRETS)
def test_sign_verify_round_trip(charset: str, secret: str, data: st.DataObject) -> None:
    """Every kind and every algorithm in each example: the charset is the only parameter of the test."""
    for kind in CallbackKind:
        params = data.draw(signed_params(kind, charset))
        for algorithm in SignatureAlgorithm:
            # The server may hash the callback's charset or UTF-8: both readings are accepted.
            encoding = data.draw(st.sampled_from([charset, "utf-8"]))
            signed = {**params, algorithm.value: sign(kind, params, secret, algorithm, encoding=encoding)}
            assert verify_signature(kind, signed, secret, charset=charset) is algorithm

            changed = data.draw(st.sampled_from(SIGNED_FIELDS[kind]))
            # Appending keeps every other field, so the hashed string surely changes (under either reading).
            tampered = {**signed, changed: signed[changed] + data.draw(st.sampled_from(["0", "x", ":"]))}
            with pytest.raises(SignatureError) as caught:
                verify_signature(kind, tampered, secret, charset=charset)
            assert caught.value.field == algorithm.value

            other_secret = secret + data.draw(st.sampled_from(["0", "_", "A"]))
            with pytest.raises(SignatureError):
                verify_signature(kind, signed, other_secret, charset=charset)
