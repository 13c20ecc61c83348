"""Deciding what happens to one callback: store it under which key, or refuse it with which reason.

Pure: bytes and the account's secret in, a verdict out. The HTTP codes follow the SMSC retry rules
(anything but 200 and 404 makes the server retry, 50 times over about 3 h 20 min).
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple

from ingest.keyscan import scan
from smsc.errors import DecodeError, SignatureError
from smsc.kinds import CallbackKind, classify, message_key_bytes
from smsc.signature import verify_signature
from smsc.wire import BodyFormat, Limits, decode_request


class Reason(StrEnum):
    """Why a request was refused: a bounded set, the metric label and the rejected record's header."""

    UNKNOWN_ACCOUNT = "unknown_account"
    TOO_LARGE = "too_large"
    UNDECODABLE = "undecodable"
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"


#: 404 stops the SMSC retries: only for names that are no account of ours. The others make SMSC retry,
#: so a secret fixed within ~3 h recovers every callback (and the rejected topic keeps a copy anyway).
STATUS_OF: Final = MappingProxyType(
    {
        Reason.UNKNOWN_ACCOUNT: 404,
        Reason.TOO_LARGE: 413,
        Reason.UNDECODABLE: 400,
        Reason.MISSING_SIGNATURE: 403,
        Reason.BAD_SIGNATURE: 403,
    }
)


class Verdict(NamedTuple):
    """`reason` None: store in the raw topic under `key` (None when the body cannot be parsed).

    A named tuple rather than a frozen dataclass: one is built per request, and a frozen dataclass's
    `__init__` (an `object.__setattr__` per field) costs several times as much."""

    reason: Reason | None
    kind: CallbackKind | None
    body_format: BodyFormat | None
    key: bytes | None


def admit(
    body: bytes, query_string: bytes, content_type: str | None, *, secret: str | None, limits: Limits
) -> Verdict:
    """Decode just enough to check the signature (when the account has a secret) and to find the key.

    An account without a secret stores whatever it gets, even an undecodable body (with a null key):
    raw first, the stream parser dead-letters what it cannot read and a fixed parser can replay it.
    Without a secret only the kind, format and key are needed: the scanner finds them without decoding
    every parameter (the same answer by contract), and the full decoder runs only when it is unsure.
    """
    if secret is None and (scanned := scan(body, query_string, content_type, limits=limits)) is not None:
        return Verdict(None, scanned.kind, scanned.body_format, scanned.key)
    try:
        decoded = decode_request(body, query_string, content_type, limits=limits)
    except DecodeError:
        if secret is not None:
            return Verdict(Reason.UNDECODABLE, None, None, None)
        return Verdict(None, None, None, None)
    kind = classify(decoded.params)
    if secret is not None:
        try:
            verify_signature(kind, decoded.params, secret, charset=decoded.charset)
        except SignatureError as exc:
            reason = Reason.MISSING_SIGNATURE if exc.field is None else Reason.BAD_SIGNATURE
            return Verdict(reason, kind, decoded.format, None)
    return Verdict(None, kind, decoded.format, message_key_bytes(kind, decoded.params))
