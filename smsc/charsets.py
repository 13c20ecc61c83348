"""The three charsets SMSC writes parameters in, and how a request names one."""

from __future__ import annotations

import codecs
from typing import Final

from smsc.errors import DecodeError

#: The provider's default when neither the handler URL nor the body names a charset.
DEFAULT_CHARSET: Final = "windows-1251"

#: Python codec name -> the name SMSC (and our headers and events) use.
_CANONICAL: Final = {"cp1251": "windows-1251", "koi8-r": "koi8-r", "utf-8": "utf-8"}

SUPPORTED_CHARSETS: Final = tuple(_CANONICAL.values())


def canonical_charset(name: str, *, field: str = "charset") -> str:
    """`utf8`, `UTF-8`, `cp1251`, `windows-1251`, `KOI8-R` ... -> one of SUPPORTED_CHARSETS."""
    if name in SUPPORTED_CHARSETS:  # the usual spelling: no codec lookup, the dearest part of this
        return name
    try:
        codec = codecs.lookup(name.strip()).name
    except (LookupError, ValueError):  # ValueError: a NUL or a lone surrogate in the name
        codec = ""
    try:
        return _CANONICAL[codec]
    except KeyError:
        raise DecodeError(
            f"unsupported charset {name[:40]!r} (expected one of {', '.join(SUPPORTED_CHARSETS)})",
            field=field,
        ) from None
