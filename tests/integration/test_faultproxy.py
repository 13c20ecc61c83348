"""The fault proxy carries real Kafka clients' traffic and its cut, stall and refuse faults reach them."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import confluent_kafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, RequestTimedOutError
from aiokafka.structs import TopicPartition
from confluent_kafka.admin import AdminClient

from tests.faultproxy import FaultProxy, FaultProxyError, ProxiedBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _read_all(bootstrap: str, topic: str, timeout_seconds: float = 15.0) -> list[bytes]:
    """Every value in `topic`, up to the end offsets as they are now (all partitions, no group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        await consumer.topics()  # metadata for every topic, so the partitions below are known
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_seconds
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            assert time.monotonic() < deadline, f"read {len(values)} values of {topic}, end offsets {end}"
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                values.extend(record.value for record in records if record.value is not None)
    finally:
        await consumer.stop()
    return values


def read_all(bootstrap: str, topic: str) -> list[bytes]:
    """The values of every partition of `topic`; partitions interleave, so compare them sorted."""
    return asyncio.run(asyncio.wait_for(_read_all(bootstrap, topic), 30))


def _digest(value: bytes) -> str:
    return f"{value[:5]!r}:{hashlib.sha256(value).hexdigest()[:16]}"


class Deliveries:
    """confluent-kafka delivery reports: value → error (None when the broker acknowledged it)."""

    def __init__(self) -> None:
        self.reports: dict[bytes, confluent_kafka.KafkaError | None] = {}

    def __call__(self, error: confluent_kafka.KafkaError | None, message: confluent_kafka.Message) -> None:
        value = message.value()
        assert isinstance(value, bytes)
        self.reports[value] = error


@contextmanager
def confluent_producer(bootstrap: str, **config: str | int | bool) -> Iterator[confluent_kafka.Producer]:
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # Reconnect quickly after a fault instead of backing off up to the 10 s default.
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500,
            **config,
        }
    )
    try:
        yield producer
    finally:
        producer.purge()  # close() flushes without a bound: leave it nothing to flush
        producer.close()  # now, not whenever the garbage collector gets to it


def test_the_broker_advertises_the_proxy_so_clients_never_bypass_it(
    proxied_broker: ProxiedBroker,
) -> None:
    proxy, broker = proxied_broker.proxy, proxied_broker.broker
    assert proxied_broker.bootstrap_servers == proxy.address == broker.bootstrap_servers
    assert broker.listen_address != proxy.address
    with AdminClient({"bootstrap.servers": broker.listen_address}) as admin:  # even asked directly...
        metadata = admin.list_topics(timeout=10)
    assert [f"{b.host}:{b.port}" for b in metadata.brokers.values()] == [proxy.address]


def test_aiokafka_round_trip_passes_through_the_proxy(proxied_broker: ProxiedBroker, topic_name: str) -> None:
    values = [f"{i:04d}-".encode() + uuid.uuid4().bytes * 640 for i in range(20)]  # 10 KB each

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=proxied_broker.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(topic_name, value)
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(produce(), 30))
    stored = read_all(proxied_broker.bootstrap_servers, topic_name)
    # Digests: a failure report of 200 KB of bytes would drown the difference.
    assert sorted(map(_digest, stored)) == sorted(map(_digest, values))

    stats = proxied_broker.proxy.stats()
    payload = sum(len(value) for value in values)
    assert stats.accepted > 0
    # The records themselves crossed the proxy both ways: produce requests, then fetch responses.
    assert stats.bytes_to_upstream >= payload
    assert stats.bytes_to_client >= payload


def test_refuse_fails_clients_and_heal_lets_them_through(
    proxied_broker: ProxiedBroker, topic_name: str
) -> None:
    proxy, bootstrap = proxied_broker.proxy, proxied_broker.bootstrap_servers
    deliveries = Deliveries()
    # Tansu fences an idempotent producer whose message timed out (librdkafka then bumps the epoch
    # itself, which Tansu rejects with PRODUCER_FENCED), so the timeout is shown on a plain producer.
    with (
        confluent_producer(bootstrap) as idempotent,
        confluent_producer(bootstrap, **{"enable.idempotence": False, "message.timeout.ms": 2000}) as plain,
    ):
        idempotent.produce(topic_name, b"before", on_delivery=deliveries)
        plain.produce(topic_name, b"plain-before", on_delivery=deliveries)
        assert (idempotent.flush(15), plain.flush(15)) == (0, 0)
        assert proxy.stats().open > 0

        assert proxy.refuse() > 0
        idempotent.produce(topic_name, b"queued", on_delivery=deliveries)
        plain.produce(topic_name, b"timed-out", on_delivery=deliveries)
        assert plain.flush(15) == 0  # its delivery report: an error
        assert idempotent.flush(0.5) == 1  # refused: it cannot be delivered, however long it waits

        async def bootstrap_while_refused() -> None:
            late = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            with pytest.raises(KafkaConnectionError):
                await late.start()
            await late.stop()

        asyncio.run(asyncio.wait_for(bootstrap_while_refused(), 15))
        assert proxy.stats().refused > 0

        proxy.heal()
        plain.produce(topic_name, b"after", on_delivery=deliveries)
        assert (idempotent.flush(15), plain.flush(15)) == (0, 0)

    timed_out = deliveries.reports.pop(b"timed-out")
    assert timed_out is not None
    assert timed_out.code() == confluent_kafka.KafkaError._MSG_TIMED_OUT
    assert deliveries.reports == dict.fromkeys([b"before", b"plain-before", b"queued", b"after"])
    assert sorted(read_all(bootstrap, topic_name)) == [b"after", b"before", b"plain-before", b"queued"]


