"""HLR answers shared between real workers on the real broker: an answer one worker processed gives the
carrier of the number on another, a restarted worker loads the answers from the topic again, and a record
on the topic that no worker wrote is skipped and counted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest
from aiokafka import AIOKafkaProducer

from smsc.encode import encode_request
from smsc.raw_record import RawRecord
from streams.hlr_memory import HlrMemory, phone_digest
from streams.hlr_sharing import HlrSharing, UnreadableAnswerError, answer_record, read_answer
from streams.processor import NS
from tests.integration.streams.harness import Series, Topics, Worker, remembered, wait_for, workers

pytestmark = pytest.mark.integration

NO_ARCHIVE: Final = {"SMSC_WORKER_ARCHIVE": "false"}  # not under test here; spares the shared CPUs
ALL_PARTITIONS: Final = {"0", "1", "2", "3"}
START: Final = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)

#: A number from a Beeline range (libphonenumber), ported to MegaFon: its HLR answer says so.
PORTED: Final = "79031234567"
#: A number of the same range nobody looked up: its carrier stays the range's.
NOT_LOOKED_UP: Final = "79031234568"
#: The look-ups and the messages under accounts of their own: the counts of one are not the other's.
LOOKUPS: Final = "lookups"
MESSAGES: Final = "messages"


@dataclass(frozen=True)
class Callback:
    partition: int
    account: str
    params: dict[str, str]
    received_at: float


def topics() -> Topics:
    run = uuid.uuid4().hex[:8]
    return Topics(raw=f"raw.{run}", events=f"events.{run}", dead=f"dead.{run}", app_id=f"streams-{run}")


def lookup_answer(partition: int, phone: str, at_seconds: float) -> Callback:
    """The final status of an HLR look-up (type 4): delivered, with the network SMSC found (MegaFon)."""
    params = {
        "id": "7001",
        "phone": phone,
        "status": "1",
        "ts": str(int(START.timestamp() + at_seconds)),
        "type": "4",
        "cost": "0.20",
        "cnt": "1",
        "imsi": "250020123456789",
        "msc": "79262000000",
        "mcc": "250",
        "mnc": "02",
        "cn": "Россия",
        "net": "МегаФон",
    }
    return Callback(partition, LOOKUPS, params, START.timestamp() + at_seconds)


def delivered_sms(partition: int, message_id: str, phone: str, at_seconds: float) -> Callback:
    """A message whose first status is its final one: delivered."""
    params = {
        "id": message_id,
        "phone": phone,
        "status": "1",
        "ts": str(int(START.timestamp() + at_seconds)),
        "type": "0",
        "cost": "1.50",
        "cnt": "1",
    }
    return Callback(partition, MESSAGES, params, START.timestamp() + at_seconds)


async def _produce(bootstrap: str, topic: str, callbacks: Sequence[Callback]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for index, callback in enumerate(callbacks):
            request = encode_request(callback.params)
            record = RawRecord(
                body=request.body,
                query_string=request.query_string.encode("ascii"),
                content_type=request.content_type,
                account=callback.account,
                received_at_ns=int(callback.received_at * 1e9),
                remote_addr="127.0.0.1",
                request_id=f"hlr-test-{index}",
            )
            key = f"{callback.params['id']}:{callback.params['phone']}".encode()
            await producer.send_and_wait(
                topic, record.body, key=key, partition=callback.partition, headers=record.to_headers()
            )
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, callbacks: Sequence[Callback]) -> None:
    asyncio.run(asyncio.wait_for(_produce(bootstrap, topic, callbacks), 60))


def produce_raw_records(bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Records written to the HLR topic by hand: what no worker writes."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value, key=key, partition=0)
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(run(), 60))


def owned(series: Series | None) -> set[str]:
    """The raw partitions a worker exposes progress for: the ones it owns."""
    return {
        value
        for (name, labels), _ in (series or {}).items()
        if name == "smsc_stream_consumer_offset"
        for label, value in labels
        if label == "partition"
    }


def value(series: Series | None, name: str, **labels: str) -> float:
    """A sample summed over the labels not given (the partition, notably)."""
    return sum(
        sample
        for (sample_name, sample_labels), sample in (series or {}).items()
        if sample_name == name and labels.items() <= dict(sample_labels).items()
    )


def destinations(series: Series | None, account: str) -> dict[tuple[str, str, str], float]:
    """(country, carrier, outcome) -> messages of the account, summed over partitions."""
    found: dict[tuple[str, str, str], float] = {}
    for (name, labels), sample in (series or {}).items():
        as_dict = dict(labels)
        if name == "smsc_destination_messages_final_total" and as_dict["account"] == account:
            key = (as_dict["country"], as_dict["carrier"], as_dict["outcome"])
            found[key] = found.get(key, 0.0) + sample
    return found


def test_an_answer_one_worker_processed_is_the_carrier_on_the_other_and_survives_a_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    names = topics()
    with workers(2, kafka_bootstrap, names, tmp_path, NO_ARCHIVE) as pair:

        def split() -> bool:
            mine = [owned(worker.try_scrape()) for worker in pair]
            return all(mine) and not mine[0] & mine[1] and mine[0] | mine[1] == ALL_PARTITIONS

        wait_for(split, "both workers to own partitions", 120, pair)
        first, second = pair
        on_first = int(min(owned(first.scrape())))
        on_second = int(min(owned(second.scrape())))

        produce(kafka_bootstrap, names.raw, [lookup_answer(on_first, PORTED, 0)])
        # The answer reaches the second worker through the topic only: it owns none of the look-up's records.
        wait_for(lambda: remembered(second) == 1, "the answer in the second worker's memory", 60, pair)
        wait_for(lambda: remembered(first) == 1, "the answer in the first worker's memory", 60, pair)
        assert value(first.scrape(), "smsc_hlr_lookups_total", account=LOOKUPS, network="МегаФон") == 1

        produce(
            kafka_bootstrap,
            names.raw,
            [
                delivered_sms(on_second, "8001", PORTED, 60),
                delivered_sms(on_second, "8002", NOT_LOOKED_UP, 61),
            ],
        )
        wait_for(
            lambda: (
                value(second.try_scrape(), "smsc_destination_carrier_sources_total", account=MESSAGES) == 2
            ),
            "both messages counted on the second worker",
            60,
            pair,
        )
        scrape = second.scrape()
        assert value(scrape, "smsc_destination_carrier_sources_total", account=MESSAGES, source="hlr") == 1
        assert value(scrape, "smsc_destination_carrier_sources_total", account=MESSAGES, source="range") == 1
        assert destinations(scrape, MESSAGES) == {
            ("RU", "MegaFon", "delivered"): 1,
            ("RU", "Beeline", "delivered"): 1,
        }
        # Only the second worker processed them; the first saw none.
        assert value(first.scrape(), "smsc_destination_carrier_sources_total", account=MESSAGES) == 0

        # Two records no worker wrote: each skipped, counted by its reason, and nothing remembered.
        produce_raw_records(
            kafka_bootstrap,
            names.hlr_topic,
            [(b"not a digest", b'{"carrier":"MTS","answered_at_ns":1}'), (b"00000000000000ff", b"{")],
        )
        skipped = "smsc_hlr_shared_answers_skipped_total"
        wait_for(
            lambda: all(value(worker.try_scrape(), skipped) == 2 for worker in pair),
            "the two records skipped by both workers",
            60,
            pair,
        )
        for worker in pair:
            scrape = worker.scrape()
            assert value(scrape, skipped, reason="key") == 1
            assert value(scrape, skipped, reason="value") == 1
            assert value(scrape, "smsc_hlr_numbers_remembered") == 1

    # A worker that starts afresh, on raw topics of its own that never held the look-up: what it knows
    # of the number, it loaded from the HLR topic.
    fresh = topics()
    renamed = Topics(
        raw=fresh.raw, events=fresh.events, dead=fresh.dead, app_id=fresh.app_id, hlr=names.hlr_topic
    )
    restarted = Worker(kafka_bootstrap, renamed, tmp_path, NO_ARCHIVE)
    try:
        wait_for(
            lambda: owned(restarted.try_scrape()) == ALL_PARTITIONS, "the restarted worker", 120, [restarted]
        )
        scrape = restarted.scrape()
        assert value(scrape, "smsc_hlr_numbers_remembered") == 1
        assert value(scrape, "smsc_hlr_shared_answers_skipped_total", reason="key") == 1
        assert value(scrape, "smsc_hlr_shared_answers_skipped_total", reason="value") == 1
        produce(kafka_bootstrap, renamed.raw, [delivered_sms(0, "8003", PORTED, 120)])
        wait_for(
            lambda: (
                value(restarted.try_scrape(), "smsc_destination_carrier_sources_total", account=MESSAGES) == 1
            ),
            "the message counted on the restarted worker",
            60,
            [restarted],
        )
        scrape = restarted.scrape()
        assert value(scrape, "smsc_destination_carrier_sources_total", account=MESSAGES, source="hlr") == 1
        assert destinations(scrape, MESSAGES) == {("RU", "MegaFon", "delivered"): 1}
    finally:
        restarted.stop()


def test_an_answer_reads_back_as_written_and_anything_else_is_refused_with_a_bounded_reason() -> None:
    answer = (0x00FF_0000_0000_00AB, "MegaFon", 1_740_981_600_000_000_000)
    key, value = answer_record(answer)
    assert key == b"00ff0000000000ab"
    assert value == b'{"carrier":"MegaFon","answered_at_ns":1740981600000000000}'
    assert read_answer(key, value) == answer
    assert read_answer(*answer_record((phone_digest(PORTED), "T2", 0))) == (phone_digest(PORTED), "T2", 0)
    refused = {
        (key, None): "tombstone",
        (None, value): "key",
        (b"ab", value): "key",
        (b"zz00000000000000", value): "key",
        (b"\xff" * 16, value): "key",
        (b"-00000000000000f", value): "key",
        (b"+00000000000000f", value): "key",
        (b" 00000000000000f", value): "key",
        (b"0000_0000_000000", value): "key",
        (b"00000000000000ab\n", value): "key",
        (key, b"{"): "value",
        (key, b"\xff"): "value",
        (key, b"[]"): "value",
        (key, b'{"carrier":"","answered_at_ns":1}'): "value",
        (key, b'{"carrier":7,"answered_at_ns":1}'): "value",
        (key, b'{"carrier":"MTS","answered_at_ns":1.5}'): "value",
        (key, b'{"carrier":"MTS","answered_at_ns":true}'): "value",
        (key, b'{"carrier":"MTS","answered_at_ns":-1}'): "value",
        (key, b'{"carrier":"MTS"}'): "value",
    }
    for (bad_key, bad_value), reason in refused.items():
        with pytest.raises(UnreadableAnswerError) as raised:
            read_answer(bad_key, bad_value)
        assert raised.value.reason == reason, (bad_key, bad_value)


def test_the_newest_answer_wins_whatever_order_the_topic_gives_them_in() -> None:
    memory = HlrMemory(retention_ns=30 * 86400 * NS, max_numbers=100)
    sharing = HlrSharing("127.0.0.1:1", "hlr.unused", memory, client_id="test")
    digest = phone_digest(PORTED)
    newer, older = answer_record((digest, "MegaFon", 2 * NS)), answer_record((digest, "Beeline", NS))
    for key, value in (newer, older, (b"bad", b"{}"), (key_of(digest), b"{")):
        sharing.apply(key, value)
    assert memory.carrier_of(digest) == "MegaFon"
    assert (len(memory), len(sharing)) == (1, 1)
    assert sharing.skipped_counts() == {"key": 1, "value": 1}


def key_of(digest: int) -> bytes:
    return answer_record((digest, "any", 0))[0]
