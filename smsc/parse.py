"""Turning decoded parameters into a typed callback: every value checked, nothing silently coerced.

Liberal where the provider is vague and the reading is unambiguous (a time as `DD.MM.YY hh:mm:ss` or
as Unix seconds; a duration as seconds or `mm:ss`; a decimal comma in `cost`); strict everywhere else.
An empty optional parameter counts as absent (form encoders send `err=` for "no value").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smsc.errors import FieldError
from smsc.flag import Flag
from smsc.kinds import CallbackKind, classify
from smsc.models import (
    Callback,
    CallConfirmation,
    HlrResult,
    IncomingSms,
    Signature,
    StatusCallback,
    VoiceMenu,
)
from smsc.signature import SignatureAlgorithm

#: SMSC accounts are kept in Moscow time unless the client changed it in the account settings.
DEFAULT_ACCOUNT_TIMEZONE: Final = "Europe/Moscow"

MAX_ID_CHARS: Final = 64
MAX_PHONE_CHARS: Final = 320  # an e-mail address for type 8
MAX_INT: Final = 2**63 - 1
_INT: Final = re.compile(r"[+-]?\d{1,19}")
_DECIMAL: Final = re.compile(r"-?\d{1,18}(?:[.,]\d{1,12})?")
_UNIX: Final = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
_LOCAL_TIME: Final = re.compile(r"(\d{2})\.(\d{2})\.(\d{2}|\d{4}) (\d{1,2}):(\d{2}):(\d{2})")
_DURATION: Final = re.compile(r"(?:(\d{1,6}):)?(\d{1,6}):(\d{2})")
_OVERTIME_LINE: Final = re.compile(r"^[ \t]*overtime:(.*)$", re.MULTILINE | re.IGNORECASE)
_LATEST_UNIX: Final = 4102444800  # 2100-01-01: far beyond any real callback, far below datetime's limit

_SIGNATURE_FIELDS: Final = frozenset(algorithm.value for algorithm in SignatureAlgorithm)
# Each kind's fields, signatures included: what `extra` leaves out.
_INCOMING_FIELDS: Final = (
    frozenset(["id", "sms_id", "phone", "mes", "to", "smsc", "sent", "time"]) | _SIGNATURE_FIELDS
)
_CONFIRMATION_FIELDS: Final = frozenset(["waitcall", "phone", "ts"]) | _SIGNATURE_FIELDS
_HLR_FIELDS: Final = ("imsi", "msc", "mcc", "mnc", "cn", "net", "rcn", "rnet")
_VOICE_MENU_FIELDS: Final = ("calltime", "callmenu", "ringtime")
_STATUS_FIELDS: Final = frozenset(
    ("id", "phone", "status", "ts", "time", "err", "syserr", "cnt", "type", "cost", "flag", "sender", "dtmf")
).union(("cmt",), _HLR_FIELDS, _VOICE_MENU_FIELDS, _SIGNATURE_FIELDS)
_ALGORITHMS: Final = tuple((algorithm, algorithm.value) for algorithm in SignatureAlgorithm)
_NO_MENU: Final = VoiceMenu()
#: Parsed times by text: callbacks of one second share their `ts`/`time`, and a `datetime` is immutable.
_TIME_CACHE: Final[dict[tuple[str, tzinfo | None], datetime]] = {}
_TIME_CACHE_MAX: Final = 4096

T = TypeVar("T")


def account_timezone(name: str) -> ZoneInfo:
    """The IANA zone of the account's `time` values (`Europe/Moscow` by default)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(f"unknown time zone {name[:60]!r}", field="timezone") from None


_MOSCOW: Final = account_timezone(DEFAULT_ACCOUNT_TIMEZONE)


def parse_callback(params: Mapping[str, str], *, tz: tzinfo = _MOSCOW) -> Callback:
    """A typed callback from decoded parameters; `tz` is the account's time zone for `time` texts."""
    kind = classify(params)
    if kind is CallbackKind.INCOMING:
        return _incoming(_Params(params, tz))
    if kind is CallbackKind.CALL_CONFIRMATION:
        return _confirmation(_Params(params, tz))
    return _status(_Params(params, tz))


