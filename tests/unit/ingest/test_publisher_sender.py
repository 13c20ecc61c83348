"""The publisher's sender against a broker the test scripts: what goes into each produce request, and
what each answer does to the requests waiting on it. The real broker is in tests/integration/ingest; this
fake stands in for what the embedded broker cannot do (it has no InitProducerId, so no idempotence) and
for answers a healthy broker never gives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaConnectionError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.record.default_records import DefaultRecordBatch

from ingest.errors import PublishError
from ingest.publisher import KafkaPublisher, _NodeSender
from ingest.settings import IngestSettings

NO_ERROR = 0
NOT_LEADER_FOR_PARTITION = 6
NOT_ENOUGH_REPLICAS = 19
DUPLICATE_SEQUENCE_NUMBER = 46


@dataclass
class Sent:
    """One produce request as the broker would read it: per partition, its batch's producer state."""

    batches: dict[tuple[str, int], DefaultRecordBatch]
    node_id: int = 0

    def values(self, topic: str, partition: int) -> list[bytes]:
        return [record.value for record in self.batches[topic, partition]]


@dataclass
class ScriptedClient:
    """Answers produce requests with `error_for(topic, partition)`; InitProducerId with ids 100, 101, ..."""

    error_for: Callable[[str, int], int] = lambda topic, partition: NO_ERROR
    fail_with: Exception | None = None
    sent: list[Sent] = field(default_factory=list)
    producer_ids: int = 0
    metadata_updates: int = 0
    gate: asyncio.Event | None = None  # produce requests wait for it when set
    cluster: Any = None

    async def send(self, node_id: int, request: Any) -> Any:
        await asyncio.sleep(0)
        if self.gate is not None and isinstance(request, ProduceRequest):
            await self.gate.wait()
        if isinstance(request, InitProducerIdRequest):
            self.producer_ids += 1
            return _Response(error_code=0, producer_id=99 + self.producer_ids, producer_epoch=0)
        assert isinstance(request, ProduceRequest)
        assert request.required_acks == -1  # acks=all, always
        if self.fail_with is not None:
            raise self.fail_with
        batches = {
            (topic, partition): DefaultRecordBatch(bytes(data))
            for topic, partitions in request._topics
            for partition, data in partitions
        }
        self.sent.append(Sent(batches, node_id))
        return _Response(
            topics=[
                (topic, [(partition, self.error_for(topic, partition), 0, -1, 0)])
                for topic, partition in batches
            ]
        )

    def get_random_node(self) -> int:
        return 0

    def force_metadata_update(self) -> None:
        self.metadata_updates += 1


class _Response:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class ScriptedProducer:
    def __init__(self, client: ScriptedClient) -> None:
        self.client = client

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(16 * 1024, 0)


def sender(client: ScriptedClient, *, idempotent: bool) -> _NodeSender:
    settings = IngestSettings(kafka_bootstrap_servers="127.0.0.1:1", producer_idempotence=idempotent)
    return _NodeSender(KafkaPublisher(settings), ScriptedProducer(client), 0)


def publish(node: _NodeSender, partition: int, *values: bytes) -> list[asyncio.Future[None]]:
    return [node.append("t", partition, b"k", value, []) for value in values]


async def outcomes(futures: list[asyncio.Future[None]]) -> list[str]:
    # Bounded: a future nobody resolves fails the test instead of hanging it.
    results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 5)
    return ["acked" if result is None else f"failed: {result}" for result in results]


def test_records_appended_together_share_one_request_per_broker() -> None:
    async def scenario() -> None:
        client = ScriptedClient()
        node = sender(client, idempotent=False)
        futures = publish(node, 0, b"a", b"b") + publish(node, 1, b"c")
        assert not any(future.done() for future in futures)  # nothing is acked before the broker answers
        assert await outcomes(futures) == ["acked"] * 3
        assert len(client.sent) == 1
        assert client.sent[0].values("t", 0) == [b"a", b"b"]
        assert client.sent[0].values("t", 1) == [b"c"]
        assert client.sent[0].batches["t", 0].producer_id == -1  # not idempotent: no producer id
        assert client.producer_ids == 0

    asyncio.run(scenario())


