"""The publisher against the real broker: every acknowledged record is stored once, in the partition the Java
client's partitioner would choose (aiokafka's DefaultPartitioner, an independent implementation, is the
oracle), the records of one key keep their order, and delivery reports reach the event loop in batches."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TypeVarTuple

import pytest
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka.admin import AdminClient

from embedded_broker import EmbeddedBroker
from embedded_broker.broker import free_port
from ingest.errors import PublishError
from ingest.publisher import KafkaPublisher
from ingest.settings import IngestSettings
from tests.integration.ingest.conftest import consume, ingest_settings

pytestmark = pytest.mark.integration

_Ts = TypeVarTuple("_Ts")

KEYS = [f"{n}:7999000{n:04d}".encode() for n in range(37)]


async def connected(settings: IngestSettings) -> KafkaPublisher:
    publisher = KafkaPublisher(settings)
    await publisher.start()
    deadline = time.monotonic() + 15
    while not await publisher.ready():
        assert time.monotonic() < deadline, "the publisher did not connect within 15 s"
        await asyncio.sleep(0.05)
    return publisher


async def read_all(bootstrap: str, topic: str, count: int) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """Every record of the topic by partition, in offset order; waits (bounded) until `count` arrived."""
    stored: dict[int, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    for record in await consume(bootstrap, topic, count):
        stored[record.partition].append((record.key, record.value or b""))
    return stored


def test_acknowledged_records_are_stored_by_key_in_order(kafka_bootstrap: str, topic_name: str) -> None:
    settings = ingest_settings(kafka_bootstrap, topic_name)
    topic = settings.raw_topic
    total = 3000

    async def scenario() -> tuple[list[int], dict[int, list[tuple[bytes | None, bytes]]]]:
        publisher = await connected(settings)
        try:
            # Arrivals of many requests at once, in waves: records share batches and produce requests.
            for wave in range(0, total, 300):
                acks = [
                    publisher.publish(topic, KEYS[n % len(KEYS)], str(n).encode(), [("n", str(n).encode())])
                    for n in range(wave, wave + 300)
                ]
                await asyncio.wait_for(asyncio.gather(*acks), 20)
            partitions = sorted(topic_partitions(kafka_bootstrap, topic))
        finally:
            await publisher.close()
        return partitions, await read_all(kafka_bootstrap, topic, total)

    partitions, stored = asyncio.run(scenario())
    assert len(partitions) > 1  # else "the partition aiokafka would choose" proves nothing
    assert sum(map(len, stored.values())) == total  # each acknowledged record exactly once
    by_key: dict[bytes | None, list[int]] = defaultdict(list)
    for partition, records in stored.items():
        for key, value in records:
            assert partition == DefaultPartitioner()(key, partitions, partitions)
            by_key[key].append(int(value))
    for key, values in by_key.items():
        assert values == sorted(values), f"the records of {key!r} are out of order"


def topic_partitions(bootstrap: str, topic: str) -> set[int]:
    """The topic's partitions as a separate client sees them (not through the publisher under test)."""
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return set(metadata.topics[topic].partitions)


def test_batches_larger_than_the_batch_limit_are_split_and_kept_in_order(
    kafka_bootstrap: str, topic_name: str
) -> None:
    settings = ingest_settings(kafka_bootstrap, topic_name, producer_max_batch_bytes=16 * 1024)
    topic = settings.raw_topic
    values = [str(n).encode().ljust(3000, b".") for n in range(60)]  # ~180 KB for one key

    async def scenario() -> dict[int, list[tuple[bytes | None, bytes]]]:
        publisher = await connected(settings)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(publisher.publish(topic, b"k", v, []) for v in values)), 20
            )
        finally:
            await publisher.close()
        return await read_all(kafka_bootstrap, topic, len(values))

    stored = asyncio.run(scenario())
    (records,) = [records for records in stored.values() if records]
    assert [value for _, value in records] == values


def test_null_keys_are_spread_and_stored(kafka_bootstrap: str, topic_name: str) -> None:
    settings = ingest_settings(kafka_bootstrap, topic_name)
    topic = settings.rejected_topic

    async def scenario() -> dict[int, list[tuple[bytes | None, bytes]]]:
        publisher = await connected(settings)
        try:
            acks = [publisher.publish(topic, None, str(n).encode(), []) for n in range(400)]
            await asyncio.wait_for(asyncio.gather(*acks), 20)
        finally:
            await publisher.close()
        return await read_all(kafka_bootstrap, topic, 400)

    stored = asyncio.run(scenario())
    assert sorted(int(value) for records in stored.values() for _, value in records) == list(range(400))
    assert sum(1 for records in stored.values() if records) > 1


