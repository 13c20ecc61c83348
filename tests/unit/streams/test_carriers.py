"""One spelling per carrier: HLR answers and number ranges name a network the same way."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import carrier as phone_carriers

from smsc.events import UNKNOWN
from streams.carriers import NETWORKS, hlr_carrier, normalise_carrier
from streams.destinations import range_destination

# A number of each network in the table, and its country: the library's carrier for it must be the
# table's name (as normalised), so that an HLR answer and the range give the same label.
NETWORK_NUMBERS: dict[tuple[int, int], tuple[str, str]] = {
    (250, 1): ("RU", "79831234567"),
    (250, 2): ("RU", "79261234567"),
    (250, 20): ("RU", "79501234567"),
    (250, 35): ("RU", "79002123456"),
    (250, 99): ("RU", "79031234567"),
    (257, 1): ("BY", "375291234567"),
    (257, 2): ("BY", "375331234567"),
    (257, 4): ("BY", "375251234567"),
    (401, 1): ("KZ", "77051234567"),
    (401, 2): ("KZ", "77011234567"),
    (401, 7): ("KZ", "77001234567"),
    (401, 77): ("KZ", "77071234567"),
    (434, 3): ("UZ", "998951234567"),
    (434, 4): ("UZ", "998901234567"),
    (434, 5): ("UZ", "998931234567"),
    (434, 6): ("UZ", "998981234567"),
    (434, 7): ("UZ", "998971234567"),
    (434, 8): ("UZ", "998991234567"),
    (436, 1): ("TJ", "992931234567"),
    (436, 2): ("TJ", "992501234567"),
    (436, 3): ("TJ", "992901234567"),
    (436, 4): ("TJ", "992981234567"),
    (436, 5): ("TJ", "992181234567"),
    (437, 1): ("KG", "996777123456"),
    (437, 5): ("KG", "996555123456"),
    (437, 9): ("KG", "996700123456"),
    (283, 1): ("AM", "37499123456"),
    (283, 5): ("AM", "37493123456"),
    (283, 10): ("AM", "37455123456"),
    (282, 1): ("GE", "995555123456"),
    (282, 2): ("GE", "995551123456"),
    (282, 4): ("GE", "995568123456"),
    (400, 1): ("AZ", "994501234567"),
    (400, 2): ("AZ", "994551234567"),
    (400, 4): ("AZ", "994701234567"),
    (255, 1): ("UA", "380501234567"),
    (255, 3): ("UA", "380671234567"),
    (255, 6): ("UA", "380631234567"),
    (262, 1): ("DE", "4915112345678"),
    (262, 2): ("DE", "4917212345678"),
    (262, 3): ("DE", "4917612345678"),
    (262, 6): ("DE", "4916012345678"),
    (262, 7): ("DE", "4917612345678"),
    (262, 8): ("DE", "4917612345678"),
    (262, 9): ("DE", "4917212345678"),
    (262, 23): ("DE", "4915551234567"),
    (286, 1): ("TR", "905321234567"),
    (286, 2): ("TR", "905421234567"),
    (286, 3): ("TR", "905051234567"),
}
# A network libphonenumber names no range of: Yota's numbers are in MegaFon's ranges.
NO_RANGE_OF_THEIR_OWN = {(250, 11): "Yota"}


def library_carrier(phone: str) -> str:
    return phone_carriers.name_for_valid_number(phonenumbers.parse("+" + phone), "en")


def test_every_network_of_the_table_has_a_number_here() -> None:
    assert set(NETWORKS) == set(NETWORK_NUMBERS) | set(NO_RANGE_OF_THEIR_OWN)
    assert all(NETWORKS[network] == name for network, name in NO_RANGE_OF_THEIR_OWN.items())


@pytest.mark.parametrize(("network", "sample"), sorted(NETWORK_NUMBERS.items()))
def test_the_table_spells_networks_as_the_library(network: tuple[int, int], sample: tuple[str, str]) -> None:
    country, phone = sample
    mcc, mnc = network
    assert range_destination(phone) == (country, NETWORKS[network])
    assert hlr_carrier(mcc, f"{mnc:02d}", None) == normalise_carrier(library_carrier(phone))
    # a canonical name stays itself
    assert normalise_carrier(NETWORKS[network]) == NETWORKS[network]


def test_an_hlr_answer_and_the_range_give_one_label() -> None:
    # Beeline's network code with SMSC's Russian name, and a Beeline range
    assert hlr_carrier(250, "99", "Билайн") == range_destination("79031234567")[1] == "Beeline"
    assert hlr_carrier(None, None, "ПАО «МегаФон»") == range_destination("79261234567")[1] == "MegaFon"
    assert hlr_carrier(None, None, "Tele2") == range_destination("79501234567")[1] == "T2"
    assert hlr_carrier(401, "02", "Kcell JSC") == range_destination("77011234567")[1] == "Kcell/Activ"
    assert hlr_carrier(257, "01", "A1") == range_destination("375291234567")[1] == "Velcom"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Tele2", "T2"),
        ("TELE2", "T2"),
        ("Tele 2", "T2"),
        ("Tele-2", "T2"),
        ("T2 Mobile", "T2"),
        ("Теле2", "T2"),
        ("Т2", "T2"),  # Cyrillic Т
        ("ООО «Т2 Мобайл»", "T2"),
        ("Билайн", "Beeline"),
        ("VimpelCom", "Beeline"),
        ("PJSC VimpelCom", "Beeline"),
        ('ПАО "Вымпел-Коммуникации"', "Beeline"),
        ("Beeline", "Beeline"),
        ("МегаФон", "MegaFon"),
        ("Megafon", "MegaFon"),
        ("ПАО МегаФон", "MegaFon"),
        ("MegaFon PJSC", "MegaFon"),
        ("МТС", "MTS"),
        ("Mts", "MTS"),
        ("ПАО «МТС»", "MTS"),
        ("MTS OJSC", "MTS"),
        ("Mobile TeleSystems", "MTS"),
        ("Йота", "Yota"),
        ("Kcell", "Kcell/Activ"),
        ("Kcell/Activ", "Kcell/Activ"),
        ("Velcom", "Velcom"),
        ("Geocell", "Silknet"),
        ("Türk Telekom", "Turk Telekom"),
    ],
)
def test_aliases(name: str, canonical: str) -> None:
    assert normalise_carrier(name) == canonical


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("  Some   Carrier ", "Some Carrier"),
        ("Some\tCarrier\nMobile", "Some Carrier Mobile"),
        ("Some Carrier LLC", "Some Carrier"),
        ("Some Carrier, Ltd.", "Some Carrier"),
        ("JSC Some Carrier", "Some Carrier"),
        ("ОАО Оператор", "Оператор"),
        ("ПАО Оператор", "Оператор"),
        ("Some Carrier CJSC", "Some Carrier"),
        ("K-Telecom Ltd", "K-Telecom"),
        ("Kcell JSC", "Kcell/Activ"),
        ("T-2", "T-2"),  # Slovenia's T-2 is not Russia's T2
        ("T-Mobile", "T-Mobile"),
        ("life:)", "life:)"),
        ("Lyca Mobile", "Lyca Mobile"),
        ("Ltd Mobile Ltd", "Mobile"),
        ("Mobile Ltdx", "Mobile Ltdx"),  # a word that only starts like a legal form stays
    ],
)
def test_text_is_trimmed_collapsed_and_loses_its_legal_form(name: str, normalised: str) -> None:
    assert normalise_carrier(name) == normalised


@pytest.mark.parametrize("name", [None, "", "   ", "\n", "LLC", "ПАО", '""', "«»", "OJSC LLC", "Unknown"])
def test_nothing_is_unknown(name: str | None) -> None:
    assert normalise_carrier(name) == UNKNOWN


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_normalising_twice_changes_nothing(name: str) -> None:
    once = normalise_carrier(name)
    assert normalise_carrier(once) == once
    assert once == " ".join(once.split())
    assert once


def test_hlr_carrier_prefers_the_network_code() -> None:
    assert hlr_carrier(250, "01", "Some Virtual Operator") == "MTS"
    assert hlr_carrier(250, "1", None) == "MTS"  # mnc as SMSC may write it
    assert hlr_carrier(250, " 001 ", None) == "MTS"
    assert hlr_carrier(257, "02", "МТС") == "MTS"
    assert hlr_carrier(262, "03", "E-Plus") == "O2"
    assert hlr_carrier(286, "01", None) == "Turkcell"


def test_hlr_carrier_falls_back_to_the_network_name() -> None:
    assert hlr_carrier(250, "62", "Tinkoff Mobile") == "Tinkoff Mobile"  # a code not in the table
    assert hlr_carrier(999, "99", "ООО Оператор") == "Оператор"
    assert hlr_carrier(None, "01", "МегаФон") == "MegaFon"
    assert hlr_carrier(250, None, "Билайн") == "Beeline"
    assert hlr_carrier(250, "x1", "Билайн") == "Beeline"


@pytest.mark.parametrize(
    ("mcc", "mnc", "network"),
    [
        (None, None, None),
        (None, None, ""),
        (999, "99", None),
        (999, "99", "  "),
        (None, None, "unknown"),
        (None, None, "UNKNOWN"),
        (250, "62", "ПАО"),
    ],
)
def test_hlr_carrier_none_when_nothing_usable(mcc: int | None, mnc: str | None, network: str | None) -> None:
    assert hlr_carrier(mcc, mnc, network) is None
