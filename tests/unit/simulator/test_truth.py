"""The reference recount on hand-built cases whose answers are known, and its invariants on big workloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulator import CONTRACT, Fault, Faults, Recount, Truth, WireConfig, generate
from smsc import BodyFormat, Flag, TemplateKind, encode_request
from smsc.raw_record import RawRecord

T = 1_740_000_000  # a Unix time; statuses below are T + seconds


@dataclass(frozen=True)
class Raw:
    account: str
    body: bytes
    query_string: str = ""
    content_type: str = "application/x-www-form-urlencoded"


def raw(account: str = "acme", **params: object) -> Raw:
    request = encode_request(
        {k: str(v) for k, v in params.items()}, charset="utf-8", body_format=BodyFormat.FORM
    )
    return Raw(account, request.body + b"&charset=utf-8", request.query_string, request.content_type)


def status(code: int, at: int, *, account: str = "acme", **fields: object) -> Raw:
    """A status of message 1 to one phone: an SMS of 2 parts for 3.50 from "Shop", unless told otherwise."""
    params: dict[str, object] = {"id": "1", "phone": "79001112233", "status": code, "ts": T + at, "cnt": 2}
    params |= {"type": 0, "cost": "3.50", "flag": 0, "sender": "Shop"}
    return raw(account, **(params | fields))


def sms(**labels: str) -> dict[str, str]:
    return {"account": "acme", "type": "sms", **labels}


def test_a_delivered_message() -> None:
    truth = Truth.from_callbacks([status(-1, 0), status(0, 2), status(1, 10)])
    assert truth.total("smsc_status_callbacks_total") == 3
    assert truth.value("smsc_status_callbacks_total", **sms(status="-1")) == 1
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="delivered")) == 1
    assert truth.observations("smsc_delivery_latency_seconds", **sms()) == [10]
    cost = sms(sender="Shop", balance="main", template_kind="none")
    assert truth.value("smsc_cost_total", **cost) == Decimal("3.50")  # once, not three times
    assert truth.value("smsc_message_parts_total", **sms(sender="Shop")) == 2
    assert truth.value("smsc_messages_in_flight", **sms()) == 0
    assert truth.total("smsc_cost_undelivered_total") == 0
    assert truth.inputs["messages"] == 1


def test_retries_of_the_same_callback_count_once() -> None:
    delivered = status(1, 10)
    truth = Truth.from_callbacks([status(0, 2), delivered, delivered, delivered])
    assert truth.value("smsc_callbacks_duplicate_total", account="acme", kind="status") == 2
    assert truth.value("smsc_status_callbacks_total", **sms(status="1")) == 1
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="delivered")) == 1
    assert truth.inputs["duplicates"] == 2


def test_the_same_status_at_another_time_is_another_callback() -> None:
    truth = Truth.from_callbacks([status(0, 2), status(0, 30, err=6), status(1, 40)])
    assert truth.value("smsc_status_callbacks_total", **sms(status="0")) == 2
    assert truth.value("smsc_errors_total", **sms(err="6")) == 1
    assert truth.total("smsc_callbacks_duplicate_total") == 0


def test_the_first_status_seen_starts_the_latency() -> None:
    truth = Truth.from_callbacks([status(0, 2), status(-1, 0), status(1, 10)])
    assert truth.observations("smsc_delivery_latency_seconds", **sms()) == [8]


def test_a_status_arriving_after_the_final_changes_no_figure() -> None:
    truth = Truth.from_callbacks([status(0, 2), status(1, 10), status(-1, 0)])
    assert truth.observations("smsc_delivery_latency_seconds", **sms()) == [8]
    assert truth.value("smsc_status_callbacks_total", **sms(status="-1")) == 1
    assert truth.value("smsc_messages_in_flight", **sms()) == 0


def test_a_delivered_status_arriving_first() -> None:
    truth = Truth.from_callbacks([status(1, 10), status(0, 2)])
    assert truth.observations("smsc_delivery_latency_seconds", **sms()) == [0]
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="delivered")) == 1


def test_a_later_success_never_overwrites_a_failure() -> None:
    truth = Truth.from_callbacks([status(0, 2), status(20, 5, err=1), status(1, 10), status(2, 20)])
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="failed")) == 1
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="delivered")) == 0
    assert truth.observations("smsc_delivery_latency_seconds", **sms()) == []
    assert truth.value("smsc_cost_undelivered_total", **sms()) == Decimal("3.50")
    assert truth.value("smsc_errors_total", **sms(err="1")) == 1
    assert (
        truth.value("smsc_messages_engagement_total", **sms(event="read")) == 1
    )  # engagement is its own count


def test_read_without_delivered_counts_as_delivered_once() -> None:
    truth = Truth.from_callbacks(
        [status(0, 100), status(2, 130), status(1, 120), status(2, 131), status(4, 140)]
    )
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="delivered")) == 1
    assert truth.observations("smsc_delivery_latency_seconds", **sms()) == []  # no delivered status timed it
    assert truth.value("smsc_messages_engagement_total", **sms(event="read")) == 1
    assert truth.value("smsc_messages_engagement_total", **sms(event="clicked")) == 1
    assert truth.value("smsc_status_callbacks_total", **sms(status="2")) == 2  # two distinct callbacks


def test_expired_and_failed_costs_are_undelivered_costs() -> None:
    truth = Truth.from_callbacks(
        [
            status(0, 0, id="1", cost="1.25"),
            status(3, 500, id="1", cost="1.25", err=6),
            status(0, 0, id="2", cost="2.00"),
            status(23, 3, id="2", cost="2.00", err=253),
            status(1, 9, id="3", cost="5.00"),
        ]
    )
    assert truth.value("smsc_cost_undelivered_total", **sms()) == Decimal("3.25")
    assert truth.total("smsc_cost_total") == Decimal("8.25")
    assert truth.value("smsc_messages_final_total", **sms(sender="Shop", outcome="expired")) == 1


def test_cost_is_counted_once_per_message_and_a_bulk_send_is_several_messages() -> None:
    flag = Flag.build(0, second_balance=True, template_kind=TemplateKind.ADVERTISING).raw
    truth = Truth.from_callbacks(
        [
            status(0, 0, phone="79000000001", flag=flag),
            status(0, 0, phone="79000000002", flag=flag),
            status(1, 5, phone="79000000001", flag=flag),
            status(1, 6, phone="79000000002", flag=flag),
        ]
    )
    cost = sms(sender="Shop", balance="second", template_kind="advertising")
    assert truth.value("smsc_cost_total", **cost) == Decimal("7.00")
    assert truth.value("smsc_message_parts_total", **sms(sender="Shop")) == 4
    assert truth.inputs["messages"] == 2


def test_accounts_are_apart() -> None:
    truth = Truth.from_callbacks([status(1, 5, account="a"), status(1, 5, account="b")])
    assert truth.total("smsc_callbacks_duplicate_total") == 0
    assert truth.total("smsc_messages_final_total", outcome="delivered") == 2
    assert truth.total("smsc_messages_final_total", account="a") == 1


def test_in_flight_and_cohorts() -> None:
    as_of = datetime.fromtimestamp(T + 10_000, UTC)
    truth = Truth.from_callbacks(
        [
            status(0, 9_000, id="1"),  # in flight, first status 1000 s before as_of
            status(0, 9_500, id="2"),
            status(1, 9_600, id="2"),  # delivered, in the last hour
            status(0, 1_000, id="3"),
            status(1, 1_100, id="3"),  # delivered 2.5 h before as_of: 24h cohort only
            status(0, 10_500, id="4"),  # after as_of: in no cohort
        ],
        as_of=as_of,
    )
    assert truth.as_of == as_of
    assert truth.value("smsc_messages_in_flight", **sms()) == 2
    assert truth.value("smsc_cohort_messages", **sms(window="1h")) == 2
    assert truth.value("smsc_cohort_delivered", **sms(window="1h")) == 1
    assert truth.value("smsc_cohort_messages", **sms(window="24h")) == 3
    assert truth.value("smsc_cohort_delivered", **sms(window="24h")) == 2


def test_as_of_defaults_to_the_latest_time_counted() -> None:
    truth = Truth.from_callbacks([status(0, 5), status(1, 7)])
    assert truth.as_of == datetime.fromtimestamp(T + 7, UTC)
    assert truth.value("smsc_cohort_messages", **sms(window="1h")) == 1


def test_voice_calls() -> None:
    voice: dict[str, Any] = {"type": 7, "sender": "74951234567", "cost": "3.00"}
    truth = Truth.from_callbacks(
        [
            status(0, 0, id="1", cnt=65, **voice),
            status(
                1,
                80,
                id="1",
                cnt=65,
                ringtime=7,
                callmenu="21",
                calltime=20,
                dtmf="1#1",
                **voice,
                cmt="reminder\novertime: 01:05",
            ),
            status(
                1,
                80,
                id="1",
                cnt=65,
                ringtime=7,
                callmenu="21",
                calltime=20,
                dtmf="1#1",
                **voice,
                cmt="reminder\novertime: 01:05",
            ),
            status(0, 0, id="2", cnt=0, **voice),
            status(20, 30, id="2", cnt=0, err=240, **voice),
            status(20, 30, id="3", cnt=0, err=237, **voice),
            status(20, 30, id="4", cnt=0, err=255, **voice),
            status(3, 900, id="5", cnt=0, **voice),
        ]
    )
    calls = {
        outcome: truth.value("smsc_voice_calls_total", account="acme", outcome=outcome)
        for outcome in ("answered", "busy", "not_answered", "failed", "expired", "answering_machine")
    }
    assert calls == {
        "answered": 1,
        "busy": 1,
        "not_answered": 1,
        "failed": 1,
        "expired": 1,
        "answering_machine": 0,
    }
    assert truth.observations("smsc_voice_call_duration_seconds", account="acme") == [65]
    assert truth.observations("smsc_voice_ring_seconds", account="acme") == [7]
    assert truth.value("smsc_voice_menu_selections_total", account="acme", path="21") == 1
    assert truth.value("smsc_voice_dtmf_total", account="acme", key="1") == 2
    assert truth.value("smsc_voice_dtmf_total", account="acme", key="#") == 1
    assert truth.value("smsc_voice_overtime_seconds_total", account="acme") == 65
    # A call's cnt is talk time, not parts; its cost is counted once.
    assert truth.value("smsc_message_parts_total", account="acme", type="voice", sender="74951234567") == 0
    assert truth.total("smsc_cost_total", type="voice") == Decimal("15.00")


def test_hlr_lookups() -> None:
    hlr: dict[str, Any] = {
        "type": 4,
        "cost": "0.10",
        "cnt": 1,
        "mcc": 250,
        "mnc": "01",
        "cn": "Россия",
        "net": "МТС",
    }
    truth = Truth.from_callbacks(
        [
            status(0, 0, id="1", type=4),  # pending: no look-up counted yet
            status(1, 1, id="1", **hlr),
            status(1, 1, id="2", **hlr, rcn="Турция", rnet="Turkcell"),
            status(20, 1, id="3", type=4, err=1),  # failed (subscriber unknown): no answer at all
            status(1, 2, id="3", **hlr),  # after the final outcome: not a second look-up
            status(1, 1, id="4", type=4, mcc=250, mnc="01"),  # an answer without country and network
            status(3, 1, id="5", type=4),  # expired
        ]
    )
    home = {"account": "acme", "country": "Россия", "network": "МТС"}
    assert truth.value("smsc_hlr_lookups_total", **home, roaming="false") == 1
    assert truth.value("smsc_hlr_lookups_total", **home, roaming="true") == 1
    unknown = {"account": "acme", "country": "unknown", "network": "unknown"}
    assert truth.value("smsc_hlr_lookups_total", **unknown, roaming="unknown") == 2
    assert truth.value("smsc_hlr_lookups_total", **unknown, roaming="false") == 1
    assert truth.total("smsc_hlr_lookups_total") == 5  # one per look-up


def test_incoming_sms_and_call_confirmations() -> None:
    reply = raw(id=7, sms_id=1, phone="79001112233", mes="Да", to="79037011111", time=T)
    truth = Truth.from_callbacks(
        [
            reply,
            reply,
            raw(id=8, phone="79001112233", mes="Стоп", to="79037011111", time=T + 1),
            raw(waitcall=1, phone="79001112233", ts=T + 2),
            raw(waitcall=1, phone="79001112233", ts=T + 2),
            raw(waitcall=1, phone="79001112233", ts=T + 3),
        ]
    )
    to = {"account": "acme", "to": "79037011111"}
    assert truth.value("smsc_incoming_messages_total", **to, is_reply="true") == 1
    assert truth.value("smsc_incoming_messages_total", **to, is_reply="false") == 1
    assert truth.value("smsc_call_confirmations_total", account="acme") == 2
    assert truth.value("smsc_callbacks_duplicate_total", account="acme", kind="incoming") == 1
    assert truth.value("smsc_callbacks_duplicate_total", account="acme", kind="call_confirmation") == 1


def test_dead_callbacks_are_counted_by_reason() -> None:
    truth = Truth.from_callbacks(
        [
            Raw("acme", b'{"id": "1",', content_type="application/json"),
            raw(id=1, phone="79001112233", status="delivered"),
            Raw("acme", b""),
            status(1, 1),
        ]
    )
    assert truth.value("smsc_callbacks_dead_total", account="acme", reason="undecodable") == 1
    assert truth.value("smsc_callbacks_dead_total", account="acme", reason="invalid_field") == 2
    assert truth.inputs["dead"] == 3
    assert truth.total("smsc_status_callbacks_total") == 1


def test_unknown_and_not_found_statuses_open_no_message() -> None:
    truth = Truth.from_callbacks([status(-3, 1), status(99, 2, err=999)])
    assert truth.total("smsc_status_callbacks_total") == 2
    assert truth.value("smsc_errors_total", **sms(err="999")) == 1
    assert truth.inputs["messages"] == 0
    assert truth.total("smsc_cost_total") == 0


def test_the_truth_file_layout(tmp_path: Path) -> None:
    truth = Truth.from_callbacks([status(0, 0), status(1, 10), status(0, 0, id="2", cost="0.10")])
    path = tmp_path / "truth.json"
    truth.write(path, extra={"seed": 1})
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "smsc-analytics/truth"
    assert document["version"] == 1
    assert document["as_of"] == "2025-02-19T21:20:10Z"
    assert document["as_of_unix"] == T + 10
    assert document["run"] == {"seed": 1}
    assert document["inputs"] == {
        "callbacks": 3,
        "dead": 0,
        "duplicates": 0,
        "unique_status": 3,
        "unique_incoming": 0,
        "unique_call_confirmation": 0,
        "messages": 2,
    }
    assert set(document["metrics"]) == set(CONTRACT)
    for name, metric in document["metrics"].items():
        assert metric["type"] == CONTRACT[name].type
        assert metric["labels"] == list(CONTRACT[name].labels)
        for sample in metric["samples"]:
            assert list(sample["labels"]) == metric["labels"]
    costs = document["metrics"]["smsc_cost_total"]["samples"]
    assert costs == [
        {
            "labels": {
                "account": "acme",
                "type": "sms",
                "sender": "Shop",
                "balance": "main",
                "template_kind": "none",
            },
            "value": "3.60",
        }
    ]
    latency = document["metrics"]["smsc_delivery_latency_seconds"]["samples"]
    assert latency == [
        {"labels": {"account": "acme", "type": "sms"}, "count": 1, "sum": 10, "observations": [10]}
    ]
    in_flight = document["metrics"]["smsc_messages_in_flight"]["samples"]
    assert in_flight == [{"labels": {"account": "acme", "type": "sms"}, "value": 1}]
    assert document["metrics"]["smsc_voice_calls_total"]["samples"] == []


def test_the_incremental_recount_equals_the_whole_one() -> None:
    callbacks = generate(seed=5, count=3000, faults=Faults(duplicate_ratio=0.1, malformed_ratio=0.05))
    recount = Recount()
    for callback in callbacks:
        recount.add(callback)
    once = recount.result().to_json()
    assert recount.result().to_json() == once  # asking twice changes nothing
    assert Truth.from_callbacks(callbacks).to_json() == once


def test_wrong_labels_are_an_error() -> None:
    truth = Truth()
    with pytest.raises(KeyError):
        truth.value("smsc_messages_final_total", account="acme")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_of_a_big_noisy_workload(seed: int) -> None:
    faults = Faults(
        duplicate_ratio=0.05,
        malformed_ratio=0.02,
        unsigned_ratio=0.02,
        bad_signature_ratio=0.02,
        out_of_order_ratio=0.1,
        late_ratio=0.1,
    )
    callbacks = generate(seed=seed, count=6000, faults=faults, wire=WireConfig(secret="x"))
    truth = Truth.from_callbacks(callbacks)
    copies = sum(
        callback.fault in (Fault.DUPLICATE, Fault.UNSIGNED, Fault.BAD_SIGNATURE) for callback in callbacks
    )
    assert truth.total("smsc_callbacks_duplicate_total") == copies
    assert truth.total("smsc_callbacks_dead_total") == sum(callback.is_malformed for callback in callbacks)
    statuses = [callback for callback in callbacks if callback.params.get("status") and not callback.is_copy]
    assert truth.total("smsc_status_callbacks_total") == len(statuses)
    assert truth.inputs["messages"] == len({callback.key for callback in statuses})
    finals = truth.total("smsc_messages_final_total")
    assert finals + truth.total("smsc_messages_in_flight") == truth.inputs["messages"]
    delivered = truth.total("smsc_messages_final_total", outcome="delivered")
    # A latency per message made delivered by status 1; the others were made delivered by read/clicked.
    by_engagement = delivered - truth.total("smsc_delivery_latency_seconds")
    assert 0 < by_engagement < delivered / 50
    assert truth.total("smsc_voice_calls_total") == truth.total("smsc_messages_final_total", type="voice")
    # Every HLR look-up once, the failed ones (no answer: all `unknown`) too.
    lookups = truth.total("smsc_hlr_lookups_total")
    assert lookups == truth.total("smsc_messages_final_total", type="hlr")
    failed = truth.total("smsc_hlr_lookups_total", country="unknown", network="unknown", roaming="unknown")
    assert failed == lookups - truth.total("smsc_messages_final_total", type="hlr", outcome="delivered") > 0
    assert truth.total("smsc_cohort_messages", window="24h") == truth.inputs["messages"]


def test_raw_records_read_back_from_kafka_recount_the_same() -> None:
    callbacks = generate(seed=9, count=500, faults=Faults(duplicate_ratio=0.1, malformed_ratio=0.05))
    records = [
        RawRecord(
            body=callback.body,
            query_string=callback.query_string.encode("ascii"),
            content_type=callback.content_type or None,
            account=callback.account,
            received_at_ns=0,
            remote_addr=None,
            request_id="0" * 32,
        )
        for callback in callbacks
    ]
    assert Truth.from_callbacks(records).to_json() == Truth.from_callbacks(callbacks).to_json()


# -- destinations ---------------------------------------------------------------------------------


BEELINE_NUMBER = "79031234567"  # a Beeline range (Russia)
DAY = 86_400


def destination(**labels: str) -> dict[str, str]:
    return {"account": "acme", "type": "sms", "country": "RU", "carrier": "Beeline", **labels}


def look_up(at: int, answer: dict[str, object] | None = None, *, phone: str = BEELINE_NUMBER) -> Raw:
    """An HLR look-up of `phone` answered at T + at (by MTS, or the `answer` fields; None drops one)."""
    fields: dict[str, Any] = {"mcc": 250, "mnc": "01", "cn": "Россия", "net": "МТС"} | (answer or {})
    fields |= {"id": f"hlr{at}", "phone": phone, "type": 4, "cost": "0.10", "cnt": 1}
    return status(1, at, **{name: value for name, value in fields.items() if value is not None})


def test_a_message_counts_under_its_range_destination() -> None:
    truth = Truth.from_callbacks(
        [
            status(0, 0, phone=BEELINE_NUMBER),
            status(1, 10, phone=BEELINE_NUMBER),
            status(0, 0, id="2", phone=BEELINE_NUMBER, cost="1.00"),
            status(20, 5, id="2", phone=BEELINE_NUMBER, cost="1.00", err=255),
            status(0, 0, id="3", phone="79161234567"),  # a range libphonenumber names no carrier for
            status(3, 90, id="3", phone="79161234567"),
            status(0, 0, id="4", phone="77011234567"),  # Kazakhstan, also +7
            status(0, 0, id="5", phone="0"),  # not a number at all
        ]
    )
    final = "smsc_destination_messages_final_total"
    assert truth.value(final, **destination(outcome="delivered")) == 1
    assert truth.value(final, **destination(outcome="failed")) == 1
    assert truth.value(final, **destination(carrier="unknown", outcome="expired")) == 1
    assert truth.observations("smsc_destination_delivery_latency_seconds", **destination()) == [10]
    cost = "smsc_destination_cost_total"
    assert truth.value(cost, **destination()) == Decimal("4.50")
    assert truth.value(cost, **destination(country="KZ", carrier="Kcell/Activ")) == Decimal("3.50")
    assert truth.value(cost, **destination(country="unknown", carrier="unknown")) == Decimal("3.50")
    sources = {
        source: truth.value("smsc_destination_carrier_sources_total", account="acme", source=source)
        for source in ("hlr", "range", "unknown")
    }
    assert sources == {"hlr": 0, "range": 3, "unknown": 2}


def test_a_look_up_answer_names_the_carrier_of_later_messages_to_that_number() -> None:
    truth = Truth.from_callbacks(
        [
            status(0, 0, id="before", phone=BEELINE_NUMBER),  # opened before the answer: its range
            status(0, 1, id="hlr1", phone=BEELINE_NUMBER, type=4, cost="0.10", cnt=1),
            look_up(2),  # the look-up itself opened before its answer: its range too
            status(1, 20, id="before", phone=BEELINE_NUMBER),
            status(0, 30, id="after", phone=BEELINE_NUMBER),
            status(1, 40, id="after", phone=BEELINE_NUMBER),
            status(1, 50, id="other", phone=BEELINE_NUMBER, account="elsewhere"),  # any account's answer
        ]
    )
    final = "smsc_destination_messages_final_total"
    assert truth.value(final, **destination(outcome="delivered")) == 1
    assert truth.value(final, **destination(type="hlr", outcome="delivered")) == 1
    assert truth.value(final, **destination(carrier="MTS", outcome="delivered")) == 1
    assert truth.value(final, **destination(account="elsewhere", carrier="MTS", outcome="delivered")) == 1
    latency = "smsc_destination_delivery_latency_seconds"
    assert truth.observations(latency, **destination(carrier="MTS")) == [10]
    assert truth.value("smsc_destination_cost_total", **destination(carrier="MTS")) == Decimal("3.50")
    hlr = {"account": "acme", "source": "hlr"}
    assert truth.value("smsc_destination_carrier_sources_total", **hlr) == 1
    assert truth.value("smsc_destination_carrier_sources_total", **hlr | {"account": "elsewhere"}) == 1


@pytest.mark.parametrize(
    ("answer", "carrier"),
    [
        ({}, "MTS"),
        ({"mcc": 250, "mnc": "20", "cn": "Россия", "net": "Tele2"}, "T2"),
        ({"mcc": 257, "mnc": "01", "cn": "Беларусь", "net": "A1"}, "Velcom"),
        ({"mcc": None, "mnc": None, "cn": "Россия", "net": "МегаФон"}, "MegaFon"),  # by its names
        ({"mcc": 999, "mnc": "99", "cn": "Марс", "net": "Red"}, "Beeline"),  # a network nobody simulates
        ({"mcc": None, "mnc": None, "cn": None, "net": None, "imsi": "250011234567890"}, "Beeline"),
    ],
)
def test_the_network_that_answered_by_its_canonical_name(answer: dict[str, object], carrier: str) -> None:
    truth = Truth.from_callbacks([look_up(0, answer), status(1, 10, phone=BEELINE_NUMBER)])
    final = "smsc_destination_messages_final_total"
    assert truth.value(final, **destination(carrier=carrier, outcome="delivered")) == 1


def test_a_failed_or_old_look_up_names_no_carrier() -> None:
    other = "79037654321"
    truth = Truth.from_callbacks(
        [
            status(20, 0, id="hlr", phone=other, type=4, err=1),
            status(1, 10, phone=other),
            look_up(0),
            status(1, 30 * DAY + 1, phone=BEELINE_NUMBER),  # answered more than 30 days before
            status(1, 30 * DAY, id="2", phone=BEELINE_NUMBER),  # exactly 30 days: still known
        ]
    )
    final = "smsc_destination_messages_final_total"
    assert truth.value(final, **destination(outcome="delivered")) == 2
    assert truth.value(final, **destination(carrier="MTS", outcome="delivered")) == 1