class _Params:
    """Typed access to one callback's parameters; every error names its field."""

    def __init__(self, params: Mapping[str, str], tz: tzinfo) -> None:
        self.params = params
        self.tz = tz

    def optional(self, name: str, convert: Callable[[str, str], T]) -> T | None:
        value = self.params.get(name)
        if not value or not _present(value):
            return None
        return convert(value, name)

    def required(self, name: str, convert: Callable[[str, str], T]) -> T:
        value = self.params.get(name)
        if value is None:
            raise FieldError("missing", field=name)
        if not value.strip():
            raise FieldError("empty", field=name)
        return convert(value, name)

    def time(self, value: str, field: str) -> datetime:
        return parse_time(value, field=field, tz=self.tz)

    def extra(self, known: Collection[str]) -> tuple[tuple[str, str], ...]:
        return tuple((name, value) for name, value in self.params.items() if name not in known)

    def signature(self) -> Signature | None:
        params = self.params
        for algorithm, name in _ALGORITHMS:
            value = params.get(name)
            if value:
                return Signature(algorithm, value.strip())
        return None


def _status(p: _Params) -> StatusCallback:
    params = p.params
    # Most statuses carry no HLR and no voice-menu field: one membership test each instead of building
    # both objects. Where any field of a group is present, all of the group's fields are read and checked.
    hlr: HlrResult | None = None
    if any(name in params for name in _HLR_FIELDS):
        hlr_values = {name: params.get(name, "").strip() for name in _HLR_FIELDS}
        if any(hlr_values.values()):
            hlr = HlrResult(
                imsi=hlr_values["imsi"] or None,
                msc=hlr_values["msc"] or None,
                mcc=p.optional("mcc", _country_code),
                mnc=p.optional("mnc", _network_code),
                country=hlr_values["cn"] or None,
                network=hlr_values["net"] or None,
                roaming_country=hlr_values["rcn"] or None,
                roaming_network=hlr_values["rnet"] or None,
            )
    menu: VoiceMenu | None = None
    if any(name in params for name in _VOICE_MENU_FIELDS):
        menu = VoiceMenu(
            calltime_seconds=p.optional("calltime", parse_duration),
            callmenu=p.optional("callmenu", _text),
            ringtime_seconds=p.optional("ringtime", parse_duration),
        )
        if menu == _NO_MENU:
            menu = None
    # The fields every status has, read inline: a call of `optional` per field was a third of parsing.
    # Checks run in a fixed order (the HLR and voice-menu fields above, then these in the order written,
    # then `cmt`'s overtime line), so a callback with several bad fields is refused for the first of them.
    get = params.get
    id_ = p.required("id", _identifier)
    phone = p.required("phone", _phone)
    status = p.required("status", _int)
    time_ = p.time
    ts = time_(value, "ts") if (value := get("ts")) and _present(value) else None
    at = time_(value, "time") if (value := get("time")) and _present(value) else None
    err = _non_negative(value, "err") if (value := get("err")) and _present(value) else 0
    syserr = value.strip() if (value := get("syserr")) and _present(value) else None
    cnt = _non_negative(value, "cnt") if (value := get("cnt")) and _present(value) else None
    type_ = _non_negative(value, "type") if (value := get("type")) and _present(value) else None
    cost = parse_cost(value) if (value := get("cost")) and _present(value) else None
    flag = _flag(value, "flag") if (value := get("flag")) and _present(value) else None
    sender = value.strip() if (value := get("sender")) and _present(value) else None
    dtmf = value.strip() if (value := get("dtmf")) and _present(value) else None
    cmt = get("cmt") or None
    return StatusCallback(
        id=id_,
        phone=phone,
        status=status,
        ts=ts,
        time=at,
        err=err,
        syserr=syserr,
        cnt=cnt,
        type=type_,
        cost=cost,
        flag=flag,
        sender=sender,
        dtmf=dtmf,
        cmt=cmt,
        overtime_seconds=parse_overtime(cmt) if cmt else None,
        hlr=hlr,
        voice_menu=menu,
        signature=p.signature(),
        extra=p.extra(_STATUS_FIELDS),
    )


def _present(value: str) -> bool:
    """Not blank (`optional`'s test); only a value starting with whitespace needs the strip."""
    return not value[0].isspace() or bool(value.strip())


def _incoming(p: _Params) -> IncomingSms:
    return IncomingSms(
        id=p.required("id", _identifier),
        phone=p.required("phone", _phone),
        mes=p.params["mes"],  # an empty text is a valid (if odd) SMS
        to=p.required("to", _phone),
        sms_id=p.optional("sms_id", _identifier),
        smsc=p.optional("smsc", _text),
        sent=p.optional("sent", p.time),
        time=p.optional("time", p.time),
        signature=p.signature(),
        extra=p.extra(_INCOMING_FIELDS),
    )


def _confirmation(p: _Params) -> CallConfirmation:
    return CallConfirmation(
        phone=p.required("phone", _phone),
        ts=p.required("ts", p.time),
        waitcall=p.required("waitcall", _non_negative),
        signature=p.signature(),
        extra=p.extra(_CONFIRMATION_FIELDS),
    )


