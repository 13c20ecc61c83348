"""The plausible values a simulated SMSC account is made of: senders, networks, menus, replies, prices.

Every text here can be written in all three SMSC charsets (windows-1251, koi8-r, utf-8): no `№`, no
typographic quotes. Label-like values (senders, client numbers, destinations, networks, voice-menu paths)
come from small fixed sets, so the metrics they feed stay bounded and every path of a voice menu stays
visible under any sensible top-N cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final, TypeAlias

SMS_TYPE: Final = 0
FLASH_TYPE: Final = 1
HLR_TYPE: Final = 4
VOICE_TYPE: Final = 7
VIBER_TYPE: Final = 10

#: Sender names per message type (an HLR look-up has none).
SENDERS: Final = {
    SMS_TYPE: ("SMSC.RU", "ShopOnline", "TaxiBystro", "Bank-Info", "MedCenter"),
    FLASH_TYPE: ("Bank-Info", "TaxiBystro"),
    VIBER_TYPE: ("ShopOnline", "Bank-Info"),
    VOICE_TYPE: ("74951234567", "78005553535"),
    HLR_TYPE: (),
}

#: Price of one SMS part / one Viber message / one HLR look-up / one started minute of a call.
PRICES: Final = {
    SMS_TYPE: (Decimal("1.75"), Decimal("2.10"), Decimal("3.40")),
    FLASH_TYPE: (Decimal("2.10"), Decimal("3.40")),
    VIBER_TYPE: (Decimal("0.95"), Decimal("1.20")),
    VOICE_TYPE: (Decimal("1.50"), Decimal("2.00")),
    HLR_TYPE: (Decimal("0.10"), Decimal("0.20")),
}

#: The client's comments given at sending (`cmt`); None = no comment.
COMMENTS: Final = (None, None, None, "заказ 10234", "promo-march", "напоминание о визите", "OTP login")

#: The client's own numbers subscribers write to (`to` of an incoming SMS).
CLIENT_NUMBERS: Final = ("79037011111", "79037022222", "74950001122")

#: Operators' SMS centres (`smsc` of an incoming SMS).
SMS_CENTRES: Final = ("79168999100", "79262909090", "79037011111")

#: What subscribers write back.
REPLIES: Final = (
    "Да",
    "Нет",
    "СТОП",
    "Спасибо!",
    "Подтверждаю заказ",
    "Когда будет доставка?",
    "ok",
    "1",
    "Перезвоните мне, пожалуйста",
    'Ёлка & <подарки> "для всех"',
)


@dataclass(frozen=True, slots=True)
class Network:
    """A mobile network as an HLR look-up reports it, and the one name the pipeline gives it."""

    mcc: int
    mnc: str
    #: ISO 3166 alpha-2 of its country.
    country: str
    #: The country's name as SMSC writes it in an HLR answer (`cn`).
    country_name: str
    #: The network's name as SMSC writes it in an HLR answer (`net`).
    name: str
    #: The carrier's canonical name: libphonenumber's English spelling of the network.
    carrier: str
    #: The first digits of its switching centres' numbers (`msc`).
    msc_prefix: str


RU_MTS: Final = Network(250, "01", "RU", "Россия", "МТС", "MTS", "791680")
RU_MEGAFON: Final = Network(250, "02", "RU", "Россия", "МегаФон", "MegaFon", "792609")
RU_T2: Final = Network(250, "20", "RU", "Россия", "Tele2", "T2", "795000")
RU_BEELINE: Final = Network(250, "99", "RU", "Россия", "Билайн", "Beeline", "790370")
KZ_BEELINE: Final = Network(401, "01", "KZ", "Казахстан", "Beeline", "Beeline", "770500")
KZ_KCELL: Final = Network(401, "02", "KZ", "Казахстан", "Kcell", "Kcell/Activ", "770100")
#: velcom became A1 in 2019; libphonenumber still names the range Velcom.
BY_A1: Final = Network(257, "01", "BY", "Беларусь", "A1", "Velcom", "3752960")
BY_MTS: Final = Network(257, "02", "BY", "Беларусь", "МТС", "MTS", "3752970")
UZ_UCELL: Final = Network(434, "05", "UZ", "Узбекистан", "Ucell", "Ucell", "9989300")
DE_TELEKOM: Final = Network(262, "01", "DE", "Германия", "Telekom", "T-Mobile", "4917100")
TR_TURKCELL: Final = Network(286, "01", "TR", "Турция", "Turkcell", "Turkcell", "9053200")

#: Every network the workload's numbers belong to, by (mcc, mnc) as an HLR answer gives them.
NETWORKS: Final = MappingProxyType(
    {
        (network.mcc, network.mnc): network
        for network in (
            RU_MTS,
            RU_MEGAFON,
            RU_T2,
            RU_BEELINE,
            KZ_BEELINE,
            KZ_KCELL,
            BY_A1,
            BY_MTS,
            UZ_UCELL,
            DE_TELEKOM,
            TR_TURKCELL,
        )
    }
)


@dataclass(frozen=True, slots=True)
class Destination:
    """A number range messages go to: its country, the carrier it was issued to, its subscribers' network."""

    #: ISO 3166 alpha-2, as libphonenumber gives it for the range.
    country: str
    #: The first digits of the range's numbers (country code included).
    prefix: str
    #: Digits of a full international number of the range (country code included, no '+').
    length: int
    #: The carrier libphonenumber names for the range (English); None: it names none.
    range_carrier: str | None
    #: The network its subscribers are on (what an HLR look-up answers), ported numbers aside.
    network: Network
    #: Relative share of the recipients.
    weight: float


