"""A parsed callback as one flat, versioned JSON event: the record of `smsc.events` and of the archive.

Flat on purpose: every kind shares one set of columns (absent ones are null), so the Parquet archive and
pandas read the same schema whatever the mix. Times are RFC 3339 UTC strings; `cost` is a decimal
string (no float rounding on the way); `received_at_ns` is the ingest receive time.

Version 2 added the destination of a status (`country`, `carrier`, `carrier_source`: where the message
went, computed by the stream worker) and renamed the HLR answer's fields to `hlr_country`, `hlr_network`,
`hlr_roaming_country`, `hlr_roaming_network`, which version 1 called `country`, `network`,
`roaming_country`, `roaming_network`. `loads_event` reads both.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, Final

from smsc.codes import error_category, message_type_name, status_name
from smsc.models import Callback, CallConfirmation, IncomingSms, StatusCallback

EVENT_VERSION: Final = 2

Event = dict[str, Any]
#: Where a message went: (country, carrier, carrier source), as the stream worker determined it.
Destination = tuple[str, str, str]

#: Version 1's names of the HLR answer's fields -> version 2's.
_V1_HLR_FIELDS: Final = {
    "country": "hlr_country",
    "network": "hlr_network",
    "roaming_country": "hlr_roaming_country",
    "roaming_network": "hlr_roaming_network",
}
#: A destination (country, carrier, carrier source) or HLR value nobody could determine; also what a
#: version 1 status event reads in its destination. One spelling for the worker, the archive and reports.
UNKNOWN: Final = "unknown"


def event_from_callback(
    callback: Callback,
    *,
    account: str,
    received_at_ns: int,
    raw_partition: int | None = None,
    raw_offset: int | None = None,
    destination: Destination | None = None,
) -> Event:
    """The event of a callback; `destination` only for a status (null when not given)."""
    is_status = isinstance(callback, StatusCallback)
    country, carrier, source = destination if is_status and destination else _NO_DESTINATION
    event: Event = {
        "v": EVENT_VERSION,
        "kind": callback.kind.value,
        "account": account,
        "key": callback.message_key,
        "received_at_ns": received_at_ns,
        "occurred_at": _time(callback.occurred_at),
        "raw_partition": raw_partition,
        "raw_offset": raw_offset,
        "signature_algorithm": callback.signature.algorithm.value if callback.signature else None,
        "country": country,
        "carrier": carrier,
        "carrier_source": source,
    }
    if isinstance(callback, StatusCallback):
        event.update(_status(callback))
    elif isinstance(callback, IncomingSms):
        event.update(_incoming(callback))
    else:
        event.update(_confirmation(callback))
    event["extra"] = dict(callback.extra)
    return event


# One encoder for every event: `json.dumps` with options builds a new one per call. Same bytes.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps_event(event: Event) -> bytes:
    return _ENCODER.encode(event).encode("utf-8")


def loads_event(data: bytes) -> Event:
    """An event of this version, or of version 1 with version 2's field names (its `v` stays 1)."""
    event: Event = json.loads(data)
    version = event.get("v")
    if version == 1:
        return _from_version_1(event)
    if version != EVENT_VERSION:
        raise ValueError(f"unsupported event version {version!r}")
    return event


def _from_version_1(event: Event) -> Event:
    """The HLR fields renamed; the destination `unknown` for a status, null for the other kinds."""
    status = event.get("kind") == "status"
    upgraded: Event = {}
    for name, value in event.items():
        upgraded[_V1_HLR_FIELDS.get(name, name)] = value
        if name == "signature_algorithm":
            known = UNKNOWN if status else None
            upgraded.update(country=known, carrier=known, carrier_source=known)
    return upgraded


def _time(value: datetime | None) -> str | None:
    if not value:
        return None
    if value.tzinfo is not UTC:  # equal instants in other zones hash alike but read differently
        return _rfc3339(value)
    # Callbacks of one second share their times: format each once.
    text = _TIMES.get(value)
    if text is None:
        if len(_TIMES) >= _TIMES_MAX:
            _TIMES.clear()
        text = _TIMES[value] = _rfc3339(value)
    return text


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


_TIMES: Final[dict[datetime, str]] = {}
_TIMES_MAX: Final = 4096


def _status(callback: StatusCallback) -> Event:
    flag, hlr, menu = callback.flag, callback.hlr, callback.voice_menu
    return {
        "id": callback.id,
        "phone": callback.phone,
        "status": callback.status,
        "status_name": status_name(callback.status),
        "outcome": callback.outcome.value,
        "ts": _time(callback.ts),
        "time": _time(callback.time),
        "err": callback.err,
        "err_category": error_category(callback.err) if callback.err else None,
        "syserr": callback.syserr,
        "cnt": callback.cnt,
        "type": callback.message_type,
        "type_name": callback.type_name,
        "cost": str(callback.cost) if callback.cost is not None else None,
        "flag": flag.raw if flag else None,
        "balance": flag.balance.value if flag else "main",
        "template_kind": flag.template_kind.value if flag and flag.template_kind else "none",
        "sender": callback.sender,
        "dtmf": callback.dtmf,
        "cmt": callback.cmt,
        "overtime_seconds": callback.overtime_seconds,
        "voice_outcome": callback.voice_outcome.value if callback.voice_outcome else None,
        "imsi": hlr.imsi if hlr else None,
        "msc": hlr.msc if hlr else None,
        "mcc": hlr.mcc if hlr else None,
        "mnc": hlr.mnc if hlr else None,
        "hlr_country": hlr.country if hlr else None,
        "hlr_network": hlr.network if hlr else None,
        "hlr_roaming_country": hlr.roaming_country if hlr else None,
        "hlr_roaming_network": hlr.roaming_network if hlr else None,
        "calltime_seconds": menu.calltime_seconds if menu else None,
        "callmenu": menu.callmenu if menu else None,
        "ringtime_seconds": menu.ringtime_seconds if menu else None,
    }


