"""Decoding an SMSC request (query string, body, content type) into its parameters.

The provider's rules (docs/protocol.md): form-encoded by default, XML with `fmt=2`,
JSON with `fmt=3`; windows-1251 unless `charset` says utf-8 or koi8-r; parameters forced into the
query string with the `!` rule are merged with the body's. Most requests carry no query string, so the
format is found from the body itself and the charset from the body's own `charset` parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, cast
from urllib.parse import unquote_to_bytes
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from smsc.charsets import DEFAULT_CHARSET, canonical_charset
from smsc.errors import DecodeError, InputTooLargeError


class BodyFormat(StrEnum):
    FORM = "form"
    XML = "xml"
    JSON = "json"


#: `fmt` values of the handler URL.
FMT_VALUES: Final = MappingProxyType({"2": BodyFormat.XML, "3": BodyFormat.JSON})


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on everything read from the network; the defaults are far above anything SMSC sends."""

    max_body_bytes: int = 64 * 1024
    max_query_bytes: int = 8 * 1024
    max_parameters: int = 256
    max_name_chars: int = 64


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """The parameters of one callback, merged from query string and body, as text."""

    params: Mapping[str, str]
    charset: str
    format: BodyFormat
    query_keys: frozenset[str]


_WHITESPACE: Final = b" \t\r\n"
_UTF8_BOM: Final = b"\xef\xbb\xbf"
XML_DECL: Final = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.DOTALL)
XML_DECL_ENCODING: Final = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
XML_CHARSET_ELEMENT: Final = re.compile(rb"<charset>\s*([A-Za-z0-9._-]{1,40})\s*</charset>")
# After `{` or `,`: a name that merely ends in `\"charset` (an escaped quote) is not the member.
JSON_CHARSET_MEMBER: Final = re.compile(rb"""[{,]\s*"charset"\s*:\s*"([A-Za-z0-9._-]{1,40})\"""")


