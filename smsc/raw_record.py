"""The raw record contract: one callback as ingest stored it in Kafka, and the topics that hold them.

Ingest writes it, the stream processors read it; both import it from here because they may never import
each other. The record value is the HTTP request body exactly as received; everything else about the
request travels in Kafka headers, so that nothing is parsed before it is durable ("raw first").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from smsc.errors import DecodeError
from smsc.kinds import CallbackKind

#: Every callback ingest accepted, value = body bytes as received, key = the message (see `message_key`).
RAW_TOPIC: Final = "smsc.callbacks.raw"
#: Requests ingest refused (403, 413, 400, 404), kept best effort so that a misconfiguration loses nothing.
REJECTED_TOPIC: Final = "smsc.callbacks.rejected"

#: The layout of the headers below; a reader refuses a record of another major version.
FORMAT_VERSION: Final = 1

VERSION_HEADER: Final = "smsc-record-version"
QUERY_STRING_HEADER: Final = "smsc-query-string"
CONTENT_TYPE_HEADER: Final = "smsc-content-type"
ACCOUNT_HEADER: Final = "smsc-account"
RECEIVED_AT_NS_HEADER: Final = "smsc-received-at-ns"
REMOTE_ADDR_HEADER: Final = "smsc-remote-addr"
REQUEST_ID_HEADER: Final = "smsc-request-id"
KIND_HEADER: Final = "smsc-kind"
REJECT_REASON_HEADER: Final = "smsc-reject-reason"

#: Headers a reader cannot do without; the others are absent when the request did not have them.
REQUIRED_HEADERS: Final = (
    VERSION_HEADER,
    QUERY_STRING_HEADER,
    ACCOUNT_HEADER,
    RECEIVED_AT_NS_HEADER,
    REQUEST_ID_HEADER,
)

_KINDS: Final = frozenset(kind.value for kind in CallbackKind)
_VERSION_ENTRY: Final = (VERSION_HEADER, str(FORMAT_VERSION).encode("ascii"))
_KIND_ENTRIES: Final = {kind: (KIND_HEADER, kind.value.encode("ascii")) for kind in CallbackKind}


def raw_headers(
    query_string: bytes,
    content_type: str | None,
    account: str,
    received_at_ns: int,
    remote_addr: str | None,
    request_id: str,
    kind: CallbackKind | None = None,
    reject_reason: str | None = None,
) -> list[tuple[str, bytes]]:
    """The Kafka headers of a record with these fields (`RawRecord.to_headers`); a function of its own so
    that ingest writes a record without building a `RawRecord` per request."""
    headers = [
        _VERSION_ENTRY,
        (QUERY_STRING_HEADER, query_string),
        (ACCOUNT_HEADER, account.encode("utf-8")),
        (RECEIVED_AT_NS_HEADER, str(received_at_ns).encode("ascii")),
        (REQUEST_ID_HEADER, request_id.encode("utf-8")),
    ]
    # HTTP header values are latin-1 on the wire (RFC 9110 obs-text), so latin-1 gives back the bytes.
    if content_type is not None:
        headers.append((CONTENT_TYPE_HEADER, content_type.encode("latin-1")))
    if remote_addr is not None:
        headers.append((REMOTE_ADDR_HEADER, remote_addr.encode("utf-8")))
    if kind is not None:
        headers.append(_KIND_ENTRIES[kind])
    if reject_reason is not None:
        headers.append((REJECT_REASON_HEADER, reject_reason.encode("utf-8")))
    return headers


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One HTTP request of the SMSC server, as stored: nothing parsed, nothing normalised.

    `query_string` is the raw bytes after `?` (still percent-encoded), `content_type` the header as sent
    (None when absent), `received_at_ns` the UTC wall clock in nanoseconds since the epoch when ingest
    received the request, `remote_addr` the client IP (None when the server did not know it), `kind`
    what ingest classified the callback as (None when its body could not be decoded), `reject_reason`
    why ingest refused it (None for every record of the raw topic).
    """

    body: bytes
    query_string: bytes
    content_type: str | None
    account: str
    received_at_ns: int
    remote_addr: str | None
    request_id: str
    kind: CallbackKind | None = None
    reject_reason: str | None = None

    def to_headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers of this record (the value is `body`)."""
        return raw_headers(
            self.query_string,
            self.content_type,
            self.account,
            self.received_at_ns,
            self.remote_addr,
            self.request_id,
            self.kind,
            self.reject_reason,
        )

    @classmethod
    def from_headers(cls, value: bytes | None, headers: Iterable[tuple[str, bytes | None]]) -> RawRecord:
        """Read a record back; raises `DecodeError` naming the header that is missing or malformed."""
        found: dict[str, bytes] = {}
        for name, raw in headers:
            # Kafka allows a header twice; the contract writes each once, so a second one is not ours.
            found.setdefault(name, raw or b"")
        for name in REQUIRED_HEADERS:
            if name not in found:
                raise DecodeError("missing", field=name)
        version = _text(found, VERSION_HEADER, "ascii")
        if version != str(FORMAT_VERSION):
            raise DecodeError(f"unsupported record version {version[:10]!r}", field=VERSION_HEADER)
        received = _text(found, RECEIVED_AT_NS_HEADER, "ascii")
        if not received.isdigit():
            raise DecodeError("not a non-negative integer", field=RECEIVED_AT_NS_HEADER)
        kind = _optional(found, KIND_HEADER, "ascii")
        if kind is not None and kind not in _KINDS:
            raise DecodeError(f"unknown kind {kind[:20]!r}", field=KIND_HEADER)
        return cls(
            body=value if value is not None else b"",
            query_string=found[QUERY_STRING_HEADER],
            content_type=_optional(found, CONTENT_TYPE_HEADER, "latin-1"),
            account=_text(found, ACCOUNT_HEADER, "utf-8"),
            received_at_ns=int(received),
            remote_addr=_optional(found, REMOTE_ADDR_HEADER, "utf-8"),
            request_id=_text(found, REQUEST_ID_HEADER, "utf-8"),
            kind=CallbackKind(kind) if kind is not None else None,
            reject_reason=_optional(found, REJECT_REASON_HEADER, "utf-8"),
        )


def _optional(found: dict[str, bytes], name: str, encoding: str) -> str | None:
    return _text(found, name, encoding) if name in found else None


def _text(found: dict[str, bytes], name: str, encoding: str) -> str:
    try:
        return found[name].decode(encoding)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not valid {encoding} (byte {exc.start})", field=name) from None