def _incoming(callback: IncomingSms) -> Event:
    return {
        "id": callback.id,
        "sms_id": callback.sms_id,
        "phone": callback.phone,
        "mes": callback.mes,
        "to": callback.to,
        "smsc": callback.smsc,
        "sent": _time(callback.sent),
        "time": _time(callback.time),
        "is_reply": callback.is_reply,
    }


def _confirmation(callback: CallConfirmation) -> Event:
    return {"phone": callback.phone, "ts": _time(callback.ts), "waitcall": callback.waitcall}


def dumps_callback_event(
    callback: Callback,
    *,
    account: str,
    received_at_ns: int,
    raw_partition: int,
    raw_offset: int,
    destination: Destination | None = None,
) -> bytes:
    """`dumps_event(event_from_callback(...))`, byte for byte, without the dict for a parsed status.

    The worker writes one event per callback; the dict and the general encoder were ~12 µs of it
    (measured in-process, 2026-12-02). Only a status whose values have exactly the parser's types takes
    the direct path (an int subclass or a str subclass could print differently); anything else, and every
    other kind, takes the general one.
    """
    if not (
        type(callback) is StatusCallback
        and type(received_at_ns) is int
        and type(raw_partition) is int
        and type(raw_offset) is int
        and _plain_status(callback)
    ):
        return dumps_event(
            event_from_callback(
                callback,
                account=account,
                received_at_ns=received_at_ns,
                raw_partition=raw_partition,
                raw_offset=raw_offset,
                destination=destination,
            )
        )
    c = callback
    flag, signature = c.flag, c.signature
    status, err, cnt, message_type = c.status, c.err, c.cnt, c.message_type
    s = _string
    template = flag.template_kind if flag else None
    voice = c.voice_outcome
    # occurred_at is ts, else time: each formatted and escaped once
    ts_json, time_json = _optional(_time(c.ts)), _optional(_time(c.time))
    # the three destination fields and their comma
    where = (
        _NULL_DESTINATION
        if destination is None
        else _DESTINATIONS.get(destination) or _destination_json(destination)
    )
    text = (
        f'{{"v":{EVENT_VERSION},"kind":"status","account":{s(account)},"key":{s(c.message_key)},'
        f'"received_at_ns":{received_at_ns},"occurred_at":{ts_json if c.ts is not None else time_json},'
        f'"raw_partition":{raw_partition},"raw_offset":{raw_offset},'
        f'"signature_algorithm":{s(signature.algorithm.value) if signature else "null"},{where}'
        f'"id":{s(c.id)},"phone":{s(c.phone)},"status":{status},"status_name":{s(status_name(status))},'
        f'"outcome":{s(c.outcome.value)},"ts":{ts_json},"time":{time_json},'
        f'"err":{err},"err_category":{s(error_category(err)) if err else "null"},'
        f'"syserr":{_optional(c.syserr)},"cnt":{"null" if cnt is None else cnt},"type":{message_type},'
        f'"type_name":{s(message_type_name(message_type))},'
        f'"cost":{"null" if c.cost is None else s(str(c.cost))},'
        f'"flag":{flag.raw if flag else "null"},"balance":{s(flag.balance.value) if flag else _MAIN},'
        f'"template_kind":{s(template.value) if template else _NONE},'
        f'"sender":{_optional(c.sender)},"dtmf":{_optional(c.dtmf)},"cmt":{_optional(c.cmt)},'
        f'"overtime_seconds":null,"voice_outcome":{s(voice.value) if voice else "null"},'
        '"imsi":null,"msc":null,"mcc":null,"mnc":null,"hlr_country":null,"hlr_network":null,'
        '"hlr_roaming_country":null,"hlr_roaming_network":null,"calltime_seconds":null,"callmenu":null,'
        f'"ringtime_seconds":null,"extra":{_extra(c.extra)}}}'
    )
    return text.encode("utf-8")


_string: Final = encode_basestring  # the general encoder's own (ensure_ascii=False): same escapes
_MAIN: Final = _string("main")
_NONE: Final = _string("none")
_NO_DESTINATION: Final = (None, None, None)
_NULL_DESTINATION: Final = '"country":null,"carrier":null,"carrier_source":null,'


def _destination_json(destination: Destination) -> str:
    """The three fields and their comma, remembered: a worker sees few destinations. A str subclass
    prints as its str would, in the general encoder too: no type check needed."""
    if len(_DESTINATIONS) >= _DESTINATIONS_MAX:
        _DESTINATIONS.clear()
    country, carrier, source = map(_string, destination)
    text = _DESTINATIONS[destination] = f'"country":{country},"carrier":{carrier},"carrier_source":{source},'
    return text


_DESTINATIONS: Final[dict[Destination, str]] = {}
_DESTINATIONS_MAX: Final = 4096


def _plain_status(c: StatusCallback) -> bool:
    """Values of exactly the parser's types and no nested objects: the direct writer prints these."""
    flag, cnt = c.flag, c.cnt
    return (
        type(c.status) is int
        and type(c.err) is int
        and (cnt is None or type(cnt) is int)
        and type(c.message_type) is int
        and c.hlr is None
        and c.voice_menu is None
        and c.overtime_seconds is None
        and (flag is None or type(flag.raw) is int)
    )


def _optional(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _extra(extra: tuple[tuple[str, str], ...]) -> str:
    if not extra:
        return "{}"
    return _ENCODER.encode(dict(extra))
