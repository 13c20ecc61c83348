"""The callback signature: md5 / sha1 / crc32 of `id:phone:status:<secret>` (and the other two forms).

The provider does not say which bytes are hashed nor how crc32 is written, so a signature is accepted
when it matches under any of the readings: the callback's charset or UTF-8, crc32 in unsigned decimal or
hex. Comparison is constant-time and never stops at the first candidate.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from smsc.errors import EncodeError, FieldError, SignatureError
from smsc.kinds import CallbackKind


class SignatureAlgorithm(StrEnum):
    MD5 = "md5"
    SHA1 = "sha1"
    CRC32 = "crc32"


SIGNED_FIELDS: Final = {
    CallbackKind.STATUS: ("id", "phone", "status"),
    CallbackKind.INCOMING: ("phone", "mes", "to"),
    CallbackKind.CALL_CONFIRMATION: ("phone", "ts"),
}

_SECRET: Final = re.compile(r"[A-Za-z0-9_-]+")


def check_secret(secret: str) -> str:
    """The provider allows Latin letters, digits, `-` and `_` in a secret."""
    if not _SECRET.fullmatch(secret):
        raise FieldError("a secret may hold only Latin letters, digits, '-' and '_'", field="secret")
    return secret


def signed_string(kind: CallbackKind, params: Mapping[str, str], secret: str) -> str:
    return ":".join([*(params.get(name, "") for name in SIGNED_FIELDS[kind]), secret])


def sign(
    kind: CallbackKind,
    params: Mapping[str, str],
    secret: str,
    algorithm: SignatureAlgorithm,
    *,
    encoding: str = "utf-8",
) -> str:
    """The signature the SMSC server would send (md5/sha1 lower-case hex, crc32 unsigned decimal)."""
    try:
        data = signed_string(kind, params, secret).encode(encoding)
    except (UnicodeEncodeError, LookupError) as exc:
        raise EncodeError(
            f"the signed string cannot be written in {encoding}: {exc}", field="signature"
        ) from None
    if algorithm is SignatureAlgorithm.CRC32:
        return str(zlib.crc32(data))
    return hashlib.new(algorithm.value, data).hexdigest()


def verify_signature(
    kind: CallbackKind, params: Mapping[str, str], secret: str, *, charset: str
) -> SignatureAlgorithm:
    """Check every signature the callback carries; returns the (first) algorithm, raises SignatureError."""
    present = [algorithm for algorithm in SignatureAlgorithm if algorithm.value in params]
    if not present:
        raise SignatureError("missing: the account requires a signature (md5, sha1 or crc32)")
    for algorithm in present:
        received = params[algorithm.value].strip().lower().encode("ascii", "replace")
        matched = False
        for candidate in _candidates(kind, params, secret, algorithm, charset):
            matched |= hmac.compare_digest(received, candidate)
        if not matched:
            raise SignatureError("does not match the account's secret", field=algorithm.value)
    return present[0]


def _candidates(
    kind: CallbackKind, params: Mapping[str, str], secret: str, algorithm: SignatureAlgorithm, charset: str
) -> list[bytes]:
    text = signed_string(kind, params, secret)
    readings = []
    for encoding in dict.fromkeys((charset, "utf-8")):
        try:
            readings.append(text.encode(encoding))
        except UnicodeEncodeError:
            continue
    candidates = []
    for data in readings:
        if algorithm is SignatureAlgorithm.CRC32:
            checksum = zlib.crc32(data)
            candidates += [str(checksum), f"{checksum:x}", f"{checksum:08x}"]
        else:
            candidates.append(hashlib.new(algorithm.value, data).hexdigest())
    return [candidate.encode("ascii") for candidate in candidates]
