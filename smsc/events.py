"""A parsed callback as one flat, versioned JSON event: the record of `smsc.events` and of the archive.

Flat on purpose: every kind shares one set of columns (absent ones are null), so the Parquet archive and
pandas read the same schema whatever the mix. Times are RFC 3339 UTC strings; `cost` is a decimal
string (no float rounding on the way); `received_at_ns` is the ingest receive time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from smsc.codes import error_category, status_name
from smsc.models import Callback, CallConfirmation, IncomingSms, StatusCallback

EVENT_VERSION: Final = 1

Event = dict[str, Any]


def event_from_callback(
    callback: Callback,
    *,
    account: str,
    received_at_ns: int,
    raw_partition: int | None = None,
    raw_offset: int | None = None,
) -> Event:
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
    }
    if isinstance(callback, StatusCallback):
        event.update(_status(callback))
    elif isinstance(callback, IncomingSms):
        event.update(_incoming(callback))
    else:
        event.update(_confirmation(callback))
    event["extra"] = dict(callback.extra)
    return event


def dumps_event(event: Event) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads_event(data: bytes) -> Event:
    event: Event = json.loads(data)
    if event.get("v") != EVENT_VERSION:
        raise ValueError(f"unsupported event version {event.get('v')!r}")
    return event


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


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
        "country": hlr.country if hlr else None,
        "network": hlr.network if hlr else None,
        "roaming_country": hlr.roaming_country if hlr else None,
        "roaming_network": hlr.roaming_network if hlr else None,
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
