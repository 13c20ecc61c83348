"""Realistic SMSC callbacks for the ingest tests: every kind, with Cyrillic text, signed as SMSC signs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from smsc.encode import EncodedRequest, encode_request
from smsc.kinds import CallbackKind
from smsc.signature import SignatureAlgorithm, sign
from smsc.wire import BodyFormat

CHARSETS: Final = ("windows-1251", "koi8-r", "utf-8")
FORMATS: Final = tuple(BodyFormat)
FMT: Final = {BodyFormat.FORM: None, BodyFormat.XML: "2", BodyFormat.JSON: "3"}

PARAMS: Final[Mapping[CallbackKind, Mapping[str, str]]] = {
    CallbackKind.STATUS: {
        "id": "4711",
        "phone": "79991234567",
        "status": "1",
        "time": "25.11.24 10:11:12",
        "ts": "1732518672",
        "cost": "2.50",
        "cnt": "1",
        "type": "0",
        "sender": "Магазин",
        "cmt": "заказ 15",
    },
    CallbackKind.INCOMING: {
        "id": "900001",
        "sms_id": "4711",
        "phone": "79997654321",
        "mes": "Привет! Да, подтверждаю",
        "to": "79000000000",
        "smsc": "МТС",
        "sent": "1732518600",
        "time": "1732518601",
    },
    CallbackKind.CALL_CONFIRMATION: {"waitcall": "1", "phone": "79995550011", "ts": "1732518700"},
}

KEYS: Final = {
    CallbackKind.STATUS: b"4711:79991234567",
    CallbackKind.INCOMING: b"79997654321",
    CallbackKind.CALL_CONFIRMATION: b"79995550011",
}


def callback_params(
    kind: CallbackKind,
    *,
    charset: str = "utf-8",
    body_format: BodyFormat = BodyFormat.FORM,
    secret: str | None = None,
    algorithm: SignatureAlgorithm = SignatureAlgorithm.MD5,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The parameters SMSC posts: its own, the handler URL's (`charset`, `fmt`), then the signature."""
    params = dict(PARAMS[kind])
    params["charset"] = charset
    if (fmt := FMT[body_format]) is not None:
        params["fmt"] = fmt
    params.update(extra or {})
    if secret is not None:
        params[algorithm.value] = sign(kind, params, secret, algorithm, encoding=charset)
    return params


def callback(
    kind: CallbackKind,
    *,
    charset: str = "utf-8",
    body_format: BodyFormat = BodyFormat.FORM,
    secret: str | None = None,
    algorithm: SignatureAlgorithm = SignatureAlgorithm.MD5,
    extra: Mapping[str, str] | None = None,
    query_keys: Iterable[str] = (),
) -> EncodedRequest:
    params = callback_params(
        kind, charset=charset, body_format=body_format, secret=secret, algorithm=algorithm, extra=extra
    )
    return encode_request(params, charset=charset, body_format=body_format, query_keys=query_keys)
