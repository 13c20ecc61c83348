"""The kind, body format and message key of a callback, without decoding every parameter.

An account without a secret needs only three things from a body: which kind it is (`mes`, `waitcall`
present), its format, and `id`/`phone` for the key. `smsc.wire.decode_request` unquotes, decodes and
merges every parameter (the message text included): 15-40 µs a request, as much as the whole bare HTTP
request. This scanner recognises the shapes SMSC actually sends (plain names, percent-encoded form
values; flat XML; flat JSON) with a regular expression (form, XML) or the C JSON parser, proves cheaply
that the full decoder would accept the body (every value decodes in the charset, no conflicting
duplicates, the limits), and decodes only `id` and `phone`.

Contract: `scan` returns exactly what the full path (`decode_request` + `classify` + `message_key`)
gives, or None when it is not sure — then the caller runs the full decoder. It never answers for a body
the full decoder would refuse. tests/unit/ingest/test_keyscan.py checks this on arbitrary callbacks.
"""

from __future__ import annotations

import json
import re
from _codecs import escape_decode  # codecs.escape_decode, typed in typeshed's _codecs only
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from smsc.charsets import DEFAULT_CHARSET, canonical_charset
from smsc.errors import DecodeError, FieldError
from smsc.kinds import CallbackKind, classify, message_key
from smsc.wire import (
    JSON_CHARSET_MEMBER,
    UTF8_BOM,
    WHITESPACE,
    XML_CHARSET_ELEMENT,
    XML_DECL,
    XML_DECL_ENCODING,
    BodyFormat,
    Limits,
)


@dataclass(frozen=True, slots=True)
class Scanned:
    kind: CallbackKind
    body_format: BodyFormat
    key: bytes | None


# Single-byte charsets and UTF-8 stay valid or invalid when values are joined with an ASCII separator,
# which is what lets one decode() call check every value at once. Another charset: the full decoder.
_SELF_SYNCHRONISING: Final = frozenset({"windows-1251", "koi8-r", "utf-8"})

#: Only what the key and the kind depend on is decoded; `mes`/`waitcall` only need to be present.
_KEY_NAMES: Final = frozenset({"phone", "id"})
_KIND_NAMES: Final = frozenset({"mes", "waitcall"})

# Plain names (no escapes, so a raw name is its decoded name in every ASCII-compatible charset) and the
# bytes quote_plus produces. `*` and `~` are left alone by unquoting as well.
_FORM: Final = re.compile(rb"[A-Za-z0-9_]+=[A-Za-z0-9_.~*%+-]*(?:&[A-Za-z0-9_]+=[A-Za-z0-9_.~*%+-]*)*")
_FORM_PAIR: Final = re.compile(rb"([^&=]+)=([^&]*)")
_FORM_FIRST: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

# Flat XML: a root without attributes holding leaf elements. Text excludes what expat would refuse or
# rewrite (markup, control characters, CR, which it normalises, U+FFFE/FFFF) and C1 controls; the five
# predefined entities and `&#13;` (the encoder's CR) are allowed. `]]>` is checked separately.
_XML_WS: Final = "[ \t\n]*"
_XML_NAME: Final = "[A-Za-z_][A-Za-z0-9_]*"
_XML_TEXT: Final = "(?:[^<&\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]|&(?:amp|lt|gt|quot|apos|#13);)*"
_XML_DOCUMENT: Final = re.compile(
    f"{_XML_WS}<({_XML_NAME})>(?:{_XML_WS}<({_XML_NAME})>{_XML_TEXT}</\\2>)*{_XML_WS}</\\1>{_XML_WS}"
)
_XML_CHILD: Final = re.compile(f"<({_XML_NAME})>({_XML_TEXT})</")
_XML_ENTITIES: Final = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&#13;", "\r"))

# Built once: json.loads with arguments builds a decoder per call. Builtin hooks keep the parse in C.
_JSON_DECODER: Final = json.JSONDecoder(object_pairs_hook=list, parse_int=str, parse_float=str)


class _Unsure(Exception):  # noqa: N818 - control flow inside this module, never raised out of it
    """The scanner cannot prove the full decoder's answer: let it decide."""