def test_a_stopped_broker_fails_the_acks_instead_of_hanging(
    fresh_broker: EmbeddedBroker, topic_name: str
) -> None:
    settings = ingest_settings(fresh_broker.bootstrap_servers, topic_name)
    topic = settings.raw_topic

    async def scenario() -> list[BaseException | None]:
        publisher = await connected(settings)
        try:
            await asyncio.wait_for(publisher.publish(topic, b"k", b"before", []), 10)
            fresh_broker.stop()
            acks = [publisher.publish(topic, b"k", b"after", []) for _ in range(5)]
            return list(await asyncio.wait_for(asyncio.gather(*acks, return_exceptions=True), 30))
        finally:
            await publisher.close()

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, PublishError) for outcome in outcomes), outcomes


def test_records_of_a_new_topic_keep_their_order(kafka_bootstrap: str, topic_name: str) -> None:
    """The first records of a topic wait for its metadata (and its creation): they keep their order."""
    settings = ingest_settings(kafka_bootstrap, topic_name)
    topic = settings.raw_topic

    async def scenario() -> dict[int, list[tuple[bytes | None, bytes]]]:
        publisher = await connected(settings)
        try:
            acks = [publisher.publish(topic, b"k", str(n).encode(), []) for n in range(200)]
            await asyncio.wait_for(asyncio.gather(*acks), 20)
        finally:
            await publisher.close()
        return await read_all(kafka_bootstrap, topic, 200)

    (records,) = [records for records in asyncio.run(scenario()).values() if records]
    assert [int(value) for _, value in records] == list(range(200))


class CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that counts the callbacks other threads hand to it."""

    handed_over = 0

    def call_soon_threadsafe(
        self,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        self.handed_over += 1
        return super().call_soon_threadsafe(callback, *args, context=context)


def test_delivery_reports_reach_the_event_loop_in_batches(kafka_bootstrap: str, topic_name: str) -> None:
    settings = ingest_settings(kafka_bootstrap, topic_name)
    topic = settings.raw_topic
    loop = CountingLoop()

    async def scenario() -> int:
        publisher = await connected(settings)
        try:
            before = loop.handed_over
            acks = [publisher.publish(topic, KEYS[n % len(KEYS)], b"v", []) for n in range(2000)]
            await asyncio.wait_for(asyncio.gather(*acks), 20)
            return loop.handed_over - before
        finally:
            await publisher.close()

    try:
        hand_overs = loop.run_until_complete(scenario())
    finally:
        loop.close()
    # One hand-over per poll of the report thread, never one per record.
    assert 0 < hand_overs <= 200, hand_overs


def test_a_broker_down_at_start_means_503_until_it_is_up(topic_name: str) -> None:
    port = free_port()
    settings = ingest_settings(f"127.0.0.1:{port}", topic_name, deadline_seconds=1.0)
    topic = settings.raw_topic

    async def scenario() -> None:
        publisher = KafkaPublisher(settings)
        await publisher.start()  # returns at once: librdkafka connects in the background
        try:
            assert not await publisher.ready()
            # Not refused at once: the record waits for the broker, until its deadline.
            with pytest.raises(PublishError, match="timed out"):
                await asyncio.wait_for(publisher.publish(topic, b"k", b"early", []), 10)
            assert not await publisher.ready()
            with EmbeddedBroker(port=port):
                deadline = time.monotonic() + 20
                while not await publisher.ready():
                    assert time.monotonic() < deadline, "no connection within 20 s of the broker's start"
                    await asyncio.sleep(0.1)
                await asyncio.wait_for(publisher.publish(topic, b"k", b"stored", []), 20)
                await publisher.close()
        finally:
            await asyncio.wait_for(publisher.close(), 20)

    asyncio.run(scenario())


def test_closing_while_the_broker_is_still_down_returns_and_leaves_no_thread(topic_name: str) -> None:
    settings = ingest_settings(f"127.0.0.1:{free_port()}", topic_name, shutdown_timeout_seconds=1.0)

    async def scenario() -> asyncio.Future[None]:
        publisher = KafkaPublisher(settings)
        await publisher.start()
        waiting = publisher.publish(settings.raw_topic, b"k", b"never stored", [])
        await asyncio.sleep(0.3)  # a connection attempt is under way
        await asyncio.wait_for(publisher.close(), 10)
        return waiting

    threads_before = set(threading.enumerate())
    waiting = asyncio.run(scenario())
    assert isinstance(waiting.exception(), PublishError)  # failed, not left hanging
    deadline = time.monotonic() + 10
    while {t for t in threading.enumerate() if t.is_alive()} - threads_before:
        assert time.monotonic() < deadline, set(threading.enumerate()) - threads_before
        time.sleep(0.05)
