"""The kind, body format and message key of a callback, without decoding every parameter.

An account without a secret needs only three things from a body: which kind it is (`mes`, `waitcall`
present), its format, and `id`/`phone` for the key. `smsc.wire.decode_request` unquotes, decodes and
merges every parameter (the message text included): 15-40 µs a request, as much as the whole bare HTTP
request (measured in-process on 2026-12-02, when this scanner was written). This scanner recognises the
shapes SMSC actually sends (plain names, percent-encoded form values; flat XML; flat JSON) with a regular
expression (form, XML) or the C JSON parser, proves cheaply that the full decoder would accept the body
(every value decodes in the charset, no conflicting duplicates, the limits), and decodes only `id` and
`phone`.

Contract: `scan` returns exactly what the full path (`decode_request` + `classify` + `message_key`)
gives, or None when it is not sure — then the caller runs the full decoder. It never answers for a body
the full decoder would refuse. tests/unit/ingest/test_keyscan.py checks this on arbitrary callbacks.

It runs once per request, so the usual path (benchmarks/ingest_bodies.py) has no Python-level loop over
the parameters: C string methods, the C JSON parser and a regular expression or two per body.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Collection
from encodings import cp1251, koi8_r
from typing import Final, NamedTuple

from smsc.charsets import SUPPORTED_CHARSETS, canonical_charset
from smsc.errors import DecodeError
from smsc.kinds import CallbackKind, classify, message_key_bytes
from smsc.wire import (
    JSON_CHARSET_MEMBER,
    XML_CHARSET_ELEMENT,
    XML_DECL,
    XML_DECL_ENCODING,
    BodyFormat,
    Limits,
    announced_format,
    charset_from_body,
)


class Scanned(NamedTuple):
    """A named tuple rather than a frozen dataclass, as admission's Verdict: one is built per request, and
    a frozen dataclass's `__init__` (an `object.__setattr__` per field) costs three times as much."""

    kind: CallbackKind
    body_format: BodyFormat
    key: bytes | None


# Single-byte charsets and UTF-8 stay valid or invalid when values are joined with ASCII (names and
# separators included), which is what lets one decode() call check a whole body. Another charset: the
# full decoder.
_SELF_SYNCHRONISING: Final = frozenset({"windows-1251", "koi8-r", "utf-8"})

# A `charset` value spelled as SMSC spells it, straight from its bytes (no ASCII decoding first).
_CANONICAL_VALUES: Final = {name.encode("ascii"): name for name in SUPPORTED_CHARSETS}

# bytes.decode("windows-1251") looks the codec up on every call (~0.3 µs, more than decoding a body);
# these are the tables the codecs themselves hand to codecs.charmap_decode (the decoder of the registered
# "charmap" codec: codecs.lookup("charmap").decode). UTF-8 has its own fast path.
_DECODING_TABLES: Final = {"windows-1251": cp1251.decoding_table, "koi8-r": koi8_r.decoding_table}

# The documented `unicode_escape` codec, looked up once: C code that turns each `\xHH` into U+00HH, which
# latin-1 turns back into the byte HH. Other escapes never reach it (the form pattern admits no backslash).
_UNICODE_ESCAPE: Final = codecs.getdecoder("unicode_escape")

#: Only what the key depends on is decoded; `mes`/`waitcall` only need to be present.
_KEY_NAMES: Final = frozenset({"phone", "id"})

# The longest name the patterns admit: with the default limit (or a larger one) the pattern has already
# checked every name's length. A longer name, where a larger limit would allow it: the full decoder.
_NAME_CAP: Final = Limits().max_name_chars

# Plain names (no escapes, so a raw name is its decoded name in every ASCII-compatible charset) and the
# bytes quote_plus produces. `*` and `~` are left alone by unquoting as well. Possessive quantifiers: no
# backtracking state to keep, and nothing to backtrack into (a name holds no `=`, a value no `&`).
_FORM_PAIR: Final = rf"[A-Za-z0-9_]{{1,{_NAME_CAP}}}+=[A-Za-z0-9_.~*%+-]*+".encode("ascii")
_FORM: Final = re.compile(_FORM_PAIR + rb"(?:&" + _FORM_PAIR + rb")*+")
_FORM_FIRST: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