def scan(body: bytes, query_string: bytes, content_type: str | None, *, limits: Limits) -> Scanned | None:
    """What the full path would give for this request, or None when only the full decoder can tell."""
    try:
        return _scan(body, query_string, content_type, limits)
    except (_Unsure, DecodeError, UnicodeError, ValueError, RecursionError):
        return None


def _scan(body: bytes, query_string: bytes, content_type: str | None, limits: Limits) -> Scanned:
    if not body or len(body) > limits.max_body_bytes or len(query_string) > limits.max_query_bytes:
        raise _Unsure
    query = _form_pairs(query_string) if query_string else {}
    raw_charset = query.get(b"charset")
    query_charset = _ascii(raw_charset) if raw_charset is not None else None
    charset = canonical_charset(query_charset) if query_charset else None
    raw_fmt = query.get(b"fmt")
    fmt = _ascii(raw_fmt).strip() if raw_fmt is not None else None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()

    first = body[:1]
    if first in WHITESPACE or body.startswith(UTF8_BOM):
        raise _Unsure
    if first == b"<":
        body_format = BodyFormat.XML
        if fmt not in (None, "", "0", "1", "2") or media_type.endswith(("/json", "+json")):
            raise _Unsure
        charset, relevant, names = _xml(body, charset, limits)
    elif first == b"{":
        body_format = BodyFormat.JSON
        if fmt not in (None, "", "0", "1", "3") or media_type.endswith(("/xml", "+xml")):
            raise _Unsure
        charset, relevant, names = _json(body, charset, limits)
    elif first in _FORM_FIRST:
        body_format = BodyFormat.FORM
        if fmt not in (None, "", "0", "1") or media_type.endswith(("/json", "+json", "/xml", "+xml")):
            raise _Unsure
        charset, relevant, names = _form(body, charset, limits)
    else:
        raise _Unsure
    if query:
        relevant = _merge_query(query, relevant, names, charset, limits)
    kind = classify(relevant)
    try:
        key: bytes | None = message_key(kind, relevant).encode("utf-8")
    except FieldError:
        key = None
    return Scanned(kind, body_format, key)


#: What each body scanner gives: the charset, the decoded values that matter, and every parameter name.
_Body = tuple[str, dict[str, str], Collection[str | bytes]]


def _form(body: bytes, query_charset: str | None, limits: Limits) -> _Body:
    pairs = _form_pairs(body)
    raw_charset = pairs.get(b"charset")
    body_charset = _ascii(raw_charset) if raw_charset is not None else None
    charset = _agree(query_charset, canonical_charset(body_charset) if body_charset else None)
    _check_form_values(pairs.values(), charset)
    _check_counts(pairs.keys(), limits)
    return charset, _relevant_form(pairs, charset), pairs.keys()


def _xml(body: bytes, query_charset: str | None, limits: Limits) -> _Body:
    declaration = XML_DECL.match(body)
    declared = XML_DECL_ENCODING.search(declaration.group(0)) if declaration else None
    if declared:
        # As the full decoder: the declaration is what the bytes are in, whatever the URL asked for.
        charset = canonical_charset(declared.group(1).decode("ascii"), field="xml encoding")
    else:
        element = XML_CHARSET_ELEMENT.search(body)
        charset = _agree(
            query_charset, canonical_charset(element.group(1).decode("ascii")) if element else None
        )
    if charset not in _SELF_SYNCHRONISING:
        raise _Unsure
    text = (body[declaration.end() :] if declaration else body).decode(charset)
    if "]]>" in text or _XML_DOCUMENT.fullmatch(text) is None:
        raise _Unsure
    children: dict[str, str] = {}
    for name, value in _XML_CHILD.findall(text):
        if children.setdefault(name, value) != value:
            raise _Unsure  # the same name twice: only the decoder can say whether the values agree
    _check_counts(children, limits)
    relevant = {name: _xml_unescape(children[name]) for name in _KEY_NAMES if name in children}
    relevant.update((name, "") for name in _KIND_NAMES if name in children)
    return charset, relevant, children.keys()