#: Where messages go: mostly Russia, then neighbours and a few farther countries. The +7916 range
#: (Moscow MTS in reality) has no carrier in libphonenumber: only an HLR look-up can name it.
DESTINATIONS: Final = (
    Destination("RU", "7903", 11, "Beeline", RU_BEELINE, 20),
    Destination("RU", "7926", 11, "MegaFon", RU_MEGAFON, 20),
    Destination("RU", "7987", 11, "MTS", RU_MTS, 16),
    Destination("RU", "79777", 11, "T2", RU_T2, 12),
    Destination("RU", "7916", 11, None, RU_MTS, 10),
    Destination("KZ", "7701", 11, "Kcell/Activ", KZ_KCELL, 5),
    Destination("KZ", "7705", 11, "Beeline", KZ_BEELINE, 3),
    Destination("BY", "37533", 12, "MTS", BY_MTS, 3),
    Destination("BY", "37544", 12, "Velcom", BY_A1, 2),
    Destination("UZ", "99893", 12, "Ucell", UZ_UCELL, 4),
    Destination("DE", "49151", 13, "T-Mobile", DE_TELEKOM, 2),
    Destination("TR", "90532", 12, "Turkcell", TR_TURKCELL, 3),
)

#: Ranges whose numbers may have moved to another network of their country (mobile number
#: portability): the Russian ranges of the four big operators.
PORTABLE_DESTINATIONS: Final = tuple(
    destination for destination in DESTINATIONS if destination.country == "RU" and destination.range_carrier
)

#: Home ranges of the account's subscribers (incoming SMS and call confirmations come from them).
HOME_DESTINATIONS: Final = tuple(destination for destination in DESTINATIONS if destination.country == "RU")


def network_carrier(mcc: int | None, mnc: str | None) -> str | None:
    """The canonical carrier of the network an HLR answer names by (mcc, mnc); None for one not simulated."""
    if mcc is None or mnc is None:
        return None
    network = NETWORKS.get((mcc, mnc))
    return network.carrier if network else None


def carriers() -> list[str]:
    """The canonical names of every simulated network's carrier, sorted, each once."""
    return sorted({network.carrier for network in NETWORKS.values()})


#: (roaming country, roaming network) for subscribers abroad.
ROAMING: Final = (("Турция", "Turkcell"), ("Таиланд", "AIS"), ("Германия", "Telekom"))

Menu: TypeAlias = Mapping[str, "Menu"]

#: The voice menu: key pressed -> sub-menu. A path is the keys pressed in order (`callmenu`, e.g. "21").
VOICE_MENU: Final[Menu] = {"1": {"1": {}, "2": {}}, "2": {"1": {}, "2": {}, "3": {}}, "3": {}, "0": {}}

#: Keys of a phone's keypad (`dtmf`).
DTMF_KEYS: Final = "0123456789*#"

#: Failure status -> the `err` codes that come with it (0 = no `err` parameter at all).
FAILURE_ERRORS: Final = {
    20: (1, 11, 12, 13, 21, 219, 220, 248, 255),
    22: (249,),
    23: (244, 250, 252, 253, 254),
    24: (0,),
    25: (6, 245, 248),
}
FAILURE_STATUSES: Final = ((20, 50), (22, 5), (23, 10), (24, 5), (25, 30))

#: How a message to a degraded carrier's number ends when it does not get through: (status, err) ->
#: share. The operator's side fails (rejections, queue overflow, no status, no route) or never answers.
DEGRADED_ENDINGS: Final = (((20, 255), 35), ((20, 220), 20), ((25, 245), 15), ((25, 248), 15), ((3, 0), 15))

#: Voice call endings other than an answer: err -> share.
VOICE_FAILURES: Final = ((237, 20), (240, 10), (242, 5), (248, 2), (255, 1))

#: `syserr` values operators add to some failures.
SYSTEM_ERRORS: Final = ("1", "11", "27", "69")