# Flat XML: a root without attributes holding leaf elements. Text excludes what expat would refuse or
# rewrite (markup, control characters, CR, which it normalises, U+FFFE/FFFF) and C1 controls; the five
# predefined entities and `&#13;` (the encoder's CR) are allowed. `]]>` is checked separately. The text
# is written as runs of plain characters between entities: one repeat per run, not one per character.
_XML_WS: Final = "[ \t\n]*"
_XML_NAME: Final = f"[A-Za-z_][A-Za-z0-9_]{{0,{_NAME_CAP - 1}}}+"
_XML_CHAR: Final = "[^<&\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]"
_XML_TEXT: Final = f"{_XML_CHAR}*+(?:&(?:amp|lt|gt|quot|apos|#13);{_XML_CHAR}*+)*+"
# The root's content runs to the last closing tag of its name; whatever it holds, the split below sees.
_XML_ROOT: Final = re.compile(f"{_XML_WS}<({_XML_NAME})>{_XML_WS}(.*)</\\1>{_XML_WS}", re.DOTALL)
# Splitting the root's content on its children both captures them and proves there is nothing else:
# [gap, name, text, gap, name, text, ..., gap] with every gap empty.
_XML_CHILD: Final = re.compile(f"<({_XML_NAME})>({_XML_TEXT})</\\1>{_XML_WS}+")
# What the encoder writes; the span and the encoding are those of XML_DECL + XML_DECL_ENCODING (the
# encoding holds no `?`, so the declaration ends at the same `?>`), found without a lazy scan.
_XML_USUAL_DECL: Final = re.compile(rb'<\?xml version="1\.0" encoding="([A-Za-z0-9._-]{1,40})"\?>')
_XML_ENTITIES: Final = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&#13;", "\r"))

# Built once: json.loads with arguments builds a decoder per call. Builtin hooks keep the parse in C.
_JSON_DECODER: Final = json.JSONDecoder(object_pairs_hook=list, parse_int=str, parse_float=str)
_JSON_CHARSET_NAME: Final = b'"charset"'
_BYTES_WS: Final = b" \t\n\r\x0b\x0c"  # what `\s` matches in a bytes pattern


class _Unsure(Exception):  # noqa: N818 - control flow inside this module, never raised out of it
    """The scanner cannot prove the full decoder's answer: let it decide."""


def scan(body: bytes, query_string: bytes, content_type: str | None, *, limits: Limits) -> Scanned | None:
    """What the full path would give for this request, or None when only the full decoder can tell."""
    if not body or len(body) > limits.max_body_bytes or len(query_string) > limits.max_query_bytes:
        return None
    try:
        return _scan(body, query_string, content_type, limits)
    except (_Unsure, DecodeError, UnicodeError, ValueError, RecursionError):
        return None


def _scan(body: bytes, query_string: bytes, content_type: str | None, limits: Limits) -> Scanned:
    query: dict[bytes, bytes] | None = None
    charset = fmt = None
    if query_string:  # rare: the handler URL's own parameters or the `!` rule
        query = _form_pairs(query_string)
        charset = _charset_param(query.get(b"charset"))
        raw_fmt = query.get(b"fmt")
        fmt = _ascii(raw_fmt).strip() if raw_fmt is not None else None
    if content_type in _USUAL_ANNOUNCED:
        announced = _USUAL_ANNOUNCED[content_type]
    else:
        announced = announced_format(content_type)

    first = body[:1]
    if first == b"<":
        body_format = BodyFormat.XML
        if fmt not in (None, "", "0", "1", "2") or announced not in (None, BodyFormat.XML):
            raise _Unsure
        charset, relevant, names = _xml(body, charset, limits)
    elif first == b"{":
        body_format = BodyFormat.JSON
        if fmt not in (None, "", "0", "1", "3") or announced not in (None, BodyFormat.JSON):
            raise _Unsure
        charset, relevant, names = _json(body, charset, limits)
    elif first in _FORM_FIRST:  # whitespace, a byte order mark and `[` are not: the full decoder
        body_format = BodyFormat.FORM
        if fmt not in (None, "", "0", "1") or announced is not None:
            raise _Unsure
        charset, relevant, names = _form(body, charset, limits)
    else:
        raise _Unsure
    if query is not None:
        relevant = _merge_query(query_string, query, relevant, names, charset, limits)
    kind = classify(relevant)
    return Scanned(kind, body_format, message_key_bytes(kind, relevant))