def _json(body: bytes, query_charset: str | None, limits: Limits) -> _Body:
    member = JSON_CHARSET_MEMBER.search(body)
    charset = _agree(query_charset, canonical_charset(member.group(1).decode("ascii")) if member else None)
    if charset not in _SELF_SYNCHRONISING:
        raise _Unsure
    text = body.decode(charset)
    if "\\u" in text:
        raise _Unsure  # a \u escape can spell a lone surrogate, which the decoder refuses
    # The C parser with builtin hooks: objects become lists of (name, value) tuples (so duplicates stay
    # visible), numbers stay as written, as in the full decoder. NaN and Infinity become floats: unsure.
    document = _JSON_DECODER.decode(text)  # only `{` bodies get here: always an object
    members = dict(document)
    # A name twice (the decoder compares the values), an empty name, or a value other than a string or a
    # number (those were kept as strings): the full decoder decides.
    if len(members) != len(document) or "" in members or set(map(type, members.values())) - {str}:
        raise _Unsure
    _check_counts(members.keys(), limits)
    relevant = {name: members[name] for name in _KEY_NAMES if name in members}
    relevant.update((name, "") for name in _KIND_NAMES if name in members)
    return charset, relevant, members.keys()


def _form_pairs(raw: bytes) -> dict[bytes, bytes]:
    if _FORM.fullmatch(raw) is None:
        raise _Unsure
    listed = _FORM_PAIR.findall(raw)
    pairs = dict(listed)
    if len(pairs) != len(listed) and any(pairs[name] != value for name, value in listed):
        raise _Unsure  # a name twice with different spellings: the decoder compares the decoded values
    return pairs


def _check_form_values(values: Iterable[bytes], charset: str) -> None:
    """Every value decodes in `charset`: one unquote and one decode for all of them."""
    if charset not in _SELF_SYNCHRONISING:
        raise _Unsure
    escaped = [value for value in values if b"%" in value]
    if escaped:
        _unescape(b"&".join(escaped)).decode(charset)


def _check_counts(names: Collection[str | bytes], limits: Limits) -> None:
    if len(names) > limits.max_parameters or max(map(len, names), default=0) > limits.max_name_chars:
        raise _Unsure


def _relevant_form(pairs: dict[bytes, bytes], charset: str) -> dict[str, str]:
    relevant: dict[str, str] = {}
    if (phone := pairs.get(b"phone")) is not None:
        relevant["phone"] = _unquote(phone).decode(charset)
    if (message_id := pairs.get(b"id")) is not None:
        relevant["id"] = _unquote(message_id).decode(charset)
    if b"mes" in pairs:
        relevant["mes"] = ""
    if b"waitcall" in pairs:
        relevant["waitcall"] = ""
    return relevant


def _merge_query(
    query: dict[bytes, bytes],
    relevant: dict[str, str],
    body_names: Collection[str | bytes],
    charset: str,
    limits: Limits,
) -> dict[str, str]:
    """The `!` rule: parameters in the query string join the body's (a name in both: the decoder decides)."""
    _check_form_values(query.values(), charset)
    _check_counts(query.keys(), limits)
    decoded_names = {name.decode("ascii") if isinstance(name, bytes) else name for name in body_names}
    if any(name.decode("ascii") in decoded_names for name in query):
        raise _Unsure
    if len(query) + len(decoded_names) > limits.max_parameters:
        raise _Unsure
    return {**_relevant_form(query, charset), **relevant}


def _agree(query_charset: str | None, body_charset: str | None) -> str:
    if query_charset and body_charset and query_charset != body_charset:
        raise _Unsure
    return query_charset or body_charset or DEFAULT_CHARSET


def _ascii(raw: bytes) -> str:
    return _unquote(raw).decode("ascii")


def _unquote(raw: bytes) -> bytes:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    return _unescape(raw) if b"%" in raw else raw


def _unescape(raw: bytes) -> bytes:
    """`%D0%9F` -> the bytes, in C: ten times faster than unquote_to_bytes. The form pattern admits no
    backslash, so `\\x` escapes are the only ones; a `%` without two hex digits raises ValueError (unsure),
    where unquote_to_bytes would keep it as it is."""
    decoded: bytes = escape_decode(raw.replace(b"%", b"\\x"))[0]
    return decoded


def _xml_unescape(text: str) -> str:
    if "&" not in text:
        return text
    for entity, character in _XML_ENTITIES:
        text = text.replace(entity, character)
    return text.replace("&amp;", "&")
