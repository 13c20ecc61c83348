"""Realistic callback requests for the ingest benchmarks: every kind × format × charset, as SMSC sends."""

from __future__ import annotations

from typing import Final

from smsc.encode import EncodedRequest, encode_request
from smsc.wire import BodyFormat

_STATUS: Final = {
    "id": "48213577",
    "phone": "79161234567",
    "status": "1",
    "time": "25.11.24 10:11:12",
    "ts": "1732518672",
    "cost": "2.50",
    "cnt": "1",
    "type": "0",
    "flag": "0",
    "sender": "SHOP",
    "cmt": "заказ 15023",
}
_INCOMING: Final = {
    "id": "900001",
    "sms_id": "48213577",
    "phone": "79267654321",
    "mes": "Да, подтверждаю доставку на завтра",
    "to": "79000000000",
    "smsc": "MTS",
    "sent": "1732518600",
    "time": "1732518601",
}
_CALL: Final = {"waitcall": "1", "phone": "79031112233", "ts": "1732518700"}
_FMT: Final = {BodyFormat.FORM: None, BodyFormat.XML: "2", BodyFormat.JSON: "3"}


def realistic_requests() -> list[EncodedRequest]:
    """27 requests; statuses dominate real traffic, so each status appears three times as often."""
    requests = []
    for params, weight in ((_STATUS, 3), (_INCOMING, 1), (_CALL, 1)):
        for body_format in BodyFormat:
            for charset in ("windows-1251", "koi8-r", "utf-8"):
                with_url_params = {**params, "charset": charset}
                if (fmt := _FMT[body_format]) is not None:
                    with_url_params["fmt"] = fmt
                request = encode_request(with_url_params, charset=charset, body_format=body_format)
                requests += [request] * weight
    return requests