def decode_request(
    body: bytes,
    query_string: str | bytes = b"",
    content_type: str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> DecodedRequest:
    """Decode one request into its parameters; raises `DecodeError` naming the field and the reason."""
    if len(body) > limits.max_body_bytes:
        raise InputTooLargeError(
            f"{len(body)} bytes exceeds the limit of {limits.max_body_bytes}", field="body"
        )
    query = _query_bytes(query_string)
    if len(query) > limits.max_query_bytes:
        raise InputTooLargeError(
            f"{len(query)} bytes exceeds the limit of {limits.max_query_bytes}", field="query_string"
        )

    query_pairs = _split_form(query)
    query_charset = _ascii_value(query_pairs, b"charset")
    charset = canonical_charset(query_charset) if query_charset else None
    bom = body.startswith(_UTF8_BOM)
    body = body.removeprefix(_UTF8_BOM)
    body_format = _body_format(body, _ascii_value(query_pairs, b"fmt"), content_type)

    if body_format is BodyFormat.XML:
        charset, body_params = _decode_xml(body, charset, bom=bom)
    elif body_format is BodyFormat.JSON:
        charset = charset_from_body(charset, JSON_CHARSET_MEMBER.search(body), bom=bom)
        body_params = _decode_json(body, charset)
    else:
        body_pairs = _split_form(body)
        body_charset = _ascii_value(body_pairs, b"charset")
        charset = charset_from_body(
            charset, canonical_charset(body_charset) if body_charset else None, bom=bom
        )
        body_params = _decode_pairs(body_pairs, charset, where="body")

    query_params = _decode_pairs(query_pairs, charset, where="query_string")
    params = _merge(query_params, body_params, limits)
    return DecodedRequest(
        params=MappingProxyType(params),
        charset=charset,
        format=body_format,
        query_keys=frozenset(name for name, _ in query_params),
    )


def _query_bytes(query_string: str | bytes) -> bytes:
    """Servers hand the raw query over as bytes or as latin-1 text (one character per byte)."""
    if isinstance(query_string, bytes):
        return query_string
    try:
        return query_string.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise DecodeError(
            f"character {exc.start} is not a byte: expected the raw query as bytes or latin-1 text",
            field="query_string",
        ) from None


_SNIFFED: Final = {b"<": BodyFormat.XML, b"{": BodyFormat.JSON, b"[": BodyFormat.JSON}


def _body_format(body: bytes, query_fmt: str | None, content_type: str | None) -> BodyFormat:
    """The body's own first byte decides; `fmt` and a JSON or XML Content-Type must not contradict it."""
    first = body.lstrip(_WHITESPACE)[:1]
    # No form SMSC sends starts with `[`: sniffed as JSON, it is refused as "not an object", not misread.
    sniffed = _SNIFFED.get(first)
    declared = None
    if query_fmt is not None:
        declared = FMT_VALUES.get(query_fmt.strip())
        if declared is None and query_fmt.strip() not in ("", "0", "1"):
            raise DecodeError(
                f"unsupported value {query_fmt[:20]!r} (expected 2 for XML or 3 for JSON)", field="fmt"
            )
        if declared is not None and sniffed is not declared and first:
            raise DecodeError(
                f"fmt={query_fmt} announces {declared} but the body is not {declared}", field="fmt"
            )
    announced = announced_format(content_type)
    if announced is not None and sniffed is not announced and first:
        raise DecodeError(f"Content-Type announces {announced} but the body is not {announced}", field="body")
    return declared or sniffed or BodyFormat.FORM


def announced_format(content_type: str | None) -> BodyFormat | None:
    """The format a JSON or XML Content-Type announces; None for any other (or none)."""
    media_type = content_type.split(";", 1)[0].strip().lower() if content_type else ""
    if media_type.endswith(("/json", "+json")):
        return BodyFormat.JSON
    if media_type.endswith(("/xml", "+xml")):
        return BodyFormat.XML
    return None


def charset_from_body(
    query_charset: str | None, body_charset: str | re.Match[bytes] | None, *, bom: bool
) -> str:
    """The charset the query string and the body agree on (a body match is read as canonical); raises
    DecodeError when they name two different ones, or when a UTF-8 byte order mark (`bom`) meets another."""
    if isinstance(body_charset, re.Match):
        body_charset = canonical_charset(body_charset.group(1).decode("ascii"))
    if query_charset and body_charset and query_charset != body_charset:
        raise DecodeError(
            f"query string says {query_charset} but the body says {body_charset}", field="charset"
        )
    charset = query_charset or body_charset or ("utf-8" if bom else DEFAULT_CHARSET)
    if bom and charset != "utf-8":
        # Read as another charset, the UTF-8 text after the mark would silently become mojibake.
        raise DecodeError(
            f"the body starts with a UTF-8 byte order mark but is declared {charset}", field="charset"
        )
    return charset


def _split_form(raw: bytes) -> list[tuple[bytes, bytes]]:
    """`a=1&b=%F0` -> [(b"a", b"1"), (b"b", b"\\xf0")]: unquoted once, decoded later, when the charset
    (itself one of the pairs) is known."""
    pairs = []
    for piece in raw.split(b"&"):
        if piece:
            key, _, value = piece.partition(b"=")
            pairs.append((_unquote(key), _unquote(value)))
    return pairs


def _unquote(raw: bytes) -> bytes:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    return unquote_to_bytes(raw) if b"%" in raw else raw


def _ascii_value(pairs: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """One ASCII parameter (`charset`, `fmt`), read before the other values can be decoded."""
    for key, value in pairs:
        if key == name:
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                raise DecodeError("not ASCII", field=name.decode()) from None
    return None


def _decode_pairs(pairs: list[tuple[bytes, bytes]], charset: str, *, where: str) -> list[tuple[str, str]]:
    decoded = []
    for key, value in pairs:
        name = _text(key, charset, field=f"{where} parameter name")
        if not name:
            raise DecodeError("a parameter has an empty name", field=where)
        decoded.append((name, _text(value, charset, field=name)))
    return decoded


def _decode_xml(raw: bytes, query_charset: str | None, *, bom: bool) -> tuple[str, list[tuple[str, str]]]:
    declaration = XML_DECL.match(raw)
    declared = XML_DECL_ENCODING.search(declaration.group(0)) if declaration else None
    if declared:
        # The declaration is what the bytes are in, whatever the handler URL asked for.
        encoding = canonical_charset(declared.group(1).decode("ascii"), field="xml encoding")
        charset = charset_from_body(None, encoding, bom=bom)
    else:
        charset = charset_from_body(query_charset, XML_CHARSET_ELEMENT.search(raw), bom=bom)
    text = _text(raw[declaration.end() :] if declaration else raw, charset, field="body")
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise DecodeError(f"forbidden XML construct ({type(exc).__name__})", field="body") from None
    except ParseError as exc:
        raise DecodeError(f"malformed XML: {exc}", field="body") from None
    children = list(root)
    if not children:
        return charset, [(_local_name(name), value) for name, value in root.attrib.items()]
    return charset, [(_local_name(child.tag), _leaf_text(child)) for child in children]


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _leaf_text(element: Element) -> str:
    if len(element):
        raise DecodeError(
            "nested elements where a parameter value was expected", field=_local_name(element.tag)
        )
    return element.text or ""


def _decode_json(raw: bytes, charset: str) -> list[tuple[str, str]]:
    text = _text(raw, charset, field="body")
    try:
        if text.startswith("\ufeff"):  # what `json.loads` refuses before decoding; `decode` does not
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        document = _JSON_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise DecodeError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field="body"
        ) from None
    except RecursionError:
        raise DecodeError("JSON nested too deeply", field="body") from None
    if not isinstance(document, _JsonObject):
        raise DecodeError("JSON body is not an object of parameters", field="body")
    # The usual body: flat string members, no `\u` escape (decoded bytes cannot hold a lone surrogate,
    # only an escape can spell one). It is already the answer; anything else takes the checks below.
    if "\\u" not in text and all(name and type(value) is str for name, value in document):
        return cast(list[tuple[str, str]], document)
    return [_json_parameter(name, value) for name, value in document]


class _JsonObject(list[tuple[str, object]]):
    """A JSON object as its pairs in order, so that repeated names are seen, not silently overwritten."""


def _pairs(pairs: list[tuple[str, object]]) -> _JsonObject:
    return _JsonObject(pairs)


def _reject_constant(name: str) -> object:
    raise DecodeError(f"{name} is not a valid parameter value", field="body")


# One decoder for every body: `json.loads` with options builds a new one per call.
_JSON_DECODER: Final = json.JSONDecoder(
    parse_float=str,  # keep the sender's digits: 1.10 stays "1.10", no float rounding
    parse_int=str,
    parse_constant=_reject_constant,
    object_pairs_hook=_pairs,
)


def _json_parameter(name: str, value: object) -> tuple[str, str]:
    if not name:
        raise DecodeError("a parameter has an empty name", field="body")
    return _no_surrogates(name, name), _json_scalar(name, value)


def _json_scalar(name: str, value: object) -> str:
    if isinstance(value, str):
        return _no_surrogates(value, name)
    kind = {bool: "a boolean", type(None): "null", _JsonObject: "an object"}.get(type(value), "an array")
    raise DecodeError(f"expected a string or number, got {kind}", field=name)


def _no_surrogates(text: str, field: str) -> str:
    """JSON can spell a lone UTF-16 surrogate (\\ud800); no charset can store one, so refuse it here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DecodeError("contains a lone surrogate escape", field=field) from None
    return text


def _text(raw: bytes, charset: str, *, field: str) -> str:
    try:
        return raw.decode(charset)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not valid {charset} (byte {exc.start})", field=field) from None


def _merge(
    query_params: Sequence[tuple[str, str]], body_params: Sequence[tuple[str, str]], limits: Limits
) -> dict[str, str]:
    if not query_params:
        # The usual request: no query string, no repeated name, nothing near a limit. Any of those takes
        # the loop below, which raises the same error for the same first offence as always.
        fast = dict(body_params)
        if (
            len(fast) <= limits.max_parameters
            and len(fast) == len(body_params)
            and (not fast or max(map(len, fast)) <= limits.max_name_chars)
        ):
            return fast
    merged: dict[str, str] = {}
    for name, value in (*query_params, *body_params):
        if len(name) > limits.max_name_chars:
            raise InputTooLargeError(f"parameter name longer than {limits.max_name_chars}", field=name)
        previous = merged.setdefault(name, value)
        if previous != value:
            raise DecodeError("given twice with different values", field=name)
        if len(merged) > limits.max_parameters:
            raise InputTooLargeError(f"more than {limits.max_parameters} parameters", field="body")
    return merged
