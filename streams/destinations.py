"""Where a message goes: the country and carrier of its recipient's number range.

The answer is libphonenumber's: `phonenumbers.parse("+" + phone)`, then `region_code_for_number` and
`carrier.name_for_valid_number(..., "en")` (normalised by `streams.carriers`). That documented path
spends most of its time in `parse` working out what kind of text it was given. A recipient number is
nearly always plain international digits, for which `parse` only finds the country calling code (the
first 1-3 digits that are one), and strips a national prefix if the rest starts with one. So for plain
digits this builds the `PhoneNumber` itself and leaves to `parse` only what it would change: text that is
not plain digits, and numbers a national prefix pattern matches (a third of the time for a mix of
numbers, a seventh for Russian mobiles: benchmarks/destinations_state.py). tests/unit/streams checks
both paths agree on every calling code, the library's example numbers and malformed input.

Memoised: recipients repeat (campaigns, retries, the same customers), and a hit costs ~0.2 µs.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import phonenumbers
from phonenumbers import carrier as phone_carriers

from smsc.events import UNKNOWN
from streams.carriers import normalise_carrier

# Distinct numbers remembered: ~200 B each (the number's text, the memo's own entry), ~13 MiB when full.
MEMO_NUMBERS: Final = 1 << 16

# What `parse` accepts after a "+": a calling code of at most 3 digits, a national number of 2-17.
_MAX_CALLING_CODE_DIGITS: Final = 3
_MIN_NATIONAL_DIGITS: Final = 2
_MAX_NATIONAL_DIGITS: Final = 17
# Region codes that are no country: libphonenumber's "unknown" and "non-geographic" (+800, +882, ...).
_NO_COUNTRY: Final = frozenset({phonenumbers.UNKNOWN_REGION, phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY})


@functools.cache
def _national_prefix(calling_code: int) -> re.Pattern[str] | None:
    """The pattern `parse` tries to strip from the national number of this calling code, if any."""
    region = phonenumbers.region_code_for_country_code(calling_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)
    if metadata is None or not metadata.national_prefix_for_parsing:
        return None
    return re.compile(metadata.national_prefix_for_parsing)


def _may_strip(prefix: re.Match[str] | None) -> bool:
    """Whether `parse` may change a national number its national prefix pattern matched so.

    It strips what matched (or rewrites it by the transform rule, which substitutes the groups) when the
    length left is possible; an empty match with no group taken (Argentina's pattern is optional) changes
    nothing either way.
    """
    if prefix is None:
        return False
    return prefix.end() > 0 or any(group is not None for group in prefix.groups())


def _destination_of(number: phonenumbers.PhoneNumber) -> tuple[str, str]:
    region = phonenumbers.region_code_for_number(number)
    country = region if region and region not in _NO_COUNTRY else UNKNOWN
    return country, normalise_carrier(phone_carriers.name_for_valid_number(number, "en"))


def _parsed_destination(phone: str) -> tuple[str, str]:
    """The documented path, for whatever the direct one does not cover."""
    try:
        number = phonenumbers.parse("+" + phone)
    except phonenumbers.NumberParseException:
        return UNKNOWN, UNKNOWN
    return _destination_of(number)


@functools.lru_cache(maxsize=MEMO_NUMBERS)
def range_destination(phone: str) -> tuple[str, str]:
    """(country, carrier) of the range of `phone` (international digits, no '+'); `unknown` for either."""
    if not (phone.isascii() and phone.isdigit()):
        return _parsed_destination(phone)
    # `parse` wants more than 2 digits after the "+", and no calling code starts with 0.
    if len(phone) <= _MIN_NATIONAL_DIGITS or phone[0] == "0":
        return UNKNOWN, UNKNOWN
    for digits in range(1, _MAX_CALLING_CODE_DIGITS + 1):
        calling_code = int(phone[:digits])
        if calling_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return UNKNOWN, UNKNOWN
    national = phone[digits:]
    if len(national) < _MIN_NATIONAL_DIGITS:
        return UNKNOWN, UNKNOWN
    national_prefix = _national_prefix(calling_code)
    if national_prefix is not None and _may_strip(national_prefix.match(national)):
        return _parsed_destination(phone)
    if len(national) > _MAX_NATIONAL_DIGITS:
        return UNKNOWN, UNKNOWN
    number = phonenumbers.PhoneNumber(country_code=calling_code, national_number=int(national))
    if national[0] == "0":  # as `parse` records leading zeros (Italy and others keep them)
        number.italian_leading_zero = True
        zeros = len(national) - len(national.lstrip("0"))
        zeros = min(zeros, len(national) - 1)
        if zeros > 1:
            number.number_of_leading_zeros = zeros
    return _destination_of(number)
