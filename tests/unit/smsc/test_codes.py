"""The code tables against the provider's documented codes: every status's outcome, every error's category."""

from __future__ import annotations

import pytest

from smsc.codes import (
    ERROR_CODES,
    MESSAGE_TYPES,
    STATUS_CODES,
    Outcome,
    VoiceOutcome,
    error_category,
    error_description,
    message_type_name,
    status_name,
    status_outcome,
    voice_outcome,
)

# The provider's tables (docs/codes.md gives the sources), copied by hand (not derived from smsc.codes).
STATUS_TABLE = {
    -3: Outcome.NOT_FOUND,
    -2: Outcome.PENDING,
    -1: Outcome.PENDING,
    0: Outcome.PENDING,
    1: Outcome.DELIVERED,
    2: Outcome.READ,
    3: Outcome.EXPIRED,
    4: Outcome.CLICKED,
    20: Outcome.FAILED,
    22: Outcome.FAILED,
    23: Outcome.FAILED,
    24: Outcome.FAILED,
    25: Outcome.FAILED,
}

ERROR_TABLE = {
    1: "subscriber",
    6: "subscriber",
    11: "subscriber",
    12: "subscriber",
    13: "subscriber",
    21: "subscriber",
    200: "test",
    219: "subscriber",
    220: "operator",
    237: "voice",
    238: "account",
    239: "account",
    240: "voice",
    241: "content",
    242: "voice",
    243: "account",
    244: "account",
    245: "operator",
    246: "account",
    247: "account",
    248: "operator",
    249: "number",
    250: "account",
    251: "account",
    252: "account",
    253: "account",
    254: "account",
    255: "operator",
}

TYPE_TABLE = {
    0: "sms",
    1: "flash",
    2: "binary",
    3: "wap_push",
    4: "hlr",
    5: "ping",
    6: "mms",
    7: "voice",
    8: "email",
    10: "viber",
    12: "social",
}

UNKNOWN_STATUSES = (-4, 5, 19, 21, 26, 100)
UNKNOWN_ERRORS = (0, 2, 199, 201, 236, 256, 999, -1)


def test_the_status_table_is_the_documented_one() -> None:
    assert set(STATUS_CODES) == set(STATUS_TABLE)


@pytest.mark.parametrize(("status", "outcome"), STATUS_TABLE.items())
def test_every_status_has_its_outcome(status: int, outcome: Outcome) -> None:
    assert status_outcome(status) is outcome
    assert STATUS_CODES[status].code == status
    assert STATUS_CODES[status].meaning
    assert status_name(status) == STATUS_CODES[status].name != "unknown"


def test_status_names_are_unique() -> None:
    names = [row.name for row in STATUS_CODES.values()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("status", UNKNOWN_STATUSES)
def test_an_unknown_status_is_unknown_not_an_error(status: int) -> None:
    assert status_outcome(status) is Outcome.UNKNOWN
    assert status_name(status) == "unknown"
    assert not Outcome.UNKNOWN.is_final


def test_final_outcomes() -> None:
    assert {outcome for outcome in Outcome if outcome.is_final} == {
        Outcome.DELIVERED,
        Outcome.FAILED,
        Outcome.EXPIRED,
    }


def test_outcomes_implying_delivery() -> None:
    # read and clicked are engagement after delivery: they count as delivered if 1 was never seen.
    assert {outcome for outcome in Outcome if outcome.implies_delivery} == {
        Outcome.DELIVERED,
        Outcome.READ,
        Outcome.CLICKED,
    }


def test_the_error_table_is_the_documented_one() -> None:
    assert set(ERROR_CODES) == set(ERROR_TABLE)


@pytest.mark.parametrize(("err", "category"), ERROR_TABLE.items())
def test_every_error_has_its_category(err: int, category: str) -> None:
    assert error_category(err) == category
    assert ERROR_CODES[err].code == err
    assert error_description(err) == ERROR_CODES[err].description != "unknown error code"


@pytest.mark.parametrize("err", UNKNOWN_ERRORS)
def test_an_unknown_error_is_unknown_not_an_error(err: int) -> None:
    assert error_category(err) == "unknown"
    assert error_description(err) == "unknown error code"


def test_error_categories_are_a_bounded_set() -> None:
    categories = {row.category for row in ERROR_CODES.values()}
    assert categories == {"subscriber", "test", "operator", "voice", "account", "content", "number"}


@pytest.mark.parametrize(("message_type", "name"), TYPE_TABLE.items())
def test_message_types(message_type: int, name: str) -> None:
    assert message_type_name(message_type) == name


def test_the_message_type_table_is_the_documented_one() -> None:
    assert dict(MESSAGE_TYPES) == TYPE_TABLE


@pytest.mark.parametrize("message_type", [9, 11, 13, 15, 99])
def test_an_unknown_message_type_keeps_its_number(message_type: int) -> None:
    assert message_type_name(message_type) == f"type_{message_type}"


@pytest.mark.parametrize(
    ("status", "err", "outcome"),
    [
        (1, 0, VoiceOutcome.ANSWERED),
        (2, 0, VoiceOutcome.ANSWERED),
        (4, 0, VoiceOutcome.ANSWERED),
        (3, 0, VoiceOutcome.EXPIRED),
        (20, 237, VoiceOutcome.NOT_ANSWERED),
        (20, 240, VoiceOutcome.BUSY),
        (20, 242, VoiceOutcome.ANSWERING_MACHINE),
        (25, 237, VoiceOutcome.NOT_ANSWERED),
        (20, 0, VoiceOutcome.FAILED),
        (20, 6, VoiceOutcome.FAILED),
        (22, 249, VoiceOutcome.FAILED),
        (24, 0, VoiceOutcome.FAILED),
        (20, 999, VoiceOutcome.FAILED),
    ],
)
def test_voice_outcome_of_a_final_status(status: int, err: int, outcome: VoiceOutcome) -> None:
    assert voice_outcome(status, err) is outcome


@pytest.mark.parametrize(
    ("status", "err"), [(-3, 0), (-2, 0), (-1, 0), (0, 0), (0, 237), (0, 6), (5, 0), (99, 240)]
)
def test_no_voice_outcome_while_the_call_is_not_final(status: int, err: int) -> None:
    assert voice_outcome(status, err) is None
