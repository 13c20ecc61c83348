"""The plausible values a simulated SMSC account is made of: senders, networks, menus, replies, prices.

Every text here can be written in all three SMSC charsets (windows-1251, koi8-r, utf-8): no `№`, no
typographic quotes. Label-like values (senders, client numbers, HLR networks, voice-menu paths) come from
small fixed sets, so the metrics they feed stay bounded and every path of a voice menu stays visible
under any sensible top-N cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
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
    """A mobile network as an HLR look-up reports it."""

    mcc: int
    mnc: str
    country: str
    network: str
    #: The first digits of its subscribers' numbers.
    prefix: str


HOME_NETWORKS: Final = (
    Network(250, "01", "Россия", "МТС", "7915"),
    Network(250, "02", "Россия", "МегаФон", "7926"),
    Network(250, "99", "Россия", "Билайн", "7903"),
    Network(250, "20", "Россия", "Tele2", "7977"),
    Network(257, "02", "Беларусь", "МТС", "37529"),
    Network(401, "01", "Казахстан", "Beeline", "7701"),
)

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

#: Voice call endings other than an answer: err -> share.
VOICE_FAILURES: Final = ((237, 20), (240, 10), (242, 5), (248, 2), (255, 1))

#: `syserr` values operators add to some failures.
SYSTEM_ERRORS: Final = ("1", "11", "27", "69")
