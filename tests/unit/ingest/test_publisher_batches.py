"""The publisher's batches: records of one tick share a batch, order is kept, every failure reaches its
requests as PublishError (which the app answers 503)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from ingest.errors import PublishError
from ingest.publisher import _PartitionQueue


class FakeBatch:
    def __init__(self, capacity: int) -> None:
        self.records: list[bytes] = []
        self.capacity = capacity

    def append(self, *, timestamp: None, key: bytes | None, value: bytes, headers: Any) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append(value)
        return object()


class FakeProducer:
    """send_batch as aiokafka's: waits while the previous batch is not taken, returns the batch's future."""

    def __init__(self, capacity: int = 100, refuse: bool = False) -> None:
        self.capacity = capacity
        self.refuse = refuse
        self.sent: list[tuple[list[bytes], asyncio.Future[None]]] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        await asyncio.sleep(0)
        if self.refuse:
            raise KafkaTimeoutError()
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((batch.records, delivery))
        return delivery


def test_records_of_one_tick_share_one_batch_and_one_ack() -> None:
    async def scenario() -> None:
        producer = FakeProducer()
        queue = _PartitionQueue(producer, "t", 0)
        waiters = [queue.append(None, str(n).encode(), []) for n in range(5)]
        await asyncio.sleep(0.01)
        assert [records for records, _ in producer.sent] == [[b"0", b"1", b"2", b"3", b"4"]]
        assert not any(waiter.done() for waiter in waiters)  # no answer before the ack
        producer.sent[0][1].set_result(None)
        await asyncio.gather(*waiters)

    asyncio.run(scenario())


def test_full_batches_are_handed_over_in_order() -> None:
    async def scenario() -> None:
        producer = FakeProducer(capacity=2)
        queue = _PartitionQueue(producer, "t", 0)
        waiters = [queue.append(None, str(n).encode(), []) for n in range(5)]
        await asyncio.sleep(0.01)
        assert [records for records, _ in producer.sent] == [[b"0", b"1"], [b"2", b"3"], [b"4"]]
        producer.sent[1][1].set_exception(KafkaTimeoutError())
        producer.sent[0][1].set_result(None)
        producer.sent[2][1].set_result(None)
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert [type(result) for result in results] == [
            type(None),
            type(None),
            PublishError,
            PublishError,
            type(None),
        ]

    asyncio.run(scenario())


def test_a_batch_the_producer_refuses_fails_its_requests() -> None:
    async def scenario() -> None:
        queue = _PartitionQueue(FakeProducer(refuse=True), "t", 0)
        with pytest.raises(PublishError):
            await queue.append(b"k", b"v", [])
        assert queue.task is None  # the next record starts a new hand-over

    asyncio.run(scenario())


def test_a_request_that_gave_up_does_not_disturb_the_others() -> None:
    async def scenario() -> None:
        producer = FakeProducer()
        queue = _PartitionQueue(producer, "t", 0)
        waiters = [queue.append(None, b"v", []) for _ in range(3)]
        waiters[1].cancel()  # its request passed its deadline
        await asyncio.sleep(0.01)
        producer.sent[0][1].set_result(None)
        await waiters[0]
        await waiters[2]

    asyncio.run(scenario())