def _text(value: str, field: str) -> str:
    return value.strip()


def _bounded(value: str, field: str, limit: int) -> str:
    text = value.strip()
    if len(text) > limit:
        raise FieldError(f"longer than {limit} characters", field=field)
    if not text.isprintable():
        raise FieldError("contains control characters", field=field)
    return text


def _identifier(value: str, field: str) -> str:
    return _bounded(value, field, MAX_ID_CHARS)


def _phone(value: str, field: str) -> str:
    return _bounded(value, field, MAX_PHONE_CHARS)


def _int(value: str, field: str) -> int:
    text = value.strip()
    digits = text[1:] if text[:1] in ("+", "-") else text
    if 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit():
        return int(text)  # what the pattern below admits, below MAX_INT by its length
    if not _INT.fullmatch(text) or abs(number := int(text)) > MAX_INT:
        raise FieldError(f"{text[:30]!r} is not an integer", field=field)
    return number


def _non_negative(value: str, field: str) -> int:
    number = _int(value, field)
    if number < 0:
        raise FieldError(f"{number} is negative", field=field)
    return number


def _flag(value: str, field: str) -> Flag:
    return Flag(_non_negative(value, field))


def _country_code(value: str, field: str) -> int:
    number = _non_negative(value, field)
    if number > 999:
        raise FieldError(f"{number} is not a 3-digit country code", field=field)
    return number


def _network_code(value: str, field: str) -> str:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and 1 <= len(text) <= 3):
        raise FieldError(f"{text[:30]!r} is not a 2- or 3-digit network code", field=field)
    return text


def parse_cost(value: str, field: str = "cost") -> Decimal:
    """`1.50`, `1,50`, `2` -> Decimal; anything else (exponents, NaN, thousands separators) is an error."""
    text = value.strip()
    if not _DECIMAL.fullmatch(text):
        raise FieldError(f"{text[:30]!r} is not a decimal amount", field=field)
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise FieldError(f"{text[:30]!r} is not a decimal amount", field=field) from None


def parse_time(value: str, *, field: str, tz: tzinfo) -> datetime:
    """Unix seconds, or `DD.MM.YY hh:mm:ss` (also `DD.MM.YYYY`) in the account's zone -> aware UTC."""
    text = value.strip()
    cached = _TIME_CACHE.get((text, None))  # only plausible Unix texts are stored under None
    if cached is not None:
        return cached
    if _UNIX.fullmatch(text):
        seconds = float(text) if "." in text else int(text)
        if seconds > _LATEST_UNIX:
            raise FieldError(f"{text} is not a plausible Unix time", field=field)
        return _cache_time((text, None), datetime.fromtimestamp(seconds, UTC))
    # Only zones known to hash by value are cached: an arbitrary tzinfo may not be hashable.
    key = (text, tz) if type(tz) is ZoneInfo else None
    if key is not None and (cached := _TIME_CACHE.get(key)) is not None:
        return cached
    match = _LOCAL_TIME.fullmatch(text)
    if not match:
        raise FieldError(f"{text[:30]!r} is neither Unix seconds nor DD.MM.YY hh:mm:ss", field=field)
    day, month, year, hour, minute, second = (int(part) for part in match.groups())
    if year < 100:
        year += 2000
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise FieldError(f"{text!r} is not a valid date and time ({exc})", field=field) from None
    result = local.astimezone(UTC)
    return result if key is None else _cache_time(key, result)


def _cache_time(key: tuple[str, tzinfo | None], value: datetime) -> datetime:
    if len(_TIME_CACHE) >= _TIME_CACHE_MAX:
        _TIME_CACHE.clear()  # times move on: the old ones are not needed again
    _TIME_CACHE[key] = value
    return value


def parse_duration(value: str, field: str) -> int:
    """Whole seconds from `75`, `1:15` or `0:01:15`."""
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    match = _DURATION.fullmatch(text)
    if not match or int(match.group(3)) >= 60 or (match.group(1) and int(match.group(2)) >= 60):
        raise FieldError(f"{text[:30]!r} is not a duration in seconds or mm:ss", field=field)
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return int(timedelta(hours=hours, minutes=minutes, seconds=seconds).total_seconds())


def parse_overtime(cmt: str) -> int | None:
    """Seconds from SMSC's `overtime: mm:ss` line in `cmt`, or None when there is no such line."""
    match = _OVERTIME_LINE.search(cmt)
    if match is None:
        return None
    return parse_duration(match.group(1), "cmt")
