"""Callbacks as flat versioned events: every field carried, JSON round trip, exact cost."""

from __future__ import annotations

import json

import pytest

from smsc import parse_callback
from smsc.events import EVENT_VERSION, dumps_event, event_from_callback, loads_event


def test_status_event_carries_every_field() -> None:
    callback = parse_callback(
        {"id": "7", "phone": "79991234567", "status": "20", "err": "240", "ts": "1795523405", "type": "7",
         "cost": "0.10", "flag": str(7 | 1 << 5 | 1 << 8 | 1 << 9), "cnt": "12", "sender": "SHOP",
         "cmt": "x\novertime: 0:30", "callmenu": "12", "calltime": "9", "ringtime": "4", "dtmf": "1",
         "mcc": "250", "mnc": "01", "cn": "Россия", "md5": "00", "tag": "spring"}
    )  # fmt: skip
    destination = ("RU", "MTS", "hlr")
    event = loads_event(
        dumps_event(
            event_from_callback(
                callback,
                account="acme",
                received_at_ns=5,
                raw_partition=2,
                raw_offset=9,
                destination=destination,
            )
        )
    )
    assert event["v"] == EVENT_VERSION
    assert (event["kind"], event["account"], event["key"]) == ("status", "acme", "7:79991234567")
    assert (event["status_name"], event["outcome"], event["voice_outcome"]) == (
        "undeliverable",
        "failed",
        "busy",
    )
    assert (event["err"], event["err_category"], event["cost"]) == (240, "voice", "0.10")
    assert (event["balance"], event["template_kind"], event["type_name"]) == (
        "second",
        "transactional",
        "voice",
    )
    assert (event["overtime_seconds"], event["callmenu"], event["ringtime_seconds"]) == (30, "12", 4)
    assert (event["mcc"], event["mnc"], event["hlr_country"]) == (250, "01", "Россия")
    assert (event["hlr_network"], event["hlr_roaming_country"], event["hlr_roaming_network"]) == (None,) * 3
    assert (event["country"], event["carrier"], event["carrier_source"]) == destination
    assert event["occurred_at"] == event["ts"] == "2026-11-24T12:30:05Z"
    assert (event["raw_partition"], event["raw_offset"], event["received_at_ns"]) == (2, 9, 5)
    assert event["signature_algorithm"] == "md5"
    assert event["extra"] == {"tag": "spring"}


def test_incoming_and_confirmation_events() -> None:
    incoming = event_from_callback(
        parse_callback({"id": "1", "phone": "7999", "mes": "Да", "to": "7000", "sms_id": "5"}),
        account="default",
        received_at_ns=1,
    )
    assert (incoming["kind"], incoming["key"], incoming["is_reply"], incoming["mes"]) == (
        "incoming",
        "7999",
        True,
        "Да",
    )
    confirmation = event_from_callback(
        parse_callback({"waitcall": "1", "phone": "7999", "ts": "1795523405"}), account="a", received_at_ns=1
    )
    assert (confirmation["kind"], confirmation["ts"]) == ("call_confirmation", "2026-11-24T12:30:05Z")
    for event in (incoming, confirmation):
        assert (event["country"], event["carrier"], event["carrier_source"]) == (None, None, None)


def test_a_status_without_a_destination_has_null_ones() -> None:
    callback = parse_callback({"id": "1", "phone": "7999", "status": "1"})
    event = event_from_callback(callback, account="a", received_at_ns=1)
    assert (event["country"], event["carrier"], event["carrier_source"]) == (None, None, None)


V1_STATUS = {
    "v": 1, "kind": "status", "account": "acme", "key": "7:79991234567", "received_at_ns": 5,
    "occurred_at": None, "raw_partition": 2, "raw_offset": 9, "signature_algorithm": None, "id": "7",
    "phone": "79991234567", "status": 1, "imsi": "250011234567890", "msc": None, "mcc": 250, "mnc": "01",
    "country": "Россия", "network": "МТС", "roaming_country": "Турция", "roaming_network": None,
    "callmenu": None, "extra": {},
}  # fmt: skip


def test_a_version_1_status_reads_with_the_hlr_fields_renamed_and_an_unknown_destination() -> None:
    event = loads_event(json.dumps(V1_STATUS).encode())
    assert event["v"] == 1
    assert (event["hlr_country"], event["hlr_network"]) == ("Россия", "МТС")
    assert (event["hlr_roaming_country"], event["hlr_roaming_network"]) == ("Турция", None)
    assert (event["country"], event["carrier"], event["carrier_source"]) == ("unknown",) * 3
    assert (event["imsi"], event["mcc"], event["mnc"], event["phone"]) == (
        "250011234567890",
        250,
        "01",
        "79991234567",
    )
    renamed = {"country": "hlr_country", "network": "hlr_network"}
    renamed |= {"roaming_country": "hlr_roaming_country", "roaming_network": "hlr_roaming_network"}
    expected = {renamed.get(name, name): value for name, value in V1_STATUS.items()}
    expected |= {"country": "unknown", "carrier": "unknown", "carrier_source": "unknown"}
    assert event == expected


def test_version_1_incoming_and_confirmations_read_with_a_null_destination() -> None:
    incoming = {"v": 1, "kind": "incoming", "account": "a", "signature_algorithm": None, "mes": "Да"}
    event = loads_event(json.dumps(incoming).encode())
    assert event == {**incoming, "country": None, "carrier": None, "carrier_source": None}


def test_a_version_2_event_reads_as_written() -> None:
    callback = parse_callback({"id": "1", "phone": "7999", "status": "1", "type": "4", "net": "МТС"})
    event = event_from_callback(callback, account="a", received_at_ns=1, destination=("RU", "MTS", "range"))
    assert loads_event(dumps_event(event)) == event
    assert event["v"] == EVENT_VERSION == 2


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported event version 99"):
        loads_event(b'{"v": 99}')
