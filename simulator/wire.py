"""How the SMSC server writes one callback on the wire: charset, format, the `!` rule and the signature.

The client's handler URL decides all four, e.g. `https://host/smsc/callback/acme/!id&phone?charset=utf-8&fmt=3&md5=s3cr3t`:
`charset`, `fmt` and the signature parameter then arrive as parameters themselves (SMSC posts every
parameter written after `?`), `id` and `phone` in the query string. A fixed `WireConfig` plays one
account's URL; leaving a field None draws it per callback, as if many differently configured accounts
posted to the same endpoint (SMSC never combines koi8-r with `fmt`, so neither does the draw).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from random import Random
from typing import Final

from simulator.draws import weighted
from smsc import (
    DEFAULT_CHARSET,
    BodyFormat,
    CallbackKind,
    EncodedRequest,
    SignatureAlgorithm,
    check_secret,
    encode_request,
    sign,
)
from smsc.charsets import canonical_charset

FMT_PARAM: Final = {BodyFormat.XML: "2", BodyFormat.JSON: "3"}
SIGNATURE_PARAMS: Final = frozenset(algorithm.value for algorithm in SignatureAlgorithm)

_CHARSET_WEIGHTS: Final = (("windows-1251", 50), ("utf-8", 35), ("koi8-r", 15))
_FORMAT_WEIGHTS: Final = ((BodyFormat.FORM, 60), (BodyFormat.JSON, 25), (BodyFormat.XML, 15))
#: `!` patterns seen in handler URLs; the drawn mode uses one for ~1 callback in 7.
_QUERY_PATTERNS: Final = (("id", "phone"), ("status",), ("phone",), ("charset", "fmt"), ("ts", "waitcall"))
_QUERY_SHARE: Final = 0.15
#: How often a handler URL names the default charset explicitly (`?charset=windows-1251`).
_EXPLICIT_DEFAULT_SHARE: Final = 0.3


@dataclass(frozen=True, slots=True)
class WireConfig:
    """The handler URL being played. None draws the value per callback."""

    charset: str | None = None
    body_format: BodyFormat | None = None
    #: Parameters forced into the query string (`!id&phone` in the URL path); None draws a pattern.
    query_keys: tuple[str, ...] | None = None
    #: With a secret, every callback carries `md5`/`sha1`/`crc32` = the hash of its signed string.
    secret: str | None = None
    algorithm: SignatureAlgorithm = SignatureAlgorithm.MD5

    def __post_init__(self) -> None:
        if self.charset is not None:
            object.__setattr__(self, "charset", canonical_charset(self.charset))
        if self.secret is not None:
            check_secret(self.secret)


@dataclass(frozen=True, slots=True)
class WireChoice:
    """The charset, format and `!` keys one callback is written with."""

    charset: str
    body_format: BodyFormat
    query_keys: tuple[str, ...]
    #: Whether the handler URL names the charset even when it is the default one.
    explicit_charset: bool = False


@dataclass(frozen=True, slots=True)
class WireRequest:
    """The full parameters (SMSC's, the handler URL's, the signature) and the request carrying them."""

    params: Mapping[str, str]
    request: EncodedRequest
    choice: WireChoice


def choose(config: WireConfig, rng: Random) -> WireChoice:
    """Draw what the config leaves open; a fixed config draws nothing (the rng is not touched)."""
    body_format = config.body_format or weighted(rng, _FORMAT_WEIGHTS)
    charset = config.charset
    if charset is None:
        charset = weighted(rng, _CHARSET_WEIGHTS)
        if charset == "koi8-r" and body_format is not BodyFormat.FORM:
            charset = "utf-8"  # "with fmt set, koi8-r is not used"
    query_keys = config.query_keys
    if query_keys is None:
        query_keys = rng.choice(_QUERY_PATTERNS) if rng.random() < _QUERY_SHARE else ()
    explicit = config.charset is None and rng.random() < _EXPLICIT_DEFAULT_SHARE
    return WireChoice(charset, body_format, query_keys, explicit)


def write(
    kind: CallbackKind, smsc_params: Mapping[str, str], choice: WireChoice, config: WireConfig
) -> WireRequest:
    """Add the handler URL's parameters and the signature to SMSC's own, and encode the request."""
    return write_with(kind, smsc_params, choice, secret=config.secret, algorithm=config.algorithm)


def write_with(
    kind: CallbackKind,
    smsc_params: Mapping[str, str],
    choice: WireChoice,
    *,
    secret: str | None,
    algorithm: SignatureAlgorithm = SignatureAlgorithm.MD5,
) -> WireRequest:
    params = dict(smsc_params)
    if choice.charset != DEFAULT_CHARSET or choice.explicit_charset:
        params["charset"] = choice.charset
    if choice.body_format in FMT_PARAM:
        params["fmt"] = FMT_PARAM[choice.body_format]
    if secret is not None:
        params[algorithm.value] = signature(kind, params, secret, algorithm, choice.charset)
    return WireRequest(params, encode(params, choice), choice)


def encode(params: Mapping[str, str], choice: WireChoice) -> EncodedRequest:
    """Encode finished parameters (the `!` keys a callback does not have are ignored)."""
    in_query = [name for name in choice.query_keys if name in params]
    return encode_request(params, charset=choice.charset, body_format=choice.body_format, query_keys=in_query)


def signature(
    kind: CallbackKind, params: Mapping[str, str], secret: str, algorithm: SignatureAlgorithm, charset: str
) -> str:
    """The hash over the callback's own charset (what SMSC presumably hashes); UTF-8 if it cannot."""
    try:
        return sign(kind, params, secret, algorithm, encoding=charset)
    except UnicodeEncodeError:
        return sign(kind, params, secret, algorithm, encoding="utf-8")
