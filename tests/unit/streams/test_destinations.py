"""The range destination of a number equals libphonenumber's documented path, whichever way it is found."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import carrier as phone_carriers

from smsc.events import UNKNOWN
from streams.carriers import normalise_carrier
from streams.destinations import MEMO_NUMBERS, range_destination

DIGITS = "0123456789"
_documented_parse = phonenumbers.parse


def documented(phone: str) -> tuple[str, str]:
    """The definition: parse "+" + phone; its region (no country for "unknown" or non-geographic ones)
    and its range's English carrier name, normalised; (unknown, unknown) if it does not parse."""
    try:
        number = _documented_parse("+" + phone)
    except phonenumbers.NumberParseException:
        return UNKNOWN, UNKNOWN
    region = phonenumbers.region_code_for_number(number)
    country = UNKNOWN if region in (None, "ZZ", "001") else region
    return country, normalise_carrier(phone_carriers.name_for_valid_number(number, "en"))


uncached: Callable[[str], tuple[str, str]] = range_destination.__wrapped__


def assert_same(phones: list[str]) -> None:
    differing = [(phone, uncached(phone), documented(phone)) for phone in phones]
    differing = [row for row in differing if row[1] != row[2]]
    assert not differing, differing[:20]


@pytest.mark.parametrize(
    ("phone", "destination"),
    [
        ("79031234567", ("RU", "Beeline")),
        ("79261234567", ("RU", "MegaFon")),
        ("79501234567", ("RU", "T2")),
        ("77011234567", ("KZ", "Kcell/Activ")),
        ("79161234567", ("RU", UNKNOWN)),  # libphonenumber has no carrier for +7916
        ("375291234567", ("BY", "Velcom")),
        ("4917612345678", ("DE", "O2")),
        ("905321234567", ("TR", "Turkcell")),
        ("390612345678", ("IT", UNKNOWN)),  # Rome, a fixed line: its leading zero is part of the number
        ("992901234567", ("TJ", "MegaFon")),  # the library's "Megafon", normalised
        ("80012345678", (UNKNOWN, UNKNOWN)),  # +800 is a calling code of no country
        ("", (UNKNOWN, UNKNOWN)),
        ("7", (UNKNOWN, UNKNOWN)),
        ("0079031234567", (UNKNOWN, UNKNOWN)),
        ("2891234567", (UNKNOWN, UNKNOWN)),  # +289 is no calling code
        ("not a number", (UNKNOWN, UNKNOWN)),
    ],
)
def test_known_destinations(phone: str, destination: tuple[str, str]) -> None:
    assert range_destination(phone) == destination
    assert documented(phone) == destination


def random_digits(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(DIGITS, k=length))


def calling_code_numbers() -> Iterator[str]:
    """Every calling code followed by national numbers of 0-19 digits: random, from zero and all zeros."""
    rng = random.Random(15)
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for length in range(20):
            for _ in range(6):
                yield f"{code}{random_digits(rng, length)}"
            if length:
                yield f"{code}0{random_digits(rng, length - 1)}"
                yield f"{code}{'0' * length}"
                yield f"{code}{'00' if length > 1 else '0'}{random_digits(rng, max(length - 2, 0))}"


def test_every_calling_code_with_national_numbers_of_every_length() -> None:
    phones = list(calling_code_numbers())
    assert len(phones) > 215 * 20 * 6
    assert_same(phones)


def example_numbers() -> Iterator[str]:
    types = [getattr(phonenumbers.PhoneNumberType, name) for name in dir(phonenumbers.PhoneNumberType)]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in sorted({t for t in types if isinstance(t, int)}):
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                yield phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            yield phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def test_the_librarys_example_numbers_of_every_region_and_type() -> None:
    phones = list(example_numbers())
    assert len(phones) > 1000
    assert_same(phones)
    # and their neighbours: the same ranges with other subscribers
    rng = random.Random(7)
    assert_same([phone[:-3] + random_digits(rng, 3) for phone in phones if len(phone) > 6])


def test_leading_zeros_are_kept_as_parse_keeps_them() -> None:
    # Italy keeps the trunk zero of fixed lines in the international number; others have such ranges too.
    phones = [f"39{zeros}{rest}" for zeros in ("0", "00", "000") for rest in ("612345678", "2123456", "1")]
    phones += ["3906", "390", "39000000000", "2250123456789", "4400123456"]
    assert_same(phones)
    assert uncached("390612345678") == ("IT", UNKNOWN)


def test_national_prefixes_are_left_to_parse() -> None:
    # +7 8 903...: Russia's trunk prefix 8 after the calling code; parse strips it when what is left is
    # a possible number (its own length rules), and so does the direct path by asking parse.
    phones = ["789031234567", "78903123456", "78001234567", "4901761234567", "33061234567", "3306123456"]
    phones += ["54" + tail for tail in ("91123456789", "1115123456", "91112345678", "2211234567", "0")]
    phones += ["1" + tail for tail in ("12015550123", "2015550123", "1")]
    assert_same(phones)


def test_too_short_too_long_and_not_digits() -> None:
    phones = ["", "1", "12", "123", "79", "790", "7903", "7" * 19, "7" * 20, "7" * 21, "7" * 40, "7" * 300]
    phones += [" 79031234567", "+79031234567", "++79031234567", "7 903 123-45-67", "(7903) 1234567"]
    phones += [
        "７９０３１２３４５６７",
        "٧٩٠٣١٢٣٤٥٦٧",
        "7903123456x7",
        "79031234567;ext=12",
        "tel:+79031234567",
    ]
    phones += ["1-800-FLOWERS", "+", "-", "abc", "\x00", "79031234567\n", "7903123456７"]
    assert_same(phones)
    assert range_destination("+79031234567") == documented("+79031234567")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=DIGITS, max_size=22))
def test_any_digits(phone: str) -> None:
    assert uncached(phone) == documented(phone)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text(phone: str) -> None:
    assert uncached(phone) == documented(phone)


def test_plain_numbers_take_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agreement above is not by the direct path always asking parse."""
    parsed: list[str] = []

    def counting_parse(number: str, *args: object, **kwargs: object) -> phonenumbers.PhoneNumber:
        parsed.append(number)
        return _documented_parse(number, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(phonenumbers, "parse", counting_parse)
    rng = random.Random(3)
    phones = [
        prefix + random_digits(rng, 7) for prefix in ("7903", "7926", "7701", "7916") for _ in range(50)
    ]
    phones += ["375291234567", "4917612345678", "905321234567", "390612345678", "12015550123"]
    for phone in phones:
        uncached(phone)
    assert parsed == []
    uncached("7 903 123 45 67")
    assert parsed == ["+7 903 123 45 67"]


def test_memoised_and_bounded() -> None:
    range_destination.cache_clear()
    assert range_destination("79031234567") == ("RU", "Beeline")
    assert range_destination("79031234567") == ("RU", "Beeline")
    info = range_destination.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 1, MEMO_NUMBERS)
