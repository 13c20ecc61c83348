"""Delivery by destination: the `smsc_destination_*` counts equal a recount of hand-built sequences whose
destinations are known, and sum to the totals of the metrics without a destination."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator import Faults, generate
from smsc import encode_request
from smsc.events import loads_event
from streams.aggregates import Aggregates
from streams.hlr_memory import HlrMemory, phone_digest
from streams.processor import NS, PartitionProcessor, ProcessorConfig, Result, SourceRecord, Verdict

T0 = 1_795_523_405  # 2026-11-24 12:30:05 UTC
ACCOUNT = "acme"

# Numbers of ranges libphonenumber knows, with their carriers' canonical names (streams/carriers.py).
RU_BEELINE = "79031234567"
RU_MEGAFON = "79261234567"
RU_T2 = "79501234567"
RU_NO_CARRIER = "79161234567"  # a range libphonenumber names no carrier for
KZ_BEELINE = "77051234567"
UA_VODAFONE = "380501234567"
UZ_BEELINE = "998901234567"
NOT_A_NUMBER = "99999"
RANGE = {
    RU_BEELINE: ("RU", "Beeline"),
    RU_MEGAFON: ("RU", "MegaFon"),
    RU_T2: ("RU", "T2"),
    RU_NO_CARRIER: ("RU", "unknown"),
    KZ_BEELINE: ("KZ", "Beeline"),
    UA_VODAFONE: ("UA", "Vodafone"),
    UZ_BEELINE: ("UZ", "Beeline"),
    NOT_A_NUMBER: ("unknown", "unknown"),
}
# An HLR answer: MTS (250/01) whatever the number's range says.
MTS_ANSWER = {"type": "4", "imsi": "250011234567890", "mcc": "250", "mnc": "01", "cn": "Россия", "net": "МТС"}

FINAL = "smsc_destination_messages_final_total"
COST = "smsc_destination_cost_total"
SOURCES = "smsc_destination_carrier_sources_total"
LATENCY = "smsc_destination_delivery_latency_seconds"


def status(message: str, phone: str, code: int, ts: int, **extra: str) -> dict[str, str]:
    return {"id": message, "phone": phone, "status": str(code), "ts": str(T0 + ts), "type": "0", **extra}


def memory() -> HlrMemory:
    return HlrMemory(30 * 86400 * NS, 1000)


class Feed:
    """Feeds callbacks to one processor with increasing offsets and receive times; keeps the results."""

    def __init__(self, processor: PartitionProcessor) -> None:
        self.processor = processor
        self.offsets = itertools.count()
        self.received_s = T0
        self.results: list[Result] = []

    def __call__(self, params: dict[str, str], *, after_s: int = 1) -> Result:
        self.received_s += after_s
        record = SourceRecord(
            partition=0,
            offset=next(self.offsets),
            body=encode_request(params).body,
            query_string="",
            content_type=None,
            account=ACCOUNT,
            received_at_ns=self.received_s * NS,
        )
        result = self.processor.process(record)
        self.results.append(result)
        return result

    def restart(self, hlr: HlrMemory | None, *, old_layout: bool = False) -> None:
        """Continue from a snapshot of the processor (as stored: through JSON); of the layout before
        destinations if asked."""
        state = json.loads(json.dumps(self.processor.to_json()))
        if old_layout:
            del state["destinations"]
            state["messages"] = [row[:5] for row in state["messages"]]
            state["labels"] = {
                name: seen
                for name, seen in state["labels"].items()
                if name != "countries" and not name.startswith("carriers:")
            }
        self.processor = PartitionProcessor.from_json(state, self.processor.config, hlr)


# The hand-built input: several countries and carriers, retries, out-of-order and late statuses, a read
# without delivered, a failed HLR look-up, and an HLR answer before and after messages to its number.
STATUSES = [
    status("h1", RU_T2, 0, 0, type="4"),
    status("1", RU_BEELINE, -1, 1, cost="1.50", cnt="1"),
    status("1", RU_BEELINE, 0, 2, cost="1.50", cnt="1"),
    status("8", RU_T2, 0, 3, cost="0.70"),  # before the HLR answer: the range's carrier
    status("h1", RU_T2, 1, 4, **MTS_ANSWER),  # the answer: MTS from now on
    status("h1", RU_T2, 1, 4, **MTS_ANSWER),  # a retry
    status("1", RU_BEELINE, 1, 32, cost="1.50", cnt="1"),
    status("1", RU_BEELINE, 2, 40, cost="1.50", cnt="1"),  # read after delivered: engagement only
    status("2", RU_MEGAFON, 20, 5, err="1", cost="2.00"),
    status("2", RU_MEGAFON, 20, 5, err="1", cost="2.00"),  # a retry
    status("2", RU_MEGAFON, 1, 9, cost="2.00"),  # a late success does not reopen the failure
    status("3", RU_NO_CARRIER, 2, 7, cost="0.10"),  # read without delivered: delivered, no latency
    status("4", KZ_BEELINE, 1, 50, cost="3.00"),  # out of order: delivered before pending
    status("4", KZ_BEELINE, 0, 5, cost="3.00"),
    status("5", UA_VODAFONE, 0, 6),
    status("5", UA_VODAFONE, 3, 600, cost="1.00"),  # expired; the cost arrives with the final status
    status("6", NOT_A_NUMBER, 1, 10),
    status("7", RU_T2, 0, 11, cost="0.70"),  # after the HLR answer: MTS, from the answer
    status("8", RU_T2, 1, 12, cost="0.70"),
    status("7", RU_T2, 1, 130, cost="0.70"),
    status("a:b", UZ_BEELINE, 0, 13, cost="0.25"),  # an id with a ':'
    status("a:b", UZ_BEELINE, 1, 14, cost="0.25"),
    status("1", RU_MEGAFON, 0, 15),  # the same id to another number: another message
    status("1", RU_MEGAFON, 1, 16),
    status("h2", KZ_BEELINE, 20, 17, type="4", err="1"),  # a failed look-up: nothing to remember
    status("h3", UA_VODAFONE, 1, 18, type="4"),  # final without an answer
    status("9", RU_MEGAFON, -3, 19),  # not found: counted, no message
]


@dataclass
class Message:
    first_seen: int
    destination: tuple[str, str, str]
    final: bool = False
    cost_counted: bool = False


@dataclass
class Recount:
    """The counting rules written out plainly, per message, with the destination the test knows: the
    range's, or MTS when an MTS answer for the number came before the message's first status. No
    bounding: the inputs stay below the bounds."""

    counters: dict[tuple[str, tuple[str, ...]], Any] = field(default_factory=dict)
    latency: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    seen: set[tuple[str, ...]] = field(default_factory=set)
    events: list[tuple[str, str, str] | None] = field(default_factory=list)

    def add(self, name: str, labels: tuple[str, ...], amount: Any = 1) -> None:
        self.counters[(name, labels)] = self.counters.get((name, labels), 0) + amount

    def __call__(self, params: dict[str, str]) -> None:
        identity = (params["id"], params["phone"], params["status"], params["ts"])
        if identity in self.seen:
            self.events.append(None)
            return
        self.seen.add(identity)
        code, ts, phone, type_ = int(params["status"]), int(params["ts"]), params["phone"], params["type"]
        country, carrier = RANGE[phone]
        range_destination = (country, carrier, "range" if carrier != "unknown" else "unknown")
        here = (country, "MTS", "hlr") if phone in self.answered else range_destination
        if code == -3:
            self.events.append(here)
            return
        message = self.messages.get(f"{params['id']}:{phone}")
        if message is None:
            message = self.messages[f"{params['id']}:{phone}"] = Message(ts, here)
            self.add(SOURCES, (ACCOUNT, here[2]))
        self.events.append(message.destination)
        where = (ACCOUNT, {"0": "sms", "4": "hlr"}[type_], *message.destination[:2])
        outcome = {1: "delivered", 2: "delivered", 4: "delivered", 3: "expired", 20: "failed"}.get(code)
        if outcome is not None and not message.final:
            message.final = True
            self.add(FINAL, (*where, outcome))
            if code == 1:
                self.latency.setdefault(where, []).append(max(0, ts - message.first_seen))
            if type_ == "4" and params.get("mnc") == "01":
                self.answered.add(phone)
        if "cost" in params and not message.cost_counted:
            message.cost_counted = True
            self.add(COST, where, Decimal(params["cost"]))


def destination_counters(aggregates: Aggregates) -> dict[tuple[str, tuple[str, ...]], Any]:
    return {key: value for key, value in aggregates.counters.items() if key[0] in (FINAL, COST, SOURCES)}


def latencies(aggregates: Aggregates) -> dict[tuple[str, ...], tuple[int, Any]]:
    return {
        labels: (histogram.count, histogram.total)
        for (name, labels), histogram in aggregates.histograms.items()
        if name == LATENCY
    }


def summed(
    counters: dict[tuple[str, tuple[str, ...]], Any], name: str, *keep: int
) -> Counter[tuple[str, ...]]:
    sums: Counter[tuple[str, ...]] = Counter()
    for (counted, labels), value in counters.items():
        if counted == name:
            sums[tuple(labels[index] for index in keep)] += value
    return sums


def assert_sums_equal_the_totals(aggregates: Aggregates) -> None:
    """Summed over destinations (and senders, balances, template kinds): the metrics without one."""
    counters = aggregates.counters
    # (account, type, outcome) of the final outcomes; (account, type) of the costs
    assert summed(counters, FINAL, 0, 1, 4) == summed(counters, "smsc_messages_final_total", 0, 1, 3)
    assert summed(counters, COST, 0, 1) == summed(counters, "smsc_cost_total", 0, 1)
    first_statuses = sum(count for minutes in aggregates.cohorts.values() for count, _ in minutes.values())
    assert sum(summed(counters, SOURCES, 0).values()) == first_statuses  # every message, once
    by_type: dict[tuple[str, ...], list[Any]] = {}
    for labels, (count, total) in latencies(aggregates).items():
        totals = by_type.setdefault(labels[:2], [0, 0])
        totals[0] += count
        totals[1] += total
    plain = {
        labels: [histogram.count, histogram.total]
        for (name, labels), histogram in aggregates.histograms.items()
        if name == "smsc_delivery_latency_seconds"
    }
    assert by_type == plain


def run(statuses: list[dict[str, str]], config: ProcessorConfig | None = None) -> Feed:
    feed = Feed(PartitionProcessor(0, config or ProcessorConfig(hlr_settle_seconds=0), memory()))
    for params in statuses:
        feed(params)
    return feed


def test_the_destination_counts_equal_the_recount() -> None:
    feed, recount = run(STATUSES), Recount()
    for params in STATUSES:
        recount(params)
    aggregates = feed.processor.aggregates
    assert destination_counters(aggregates) == recount.counters
    assert latencies(aggregates) == {where: (len(seen), sum(seen)) for where, seen in recount.latency.items()}
    assert_sums_equal_the_totals(aggregates)
    # What the input was built to show.
    assert recount.counters[(SOURCES, (ACCOUNT, "hlr"))] == 1  # message 7
    assert recount.counters[(FINAL, (ACCOUNT, "sms", "RU", "T2", "delivered"))] == 1  # message 8
    assert recount.counters[(FINAL, (ACCOUNT, "sms", "unknown", "unknown", "delivered"))] == 1
    assert recount.latency[(ACCOUNT, "sms", "KZ", "Beeline")] == [0]
    assert (ACCOUNT, "sms", "RU", "unknown") not in recount.latency  # read only: no delivered status


def test_every_status_event_carries_its_messages_destination() -> None:
    feed, recount = run(STATUSES), Recount()
    for params in STATUSES:
        recount(params)
    for result, destination in zip(feed.results, recount.events, strict=True):
        if destination is None:
            assert result.verdict is Verdict.DUPLICATE
            continue
        assert result.event is not None
        event = loads_event(result.event)
        assert (event["country"], event["carrier"], event["carrier_source"]) == destination


def test_a_final_hlr_answer_is_remembered_and_given_for_sharing() -> None:
    hlr = memory()
    feed = Feed(PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=0), hlr))
    networks = [feed(params).hlr_network for params in STATUSES]
    answered_at_ns = (T0 + 5) * NS  # the answer's receive time
    assert networks[4] == (phone_digest(RU_T2), "MTS", answered_at_ns)
    assert [network for index, network in enumerate(networks) if index != 4] == [None] * (len(STATUSES) - 1)
    assert hlr.carrier_of(phone_digest(RU_T2)) == "MTS"
    assert len(hlr) == 1


def test_a_worker_shared_answer_improves_the_next_message_of_the_number() -> None:
    hlr = memory()
    feed = Feed(PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=0), hlr))
    feed(status("1", RU_BEELINE, 1, 0))
    hlr.remember(phone_digest(RU_BEELINE), "MTS", T0 * NS)  # an answer another worker shared
    feed(status("1", RU_BEELINE, 2, 1))  # the same message: its destination stays
    feed(status("2", RU_BEELINE, 1, 2))
    counters = feed.processor.aggregates.counters
    assert counters[(FINAL, (ACCOUNT, "sms", "RU", "Beeline", "delivered"))] == 1
    assert counters[(FINAL, (ACCOUNT, "sms", "RU", "MTS", "delivered"))] == 1
    assert (counters[(SOURCES, (ACCOUNT, "range"))], counters[(SOURCES, (ACCOUNT, "hlr"))]) == (1, 1)


def test_a_forgotten_message_gets_its_destination_again() -> None:
    hlr = memory()
    feed = Feed(PartitionProcessor(0, ProcessorConfig(dedupe_window_seconds=60, hlr_settle_seconds=0), hlr))
    feed(status("1", RU_T2, 1, 0))
    hlr.remember(phone_digest(RU_T2), "MTS", T0 * NS)
    late = feed(status("1", RU_T2, 2, 100), after_s=61)  # the message was forgotten: a new one
    assert late.event is not None
    assert loads_event(late.event)["carrier_source"] == "hlr"
    counters = feed.processor.aggregates.counters
    assert (counters[(SOURCES, (ACCOUNT, "range"))], counters[(SOURCES, (ACCOUNT, "hlr"))]) == (1, 1)


def test_a_snapshot_at_any_point_continues_identically() -> None:
    whole = run(STATUSES)
    for split in range(len(STATUSES) + 1):
        hlr = memory()
        feed = Feed(PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=0), hlr))
        for params in STATUSES[:split]:
            feed(params)
        feed.restart(hlr)
        for params in STATUSES[split:]:
            feed(params)
        assert feed.processor.to_json() == whole.processor.to_json(), split
        assert [result.event for result in feed.results] == [result.event for result in whole.results]


def test_a_snapshot_from_before_destinations_loads_and_continues() -> None:
    """The destination of a message of an older snapshot is worked out from the number in its key."""
    no_memory = ProcessorConfig(hlr_settle_seconds=0)
    whole = Feed(PartitionProcessor(0, no_memory))
    for params in STATUSES:
        whole(params)
    for split in range(len(STATUSES) + 1):
        feed = Feed(PartitionProcessor(0, no_memory))
        for params in STATUSES[:split]:
            feed(params)
        feed.restart(None, old_layout=True)
        for params in STATUSES[split:]:
            feed(params)
        assert feed.processor.aggregates == whole.processor.aggregates, split
        assert feed.processor.messages.rows() == whole.processor.messages.rows(), split


def test_labels_are_bounded_per_partition_with_the_configured_carriers_always_kept() -> None:
    config = ProcessorConfig(carriers=("T2",), max_countries=2, max_carriers_per_country=1)
    phones = [RU_BEELINE, RU_MEGAFON, RU_T2, KZ_BEELINE, UA_VODAFONE, NOT_A_NUMBER, RU_NO_CARRIER, UZ_BEELINE]
    statuses = [status(str(index), phone, 1, index) for index, phone in enumerate(phones)]
    feed = run(statuses, config)
    final = {labels[2:4] for (name, labels), _ in feed.processor.aggregates.counters.items() if name == FINAL}
    assert final == {
        ("RU", "Beeline"),  # the first country, its first carrier
        ("RU", "other"),  # MegaFon: RU has its one carrier
        ("RU", "T2"),  # configured
        ("KZ", "Beeline"),  # the second country
        ("other", "Vodafone"),  # UA: no third country; the first carrier of `other`
        ("unknown", "unknown"),  # always its own label
        ("RU", "unknown"),
        ("other", "other"),  # UZ's Beeline: `other` has its one carrier
    }
    assert_sums_equal_the_totals(feed.processor.aggregates)
    # The labels seen are part of the snapshot: a restored processor labels the same.
    for split in range(len(statuses) + 1):
        again = Feed(PartitionProcessor(0, config, memory()))
        for params in statuses[:split]:
            again(params)
        again.restart(memory())
        for params in statuses[split:]:
            again(params)
        assert again.processor.to_json() == feed.processor.to_json()


def test_destinations_off_do_none_of_it() -> None:
    hlr = memory()
    off = Feed(PartitionProcessor(0, ProcessorConfig(destinations=False), hlr))
    for params in STATUSES:
        off(params)
    on = run(STATUSES)
    assert destination_counters(off.processor.aggregates) == {}
    assert latencies(off.processor.aggregates) == {}
    others = {
        key: value
        for key, value in on.processor.aggregates.counters.items()
        if key[0] not in (FINAL, COST, SOURCES)
    }
    assert off.processor.aggregates.counters == others
    assert all(result.hlr_network is None for result in off.results)
    assert len(hlr) == 0
    for result in off.results:
        if result.event is not None:
            event = loads_event(result.event)
            assert (event["country"], event["carrier"], event["carrier_source"]) == (None, None, None)


def test_a_simulated_workload_sums_to_the_totals_and_survives_a_snapshot() -> None:
    callbacks = generate(
        seed=9, count=3000, faults=Faults(duplicate_ratio=0.05, out_of_order_ratio=0.1, late_ratio=0.1)
    )

    def records(first: int, last: int) -> list[SourceRecord]:
        return [
            SourceRecord(0, offset, c.body, c.query_string, c.content_type, c.account, int(c.sent_at * NS))
            for offset, c in enumerate(callbacks[first:last], first)
        ]

    whole = PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=0), memory())
    for record in records(0, len(callbacks)):
        whole.process(record)
    assert_sums_equal_the_totals(whole.aggregates)
    assert sum(destination_counters(whole.aggregates).values()) > 0
    hlr = memory()
    first = PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=0), hlr)
    for record in records(0, 1500):
        first.process(record)
    restored = PartitionProcessor.from_json(
        json.loads(json.dumps(first.to_json())), ProcessorConfig(hlr_settle_seconds=0), hlr
    )
    for record in records(1500, len(callbacks)):
        restored.process(record)
    assert restored.to_json() == whole.to_json()


def test_an_answer_counts_only_for_messages_first_seen_the_settle_time_after_it() -> None:
    """A replay finds every shared answer in memory; one received less than `hlr_settle_seconds` before a
    message's first status (or after it) is not its carrier, in the first pass as in the replay."""
    hlr = memory()
    hlr.remember(phone_digest(RU_BEELINE), "MTS", (T0 + 10) * NS)  # received at T0 + 10 s
    for settle, expected in ((0, "hlr"), (20, "hlr"), (21, "range"), (30, "range")):
        feed = Feed(PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=settle), hlr))
        result = feed(status("1", RU_BEELINE, 1, 0), after_s=30)  # first seen at T0 + 30 s: 20 s after
        assert result.event is not None
        assert loads_event(result.event)["carrier_source"] == expected, settle
    # An answer received after the message's first status never counts for it (a replay's memory has it).
    feed = Feed(PartitionProcessor(0, ProcessorConfig(hlr_settle_seconds=0), hlr))
    early = feed(status("2", RU_BEELINE, 1, 0), after_s=5)  # first seen at T0 + 5 s
    assert early.event is not None
    assert loads_event(early.event)["carrier"] == "Beeline"
