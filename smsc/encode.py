"""Writing parameters the way the SMSC server sends them: the inverse of `smsc.wire`.

Used by the simulator, tests and benchmarks; the pipeline itself only decodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote_plus
from xml.sax.saxutils import escape

from smsc.charsets import DEFAULT_CHARSET, canonical_charset
from smsc.errors import EncodeError
from smsc.wire import BodyFormat

CONTENT_TYPES: Final = {
    BodyFormat.FORM: "application/x-www-form-urlencoded",
    BodyFormat.XML: "application/xml",
    BodyFormat.JSON: "application/json",
}

#: Characters XML 1.0 cannot carry at all (nor as character references).
_XML_FORBIDDEN: Final = frozenset(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") | {
    "\ufffe",
    "\uffff",
}


@dataclass(frozen=True, slots=True)
class EncodedRequest:
    body: bytes
    query_string: str
    content_type: str


def encode_request(
    params: Mapping[str, str],
    *,
    charset: str = DEFAULT_CHARSET,
    body_format: BodyFormat = BodyFormat.FORM,
    query_keys: Iterable[str] = (),
) -> EncodedRequest:
    """Encode a callback: `query_keys` go to the query string (the `!` rule), the rest to the body."""
    charset = canonical_charset(charset)
    in_query = set(query_keys)
    query = [(k, v) for k, v in params.items() if k in in_query]
    body = [(k, v) for k, v in params.items() if k not in in_query]
    if body_format is BodyFormat.XML:
        payload = _xml(body, charset)
    elif body_format is BodyFormat.JSON:
        payload = _json(body, charset)
    else:
        payload = _form(body, charset).encode("ascii")
    return EncodedRequest(payload, _form(query, charset), CONTENT_TYPES[body_format])


def _form(pairs: list[tuple[str, str]], charset: str) -> str:
    return "&".join(f"{_quote(k, charset, k)}={_quote(v, charset, k)}" for k, v in pairs)


def _quote(text: str, charset: str, field: str) -> str:
    return quote_plus(_bytes(text, charset, field))


def _bytes(text: str, charset: str, field: str) -> bytes:
    try:
        return text.encode(charset)
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{text[exc.start]!r} cannot be written in {charset}", field=field) from None


def _xml(pairs: list[tuple[str, str]], charset: str) -> bytes:
    parts = [f'<?xml version="1.0" encoding="{charset}"?>\n<callback>']
    for name, value in pairs:
        if not name.isidentifier() or not name.isascii():
            raise EncodeError("not a valid XML element name", field=name)
        if forbidden := _XML_FORBIDDEN.intersection(value):
            raise EncodeError(f"{min(forbidden)!r} cannot be carried by XML", field=name)
        # \r as a character reference: a literal one would be normalised to \n by any XML parser.
        parts.append(f"<{name}>{escape(value).replace(chr(13), '&#13;')}</{name}>")
    parts.append("</callback>")
    return _bytes("".join(parts), charset, "body")


def _json(pairs: list[tuple[str, str]], charset: str) -> bytes:
    document = dict(pairs)
    try:
        return json.dumps(document, ensure_ascii=False).encode(charset)
    except UnicodeEncodeError:
        # What the charset cannot spell, JSON can still carry as \u escapes.
        return json.dumps(document, ensure_ascii=True).encode(charset)
