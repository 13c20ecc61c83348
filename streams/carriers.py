"""One spelling per carrier, whether a number's range or an HLR answer names it.

A destination's carrier comes from two sources that spell the same network differently: the number range
(libphonenumber's English names: "MegaFon", "Beeline", "T2", "Kcell/Activ") and an HLR answer (SMSC's
network text, often Russian or a legal name: "ПАО МегаФон", "Билайн", "Tele2", or only mcc/mnc). Both go
through this module so that a carrier is one label, whichever source named it.

The canonical spelling is libphonenumber's English name: the range is the source for most messages, so
its spelling is the one dashboards and reports already show. Every name in `NETWORKS` is checked
against the library's answer for a number of that network (tests/unit/streams/test_carriers.py).

Country-blind, as the spec asks: "Tele2" is "T2" wherever it comes from, so the library's Tele2 of
Sweden, the Baltics, the Netherlands and Croatia is "T2" too (the label is (country, carrier), so they
stay apart from Russia's).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from smsc.events import UNKNOWN

# (mcc, mnc) of a mobile network -> its canonical name. mnc is compared as a number: SMSC writes it as
# text and "1" and "01" name the same network in these (2-digit mnc) countries.
NETWORKS: Final[Mapping[tuple[int, int], str]] = MappingProxyType(
    {
        # Russia
        (250, 1): "MTS",
        (250, 2): "MegaFon",
        (250, 11): "Yota",  # libphonenumber lists no Yota range (it uses MegaFon's): the brand's own name
        (250, 20): "T2",
        (250, 35): "Motiv",
        (250, 99): "Beeline",
        # Belarus: A1 is the former Velcom, still "Velcom" in libphonenumber
        (257, 1): "Velcom",
        (257, 2): "MTS",
        (257, 4): "life:)",
        # Kazakhstan: Altel (07) and Tele2 (77) merged; libphonenumber names both ranges "T2"
        (401, 1): "Beeline",
        (401, 2): "Kcell/Activ",
        (401, 7): "T2",
        (401, 77): "T2",
        # Uzbekistan
        (434, 3): "Uzbektelecom",
        (434, 4): "Beeline",
        (434, 5): "Ucell",
        (434, 6): "Perfectum",
        (434, 7): "MobiUZ",
        (434, 8): "Uzbektelecom",
        # Tajikistan
        (436, 1): "Tcell",
        (436, 2): "Tcell",
        (436, 3): "MegaFon",
        (436, 4): "Babilon-M",
        (436, 5): "ZET-MOBILE",
        # Kyrgyzstan: Beeline is "Sky mobile", MegaCom "ALFA Telecom", O! "Nur Telecom"
        (437, 1): "Sky mobile",
        (437, 5): "ALFA Telecom",
        (437, 9): "Nur Telecom",
        # Armenia: the former Beeline is "Team Telecom Armenia"
        (283, 1): "Team Telecom Armenia",
        (283, 5): "VivaCell-MTS",
        (283, 10): "Ucom",
        # Georgia: Geocell is now Silknet, Beeline Georgia Cellfie
        (282, 1): "Silknet",
        (282, 2): "MagtiCom",
        (282, 4): "Cellfie",
        # Azerbaijan
        (400, 1): "Azercell",
        (400, 2): "Bakcell",
        (400, 4): "Nar Mobile",
        # Ukraine
        (255, 1): "Vodafone",
        (255, 3): "Kyivstar",
        (255, 6): "lifecell",
        # Germany: E-Plus (03) is part of Telefónica's O2 network now
        (262, 1): "T-Mobile",
        (262, 2): "Vodafone",
        (262, 3): "O2",
        (262, 6): "T-Mobile",
        (262, 7): "O2",
        (262, 8): "O2",
        (262, 9): "Vodafone",
        (262, 23): "1&1 Mobilfunk",
        # Turkey
        (286, 1): "Turkcell",
        (286, 2): "Vodafone",
        (286, 3): "Turk Telekom",
    }
)

# Canonical name -> other spellings met in HLR answers (Russian, Latin, former brands). Matched without
# case, spaces, dots and quotes (not hyphens: Slovenia's "T-2" is not "T2"), after legal forms are dropped.
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "MTS": ("МТС", "Mts", "Mobile TeleSystems", "Мобильные ТелеСистемы", "MTS Russia", "МТС Россия"),
    "MegaFon": ("Megafon", "МегаФон", "Мегафон", "MegaFon Russia"),
    "Beeline": ("Билайн", "VimpelCom", "Вымпелком", "Вымпел-Коммуникации", "Beeline Russia"),
    "T2": ("Tele2", "Tele-2", "Теле2", "Т2", "T2 Mobile", "Т2 Мобайл", "Tele2 Russia"),
    "Yota": ("Йота",),
    "Motiv": ("Мотив",),
    "Velcom": ("A1 Velcom", "Velcom A1", "Велком"),
    "life:)": ("life", "Лайф"),
    "Kcell/Activ": ("Kcell", "Activ", "Кселл"),
    "MobiUZ": ("UMS", "Mobiuz"),
    "Sky mobile": ("Beeline Kyrgyzstan",),
    "ALFA Telecom": ("MegaCom",),
    "Nur Telecom": ("O!",),
    "Team Telecom Armenia": ("Beeline Armenia", "Team Telecom"),
    "VivaCell-MTS": ("VivaCell", "Viva-MTS"),
    "Silknet": ("Geocell",),
    "MagtiCom": ("Magti",),
    "Cellfie": ("Beeline Georgia",),
    "T-Mobile": ("Telekom Deutschland", "Deutsche Telekom"),
    "Turk Telekom": ("Türk Telekom", "Avea"),
}

_LEGAL_FORMS: Final = frozenset(
    form.casefold()
    for form in ("OJSC", "PJSC", "CJSC", "JSC", "LLC", "Ltd", "ОАО", "ПАО", "ЗАО", "АО", "ООО")
)
# Around a name: quotes ("ПАО «МТС»") and the comma before a legal form ("Carrier, Ltd.").
_ENCLOSING: Final = "\"'«»“”„`, "
_ALIAS_NOISE: Final = re.compile(r"[\s.\"'«»“”„`]+")


def _alias_key(name: str) -> str:
    return _ALIAS_NOISE.sub("", name).casefold()


_CANONICAL_BY_KEY: Final[dict[str, str]] = {
    _alias_key(spelling): canonical
    for canonical, spellings in _ALIASES.items()
    for spelling in (canonical, *spellings)
} | {_alias_key(UNKNOWN): UNKNOWN}


@functools.lru_cache(maxsize=1 << 12)  # a few hundred names in practice, met again and again
def normalise_carrier(name: str | None) -> str:
    """The one spelling of a carrier's name; `unknown` for nothing.

    Known spellings map to the canonical name; any other name is kept, trimmed, its whitespace collapsed,
    its legal form (PJSC, LLC, ОАО, ...) and enclosing quotes dropped.
    """
    if not name:
        return UNKNOWN
    words = name.split()
    while True:  # 'ПАО "МТС"', '"МТС" ПАО', 'Carrier, Ltd.': forms and quotes, outside in
        text = " ".join(words).strip(_ENCLOSING)
        words = text.split()
        if words and _is_legal_form(words[0]):
            del words[0]
        elif words and _is_legal_form(words[-1]):
            del words[-1]
        else:
            break
    if not text:
        return UNKNOWN
    return _CANONICAL_BY_KEY.get(_alias_key(text), text)


def _is_legal_form(word: str) -> bool:
    return word.rstrip(".,").casefold() in _LEGAL_FORMS


def hlr_carrier(mcc: int | None, mnc: str | None, network: str | None) -> str | None:
    """The carrier an HLR answer names: its (mcc, mnc) if known, else its network text; None if neither."""
    if mcc is not None and mnc is not None:
        code = mnc.strip()
        if code.isascii() and code.isdigit():
            known = NETWORKS.get((mcc, int(code)))
            if known is not None:
                return known
    carrier = normalise_carrier(network)
    return None if carrier == UNKNOWN else carrier