# What SMSC and the encoder send, read once: no split/strip/lower per request.
_USUAL_ANNOUNCED: Final = {
    content_type: announced_format(content_type)
    for content_type in (
        None,
        "",
        "application/x-www-form-urlencoded",
        "application/xml",
        "text/xml",
        "application/json",
    )
}


#: What each body scanner gives: the charset, the parameters by name (at least those the kind and the key
#: depend on; of the values, only `id` and `phone` need to be decoded) and every parameter name.
_Body = tuple[str, dict[str, str], Collection[str | bytes]]


def _form(body: bytes, query_charset: str | None, limits: Limits) -> _Body:
    pairs = _form_pairs(body)
    charset = charset_from_body(query_charset, _charset_param(pairs.get(b"charset")), bom=False)
    _check_escapes(body, charset)
    _check_counts(pairs, limits, name_cap=_NAME_CAP)
    return charset, _relevant_form(pairs, charset), pairs


def _xml(body: bytes, query_charset: str | None, limits: Limits) -> _Body:
    declaration = _XML_USUAL_DECL.match(body)
    if declaration:
        declared: re.Match[bytes] | None = declaration
    else:
        declaration = XML_DECL.match(body)
        declared = XML_DECL_ENCODING.search(declaration.group(0)) if declaration else None
    if declared:
        # As the full decoder: the declaration is what the bytes are in, whatever the URL asked for.
        charset = charset_from_body(None, declared, bom=False)
    else:
        charset = charset_from_body(query_charset, XML_CHARSET_ELEMENT.search(body), bom=False)
    if charset not in _SELF_SYNCHRONISING:
        raise _Unsure
    text = _decode(body[declaration.end() :] if declaration else body, charset)
    root = _XML_ROOT.fullmatch(text)
    if root is None or "]]>" in text:
        raise _Unsure
    content = root.group(2)
    parts = _XML_CHILD.split(content)
    if any(parts[::3]):
        raise _Unsure  # something other than a leaf element (or whitespace) inside the root
    names, values = parts[1::3], parts[2::3]
    children = dict(zip(names, values))  # noqa: B905 - as long by construction; strict= costs 0.2 µs
    if len(children) != len(names) and any(children[n] != v for n, v in zip(names, values)):  # noqa: B905
        raise _Unsure  # the same name twice with different text: the decoder compares decoded values
    _check_counts(children, limits, name_cap=_NAME_CAP)
    if "&" in content:
        for name in _KEY_NAMES & children.keys():
            children[name] = _xml_unescape(children[name])
    return charset, children, children


def _json(body: bytes, query_charset: str | None, limits: Limits) -> _Body:
    charset = charset_from_body(query_charset, _json_charset_member(body), bom=False)
    if charset not in _SELF_SYNCHRONISING:
        raise _Unsure
    text = _decode(body, charset)
    if "\\u" in text:
        raise _Unsure  # a \u escape can spell a lone surrogate, which the decoder refuses
    # The C parser with builtin hooks: objects become lists of (name, value) tuples (so duplicates stay
    # visible), numbers stay as written, as in the full decoder. NaN and Infinity become floats: unsure.
    document = _JSON_DECODER.decode(text)  # only `{` bodies get here: always an object
    members = dict(document)
    # A name twice (the decoder compares the values) or an empty name: the full decoder decides.
    if len(members) != len(document) or "" in members:
        raise _Unsure
    # A value other than a string or a number (those were kept as strings) makes join() raise TypeError:
    # the type check of every value in C, where a loop over the values would run in Python.
    try:
        "".join(members.values())
    except TypeError:
        raise _Unsure from None
    _check_counts(members, limits)
    return charset, members, members


def _json_charset_member(body: bytes) -> re.Match[bytes] | None:
    """JSON_CHARSET_MEMBER.search(body), without trying the pattern at every `,` of the body."""
    at = body.find(_JSON_CHARSET_NAME)
    if at < 0:
        return None  # every match holds the name
    # No match can start before the `{` or `,` (and the whitespace) just before the name's first
    # occurrence: a later occurrence's whitespace run cannot reach back past this one's quote.
    start = len(body[:at].rstrip(_BYTES_WS)) - 1
    return JSON_CHARSET_MEMBER.search(body, max(start, 0))