def test_records_arriving_while_a_request_is_in_flight_go_in_the_next_one_in_order() -> None:
    async def scenario() -> None:
        client = ScriptedClient()
        node = sender(client, idempotent=False)
        first = publish(node, 0, b"1")
        await asyncio.sleep(0)  # the first request is on the wire now
        later = publish(node, 0, b"2", b"3")
        assert await outcomes(first + later) == ["acked"] * 3
        assert [sent.values("t", 0) for sent in client.sent] == [[b"1"], [b"2", b"3"]]

    asyncio.run(scenario())


def test_a_partition_error_fails_only_that_partitions_requests() -> None:
    async def scenario() -> None:
        client = ScriptedClient(error_for=lambda topic, p: NOT_LEADER_FOR_PARTITION if p == 1 else NO_ERROR)
        node = sender(client, idempotent=False)
        answers = await outcomes(publish(node, 0, b"a") + publish(node, 1, b"b"))
        assert answers == ["acked", "failed: t: NotLeaderForPartitionError"]
        assert client.metadata_updates == 1  # the next records go to the new leader

    asyncio.run(scenario())


def test_a_lost_connection_fails_every_request_of_the_produce_request() -> None:
    async def scenario() -> None:
        client = ScriptedClient(fail_with=KafkaConnectionError("connection reset"))
        node = sender(client, idempotent=False)
        answers = await outcomes(publish(node, 0, b"a") + publish(node, 1, b"b"))
        assert all(answer.startswith("failed: t: ") and "connection reset" in answer for answer in answers)
        assert node.task is None  # the next record starts a new request

    asyncio.run(scenario())


def test_a_batch_nobody_waits_for_any_more_is_not_sent() -> None:
    async def scenario() -> None:
        client = ScriptedClient()
        node = sender(client, idempotent=False)
        late = publish(node, 0, b"late")
        late[0].set_exception(PublishError("no ack within 5s", topic="t"))  # what the deadline does
        late[0].exception()
        kept = publish(node, 1, b"kept")
        assert await outcomes(kept) == ["acked"]
        assert [list(sent.batches) for sent in client.sent] == [[("t", 1)]]

    asyncio.run(scenario())


def test_idempotent_batches_carry_a_producer_id_and_consecutive_sequences() -> None:
    async def scenario() -> None:
        client = ScriptedClient()
        node = sender(client, idempotent=True)
        assert await outcomes(publish(node, 0, b"a", b"b", b"c") + publish(node, 1, b"x")) == ["acked"] * 4
        assert await outcomes(publish(node, 0, b"d", b"e")) == ["acked"] * 2
        states = [
            {tp: (batch.producer_id, batch.base_sequence) for tp, batch in sent.batches.items()}
            for sent in client.sent
        ]
        assert states == [{("t", 0): (100, 0), ("t", 1): (100, 0)}, {("t", 0): (100, 3)}]

    asyncio.run(scenario())


def test_after_a_failed_batch_an_idempotent_producer_starts_again_with_a_new_id() -> None:
    async def scenario() -> None:
        errors = iter([NO_ERROR, NOT_ENOUGH_REPLICAS, NO_ERROR])
        client = ScriptedClient(error_for=lambda topic, partition: next(errors))
        node = sender(client, idempotent=True)
        assert await outcomes(publish(node, 0, b"a")) == ["acked"]
        assert await outcomes(publish(node, 0, b"b")) == ["failed: t: NotEnoughReplicasError"]
        assert await outcomes(publish(node, 0, b"c")) == ["acked"]
        states = [
            (sent.batches["t", 0].producer_id, sent.batches["t", 0].base_sequence) for sent in client.sent
        ]
        # The broker may or may not hold "b": sequence 2 under id 100 could be refused as a gap, so the
        # next batch is the first of a new producer id.
        assert states == [(100, 0), (100, 1), (101, 0)]

    asyncio.run(scenario())


