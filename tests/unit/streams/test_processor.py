"""The partition processor on hand-built sequences whose right answers are known."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

from simulator import Faults, Mix, Truth, generate
from smsc import encode_request
from streams.processor import NS, PartitionProcessor, ProcessorConfig, Result, SourceRecord, Verdict

T0 = 1_795_523_405  # 2026-11-24 12:30:05 UTC
ACCOUNT = "acme"


class Feed:
    """Feeds callbacks to one processor with increasing offsets and receive times."""

    def __init__(self, processor: PartitionProcessor | None = None) -> None:
        self.processor = processor or PartitionProcessor(0, ProcessorConfig())
        self.offsets = itertools.count()
        self.received_s = T0

    def __call__(
        self,
        params: dict[str, str] | None = None,
        *,
        after_s: int = 1,
        offset: int | None = None,
        raw: bytes = b"",
    ) -> Result:
        self.received_s += after_s
        body = encode_request(params).body if params is not None else raw
        record = SourceRecord(
            partition=0,
            offset=next(self.offsets) if offset is None else offset,
            body=body,
            query_string="",
            content_type=None,
            account=ACCOUNT,
            received_at_ns=self.received_s * NS,
        )
        return self.processor.process(record)

    def counter(self, name: str, *labels: str) -> int | Decimal:
        return self.processor.aggregates.counters.get((name, (ACCOUNT, *labels)), 0)


def status(message: str, code: int, ts: int, **extra: str) -> dict[str, str]:
    return {
        "id": message,
        "phone": "79990000001",
        "status": str(code),
        "ts": str(T0 + ts),
        "type": "0",
        **extra,
    }


def test_a_message_walk_counts_each_thing_once() -> None:
    feed = Feed()
    money = {"cost": "1.50", "cnt": "2", "sender": "SHOP", "flag": str(1 << 8 | 0b11 << 9)}
    assert feed(status("1", -1, 0, **money)).verdict is Verdict.EVENT
    assert feed.counter("smsc_messages_in_flight", "sms") == 1
    feed(status("1", 0, 5, **money))
    feed(status("1", 1, 65, **money))
    feed(status("1", 2, 90, **money))  # read after delivered: engagement only
    assert feed.counter("smsc_status_callbacks_total", "sms", "1") == 1
    assert feed.counter("smsc_messages_final_total", "sms", "SHOP", "delivered") == 1
    assert feed.counter("smsc_messages_engagement_total", "sms", "read") == 1
    assert feed.counter("smsc_messages_in_flight", "sms") == 0
    assert feed.counter("smsc_cost_total", "sms", "SHOP", "main", "advertising") == Decimal("1.50")
    assert feed.counter("smsc_message_parts_total", "sms", "SHOP") == 2
    latency = feed.processor.aggregates.histograms[("smsc_delivery_latency_seconds", (ACCOUNT, "sms"))]
    assert (latency.count, latency.total) == (1, 65)


def test_duplicates_are_dropped_and_counted() -> None:
    feed = Feed()
    for _ in range(3):
        feed(status("1", 1, 0, cost="1"))
    assert feed.counter("smsc_callbacks_duplicate_total", "status") == 2
    assert feed.counter("smsc_status_callbacks_total", "sms", "1") == 1
    assert feed.counter("smsc_cost_total", "sms", "none", "main", "none") == 1


def test_a_final_failure_is_never_overwritten_and_costs_count_as_undelivered() -> None:
    feed = Feed()
    feed(status("1", 20, 0, err="1", cost="2.00"))
    feed(status("1", 1, 10, cost="2.00"))  # a late success must not reopen the failure
    feed(status("1", 0, 5, cost="2.00"))  # out of order pending
    assert feed.counter("smsc_messages_final_total", "sms", "none", "failed") == 1
    assert feed.counter("smsc_messages_final_total", "sms", "none", "delivered") == 0
    assert feed.counter("smsc_cost_undelivered_total", "sms") == Decimal("2.00")
    assert feed.counter("smsc_errors_total", "sms", "1") == 1
    assert feed.counter("smsc_status_callbacks_total", "sms", "0") == 1


def test_clicked_without_delivered_counts_as_delivered_once() -> None:
    feed = Feed()
    feed(status("1", 4, 0))
    feed(status("1", 2, 1))
    feed(status("1", 1, 2))
    assert feed.counter("smsc_messages_final_total", "sms", "none", "delivered") == 1
    assert feed.counter("smsc_messages_engagement_total", "sms", "clicked") == 1
    assert feed.counter("smsc_messages_engagement_total", "sms", "read") == 1


def test_a_replayed_offset_changes_nothing() -> None:
    feed = Feed()
    feed(status("1", 1, 0), offset=0)
    before = json.dumps(feed.processor.to_json(), sort_keys=True)
    assert feed(status("1", 1, 0), offset=0).verdict is Verdict.REPLAY
    assert json.dumps(feed.processor.to_json(), sort_keys=True) == before


def test_garbage_is_dead_lettered_with_its_reason() -> None:
    feed = Feed()
    result = feed(raw=b"id=1&phone=7999&status=delivered")
    assert result.verdict is Verdict.DEAD
    assert result.reason == "status: 'delivered' is not an integer"
    assert feed.counter("smsc_callbacks_dead_total", "invalid_field") == 1


def test_voice_call_metrics_at_the_final_status() -> None:
    feed = Feed()
    call = {
        "type": "7",
        "cnt": "42",
        "ringtime": "6",
        "callmenu": "12345",
        "dtmf": "1#x",
        "cmt": "overtime: 0:30",
    }
    feed(status("9", 0, 0, **call))
    feed(status("9", 1, 50, **call))
    assert feed.counter("smsc_voice_calls_total", "answered") == 1
    assert feed.counter("smsc_voice_menu_selections_total", "1234") == 1
    assert [feed.counter("smsc_voice_dtmf_total", key) for key in ("1", "#", "other")] == [1, 1, 1]
    assert feed.counter("smsc_voice_overtime_seconds_total") == 30
    assert (
        feed.counter("smsc_message_parts_total", "voice", "none") == 0
    )  # cnt of a call is seconds, not parts
    duration = feed.processor.aggregates.histograms[("smsc_voice_call_duration_seconds", (ACCOUNT,))]
    assert (duration.count, duration.total) == (1, 42)


def test_busy_voice_call() -> None:
    feed = Feed()
    feed(status("9", 20, 0, type="7", err="240"))
    assert feed.counter("smsc_voice_calls_total", "busy") == 1


def test_incoming_and_confirmations_and_their_duplicates() -> None:
    feed = Feed()
    feed({"id": "5", "phone": "7999", "mes": "Да", "to": "7000", "sms_id": "1"})
    feed({"id": "5", "phone": "7999", "mes": "Да", "to": "7000", "sms_id": "1"})
    feed({"id": "6", "phone": "7999", "mes": "?", "to": "7000"})
    feed({"waitcall": "1", "phone": "7999", "ts": str(T0)})
    feed({"waitcall": "1", "phone": "7999", "ts": str(T0)})
    assert feed.counter("smsc_incoming_messages_total", "7000", "true") == 1
    assert feed.counter("smsc_incoming_messages_total", "7000", "false") == 1
    assert feed.counter("smsc_call_confirmations_total") == 1
    assert feed.counter("smsc_callbacks_duplicate_total", "incoming") == 1
    assert feed.counter("smsc_callbacks_duplicate_total", "call_confirmation") == 1


def test_the_dedupe_window_expires_on_the_partition_clock() -> None:
    feed = Feed(PartitionProcessor(0, ProcessorConfig(dedupe_window_seconds=60)))
    feed({"waitcall": "1", "phone": "7999", "ts": str(T0)})
    feed({"waitcall": "1", "phone": "7999", "ts": str(T0)}, after_s=61)  # outside the window: counted again
    assert feed.counter("smsc_call_confirmations_total") == 2
    assert feed.counter("smsc_callbacks_duplicate_total", "call_confirmation") == 0


def test_snapshot_round_trip_continues_identically() -> None:
    one, two = Feed(), Feed()
    calls = [
        status("1", 0, 0, cost="1.10"),
        status("2", 20, 1, err="6", cost="0.5"),
        status("1", 1, 30, cost="1.10"),
    ]
    for params in calls[:2]:
        one(params)
        two(params)
    config = ProcessorConfig()
    two.processor = PartitionProcessor.from_json(json.loads(json.dumps(two.processor.to_json())), config)
    one(calls[2])
    two(calls[2])
    assert one.processor.to_json() == two.processor.to_json()


def test_not_found_and_unknown_statuses_are_counted_but_open_no_message() -> None:
    feed = Feed()
    feed(status("1", -3, 0))
    feed(status("2", 77, 1))
    assert feed.counter("smsc_status_callbacks_total", "sms", "-3") == 1
    assert feed.counter("smsc_status_callbacks_total", "sms", "77") == 1
    assert feed.counter("smsc_messages_in_flight", "sms") == 0
    assert len(feed.processor.messages) == 0


HLR_ANSWER = {"type": "4", "imsi": "250011234567890", "mcc": "250", "mnc": "01", "cn": "Россия", "net": "МТС"}


def test_every_hlr_look_up_counts_once_when_final_with_unknown_for_what_its_answer_lacks() -> None:
    feed = Feed()
    feed(status("1", 0, 0, type="4"))
    assert feed.counter("smsc_hlr_lookups_total", "Россия", "МТС", "false") == 0  # not answered yet
    feed(status("1", 1, 2, **HLR_ANSWER))
    feed(status("1", 1, 2, **HLR_ANSWER))  # a retry: a duplicate, not a second look-up
    feed(status("2", 1, 3, **HLR_ANSWER, rcn="Турция", rnet="Turkcell"))
    feed(status("3", 20, 4, type="4", err="1"))  # subscriber unknown: no answer at all
    feed(status("3", 1, 5, **HLR_ANSWER))  # after the final outcome: changes nothing
    feed(status("4", 1, 6, type="4", imsi="250011234567890", mcc="250", mnc="01"))  # no country, no network
    feed(status("5", 3, 7, type="4"))  # expired
    assert feed.counter("smsc_hlr_lookups_total", "Россия", "МТС", "false") == 1
    assert feed.counter("smsc_hlr_lookups_total", "Россия", "МТС", "true") == 1
    assert feed.counter("smsc_hlr_lookups_total", "unknown", "unknown", "unknown") == 2
    assert feed.counter("smsc_hlr_lookups_total", "unknown", "unknown", "false") == 1
    counters = feed.processor.aggregates.counters
    assert sum(value for (name, _), value in counters.items() if name == "smsc_hlr_lookups_total") == 5
    # An SMS is no look-up, whatever fields it carries.
    feed(status("6", 1, 8, cn="Россия", net="МТС"))
    assert feed.counter("smsc_hlr_lookups_total", "Россия", "МТС", "false") == 1


HLR_AND_SMS = Mix(sms=1, flash=0, viber=0, voice=0, hlr=1, incoming=0, call_confirmation=0)


def test_hlr_look_ups_of_a_simulated_workload_equal_the_recount() -> None:
    """Failed look-ups (about a tenth of the simulator's) are counted, exactly as the recount counts them."""
    callbacks = generate(seed=5, count=3000, mix=HLR_AND_SMS, faults=Faults(duplicate_ratio=0.05))
    truth = Truth.from_callbacks(callbacks)
    processor = PartitionProcessor(0, ProcessorConfig())
    for offset, callback in enumerate(callbacks):
        processor.process(
            SourceRecord(
                partition=0,
                offset=offset,
                body=callback.body,
                query_string=callback.query_string,
                content_type=callback.content_type,
                account=callback.account,
                received_at_ns=int(callback.sent_at * NS),
            )
        )
    counted = {
        labels: Decimal(value)
        for (name, labels), value in processor.aggregates.counters.items()
        if name == "smsc_hlr_lookups_total"
    }
    assert counted == dict(truth.values["smsc_hlr_lookups_total"])
    failed = sum(
        value for labels, value in counted.items() if labels[1:] == ("unknown", "unknown", "unknown")
    )
    assert 0 < failed < sum(counted.values())