def _form_pairs(raw: bytes) -> dict[bytes, bytes]:
    if _FORM.fullmatch(raw) is None:
        raise _Unsure
    # The pattern admits exactly one `=` in a pair and no `&` or `=` in a value: names and values alternate.
    flat = raw.replace(b"=", b"&").split(b"&")
    names, values = flat[::2], flat[1::2]
    pairs = dict(zip(names, values))  # noqa: B905 - as long by construction; strict= costs 0.2 µs
    if len(pairs) != len(names) and any(pairs[n] != v for n, v in zip(names, values)):  # noqa: B905
        raise _Unsure  # a name twice with different spellings: the decoder compares the decoded values
    return pairs


def _check_escapes(raw: bytes, charset: str) -> None:
    """Every value of a form-encoded `raw` (that `_FORM` admitted) decodes in `charset`: one unquote and
    one decode for the whole of it, names and separators (ASCII) included."""
    if charset not in _SELF_SYNCHRONISING:
        raise _Unsure
    if b"%" in raw:
        _decode(_unescape(raw), charset)


def _check_counts(names: Collection[str | bytes], limits: Limits, *, name_cap: int | None = None) -> None:
    """The decoder's limits; `name_cap`: no name is longer, the pattern that found them made sure."""
    if len(names) > limits.max_parameters:
        raise _Unsure
    if name_cap is not None and name_cap <= limits.max_name_chars:
        return
    if max(map(len, names), default=0) > limits.max_name_chars:
        raise _Unsure


def _relevant_form(pairs: dict[bytes, bytes], charset: str) -> dict[str, str]:
    relevant: dict[str, str] = {}
    if (phone := pairs.get(b"phone")) is not None:
        relevant["phone"] = _form_text(phone, charset)
    if (message_id := pairs.get(b"id")) is not None:
        relevant["id"] = _form_text(message_id, charset)
    if b"mes" in pairs:
        relevant["mes"] = ""
    if b"waitcall" in pairs:
        relevant["waitcall"] = ""
    return relevant


def _merge_query(
    query_string: bytes,
    query: dict[bytes, bytes],
    relevant: dict[str, str],
    body_names: Collection[str | bytes],
    charset: str,
    limits: Limits,
) -> dict[str, str]:
    """The `!` rule: parameters in the query string join the body's (a name in both: the decoder decides)."""
    _check_escapes(query_string, charset)
    _check_counts(query, limits, name_cap=_NAME_CAP)
    decoded_names = {name.decode("ascii") if isinstance(name, bytes) else name for name in body_names}
    if any(name.decode("ascii") in decoded_names for name in query):
        raise _Unsure
    if len(query) + len(decoded_names) > limits.max_parameters:
        raise _Unsure
    return {**_relevant_form(query, charset), **relevant}


def _charset_param(raw: bytes | None) -> str | None:
    """A `charset` form value, canonical; None when absent or empty (then it does not count)."""
    if raw is None:
        return None
    if (charset := _CANONICAL_VALUES.get(raw)) is not None:
        return charset
    name = _ascii(raw)
    return canonical_charset(name) if name else None


def _form_text(raw: bytes, charset: str) -> str:
    """A form value as text: `_decode(_unquote(raw))`, the usual plain digits in one step."""
    if raw.isalnum():  # ASCII letters and digits only (for bytes): nothing to unquote, ASCII
        return raw.decode("ascii")
    return _decode(_unquote(raw), charset)


def _decode(raw: bytes, charset: str) -> str:
    """raw.decode(charset) for one of _SELF_SYNCHRONISING, which all read ASCII as ASCII."""
    if raw.isascii():
        return raw.decode("ascii")
    table = _DECODING_TABLES.get(charset)
    return raw.decode(charset) if table is None else codecs.charmap_decode(raw, "strict", table)[0]


def _ascii(raw: bytes) -> str:
    return _unquote(raw).decode("ascii")


def _unquote(raw: bytes) -> bytes:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    return _unescape(raw) if b"%" in raw else raw


def _unescape(raw: bytes) -> bytes:
    """`%D0%9F` -> the bytes, in C: four times faster than unquote_to_bytes. The form pattern admits no
    backslash, so `\\x` escapes are the only ones; a `%` without two hex digits raises UnicodeDecodeError
    (unsure), where unquote_to_bytes would keep it as it is."""
    return _UNICODE_ESCAPE(raw.replace(b"%", b"\\x"))[0].encode("latin-1")


def _xml_unescape(text: str) -> str:
    for entity, character in _XML_ENTITIES:
        text = text.replace(entity, character)
    return text.replace("&amp;", "&")