def test_a_duplicate_sequence_is_an_ack_for_an_idempotent_producer() -> None:
    async def scenario() -> None:
        client = ScriptedClient(error_for=lambda topic, partition: DUPLICATE_SEQUENCE_NUMBER)
        assert await outcomes(publish(sender(client, idempotent=True), 0, b"a")) == ["acked"]
        plain = ScriptedClient(error_for=lambda topic, partition: DUPLICATE_SEQUENCE_NUMBER)
        answers = await outcomes(publish(sender(plain, idempotent=False), 0, b"a"))
        assert answers == ["failed: t: DuplicateSequenceNumber"]

    asyncio.run(scenario())


def test_a_producer_id_the_broker_refuses_fails_the_requests_with_a_hint() -> None:
    class NoProducerIds(ScriptedClient):
        async def send(self, node_id: int, request: Any) -> Any:
            if isinstance(request, InitProducerIdRequest):
                return _Response(error_code=-1, producer_id=-1, producer_epoch=-1)
            return await super().send(node_id, request)

    async def scenario() -> None:
        client = NoProducerIds()
        (answer,) = await outcomes(publish(sender(client, idempotent=True), 0, b"a"))
        assert "SMSC_INGEST_PRODUCER_IDEMPOTENCE=false" in answer
        assert client.sent == []  # nothing was written without a producer id

    asyncio.run(scenario())


def test_sequence_numbers_wrap_at_31_bits_as_kafkas_do() -> None:
    async def scenario() -> None:
        client = ScriptedClient()
        node = sender(client, idempotent=True)
        assert await outcomes(publish(node, 0, b"a")) == ["acked"]
        node._publisher._identity.sequences["t", 0] = 2**31 - 2
        assert await outcomes(publish(node, 0, b"b", b"c", b"d")) == ["acked"] * 3
        assert await outcomes(publish(node, 0, b"e")) == ["acked"]
        assert [sent.batches["t", 0].base_sequence for sent in client.sent] == [0, 2**31 - 2, 1]

    asyncio.run(scenario())


def test_an_unexpected_error_fails_the_requests_and_keeps_the_sender_alive() -> None:
    async def scenario() -> None:
        client = ScriptedClient(fail_with=RuntimeError("a bug"))
        node = sender(client, idempotent=True)
        (answer,) = await outcomes(publish(node, 0, b"a"))
        assert answer.startswith("failed: t: internal error: RuntimeError")
        assert node._publisher._identity.stale  # a new producer id before the next request
        client.fail_with = None
        assert await outcomes(publish(node, 0, b"b")) == ["acked"]
        assert client.sent[-1].batches["t", 0].producer_id == 101

    asyncio.run(scenario())


class ScriptedCluster:
    """One topic `t` with one partition, whose leader the test moves."""

    def __init__(self) -> None:
        self.leader = 0

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def leader_for_partition(self, partition: Any) -> int:
        return self.leader

    def add_listener(self, listener: Any) -> None:
        pass


def test_a_partition_is_never_sent_by_two_brokers_senders_at_once() -> None:
    async def scenario() -> None:
        cluster = ScriptedCluster()
        client = ScriptedClient(gate=asyncio.Event(), cluster=cluster)
        settings = IngestSettings(kafka_bootstrap_servers="127.0.0.1:1")
        publisher = KafkaPublisher(settings)
        publisher._producer = ScriptedProducer(client)
        first = publisher.publish("t", b"k", b"a", [])
        await asyncio.sleep(0.01)  # on the wire to broker 0, which does not answer yet
        cluster.leader = 1
        publisher._forget_routes(cluster)
        # Broker 1 leads now, but broker 0 may still store "a": "b" must not overtake it.
        assert await outcomes([publisher.publish("t", b"k", b"b", [])]) == [
            "failed: t: partition 0 changed leader"
        ]
        assert client.gate is not None
        client.gate.set()
        assert await outcomes([first]) == ["acked"]
        assert await outcomes([publisher.publish("t", b"k", b"c", [])]) == ["acked"]  # broker 0 is done
        assert [(sent.node_id, sent.values("t", 0)) for sent in client.sent] == [(0, [b"a"]), (1, [b"c"])]

    asyncio.run(scenario())