def test_an_idempotent_producer_recovers_from_a_cut_without_loss_or_duplicates(
    proxied_broker: ProxiedBroker, topic_name: str
) -> None:
    proxy = proxied_broker.proxy
    deliveries = Deliveries()
    values = [f"record-{i:05d}".encode() for i in range(3000)]
    cut = 0
    with confluent_producer(proxied_broker.bootstrap_servers) as producer:
        for i, value in enumerate(values):
            producer.produce(topic_name, value, on_delivery=deliveries)
            producer.poll(0)
            if i in (1000, 2000):
                proxy.wait_for(lambda s: s.open > 0)
                cut += proxy.cut()
        assert producer.flush(20) == 0

    assert cut >= 2
    assert proxy.stats().cut == cut
    assert {value: error for value, error in deliveries.reports.items() if error is not None} == {}
    assert len(deliveries.reports) == len(values)
    stored = collections.Counter(read_all(proxied_broker.bootstrap_servers, topic_name))
    assert stored == collections.Counter(values)


def test_a_stall_times_requests_out_and_heal_restores_service(
    proxied_broker: ProxiedBroker, topic_name: str
) -> None:
    proxy, bootstrap = proxied_broker.proxy, proxied_broker.bootstrap_servers

    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=2000)
        await producer.start()
        try:
            await producer.send_and_wait(topic_name, b"before")
            proxy.stall()
            stalled = asyncio.create_task(producer.send_and_wait(topic_name, b"stalled"))
            await proxy.wait_for_async(lambda s: s.held_to_upstream > 0)  # the request is caught
            with pytest.raises((KafkaTimeoutError, RequestTimedOutError)):
                await stalled
        finally:
            await producer.stop()
        # The client gave up and closed its connections: the proxy dropped the held request.
        stats = await proxy.wait_for_async(lambda s: s.open == 0)
        assert stats.held_to_upstream == 0
        assert stats.dropped_bytes > 0

        proxy.heal()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=5000)
        await producer.start()
        try:
            await producer.send_and_wait(topic_name, b"after")
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert sorted(read_all(bootstrap, topic_name)) == [b"after", b"before"]


def test_a_response_stall_lets_the_broker_write_what_the_client_saw_time_out(
    proxied_broker: ProxiedBroker, topic_name: str
) -> None:
    proxy, bootstrap = proxied_broker.proxy, proxied_broker.bootstrap_servers

    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=2000)
        await producer.start()
        try:
            await producer.send_and_wait(topic_name, b"before")
            proxy.stall(to_upstream=False)
            ambiguous = asyncio.create_task(producer.send_and_wait(topic_name, b"ambiguous"))
            await proxy.wait_for_async(lambda s: s.held_to_client > 0)  # the broker answered
            with pytest.raises((KafkaTimeoutError, RequestTimedOutError)):
                await ambiguous
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    proxy.heal()
    stored = read_all(bootstrap, topic_name)
    assert b"before" in stored
    assert b"ambiguous" in stored  # written, though its producer was told it timed out


def test_held_bytes_are_delivered_in_order_by_heal() -> None:
    """A raw echo upstream: what a stall held arrives after heal, complete and in order."""

    async def scenario() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):  # cut() resets this side too
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with FaultProxy(("127.0.0.1", port)) as proxy:
                reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
                writer.write(b"one,")
                assert await reader.readexactly(4) == b"one,"
                proxy.stall()
                writer.write(b"two,three")
                await proxy.wait_for_async(lambda s: s.held_to_upstream == len(b"two,three"))
                proxy.heal()
                assert await reader.readexactly(9) == b"two,three"
                stats = proxy.stats()
                assert (stats.bytes_to_upstream, stats.bytes_to_client) == (13, 13)
                assert (stats.held_to_upstream, stats.dropped_bytes) == (0, 0)

                proxy.cut()
                with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
                    await reader.readexactly(1)
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            with pytest.raises(FaultProxyError, match="not running"):
                proxy.cut()
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_stop_closes_the_port_and_ends_the_thread() -> None:
    threads = set(threading.enumerate())
    proxy = FaultProxy(("127.0.0.1", 9)).start()  # upstream unused: nothing connects
    address = (proxy.host, proxy.port)
    assert len(set(threading.enumerate()) - threads) == 1
    proxy.stop(timeout_seconds=5)
    proxy.stop()  # idempotent
    assert set(threading.enumerate()) - threads == set()
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(asyncio.wait_for(asyncio.open_connection(*address), 5))


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FaultProxyError, match=f"cannot listen on 127.0.0.1:{port}"):
            FaultProxy(("127.0.0.1", 9), port=port).start()
