"""Writing records to Kafka and learning, per record, that the broker acknowledged it (acks=all).

aiokafka provides the connections (bootstrap, versions, SASL/SSL), the cluster metadata and the record
batch encoder (its C extension); the sending is ours. Measured on the ingest benchmark, aiokafka's own
sender (accumulator, sender routine, a handler and two timeouts per produce request) cost ~120 µs of CPU
per produce request on top of the request itself, and a request carries ~13 records under load: its
machinery alone was a third of what ingest spent per callback. Here each broker gets one `_NodeSender`:
records are appended to the open batch of their partition and wait on one plain future; one produce
request per broker is in flight at a time, carrying every batch that filled while the previous one was
on the wire (so a partition's records stay in order), and its response resolves the futures.

A write is never retried here: a record whose produce request failed, or whose outcome is unknown
(timeout, lost connection), fails its future, the request is answered 503 and SMSC sends the callback
again (the stream processors deduplicate). So the producer itself never writes a record twice, which
is what an idempotent producer protects against. Idempotence can still be switched on
(`SMSC_INGEST_PRODUCER_IDEMPOTENCE`) for brokers that fence by producer id: batches then carry a producer
id and per-partition sequence numbers, and any failed batch makes the next request take a new producer
id (the broker would otherwise refuse the gap in the sequence).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import DuplicateSequenceNumber, KafkaError, NoError, RequestTimedOutError, for_code
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.structs import TopicPartition

from ingest.errors import PublishError
from ingest.partitioner import choose_partition
from ingest.settings import IngestSettings

logger = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]

#: How long to wait between attempts to connect a producer whose broker was down at start.
_RECONNECT_SECONDS: Final = 1.0
#: A record waiting for its topic's metadata: key, value, headers and its request's future.
_Waiting = tuple[bytes | None, bytes, Headers, asyncio.Future[None]]
#: acks=all: the leader answers once every in-sync replica has the record.
_ACKS_ALL: Final = -1


class Publisher(Protocol):
    """What the app needs from a producer; tests may pass another implementation."""

    async def start(self) -> None: ...

    def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> asyncio.Future[None]:
        """A future resolved once the broker acknowledged the record, failed with `PublishError` when it
        will not be. The caller bounds the wait (a request past its deadline is answered 503)."""

    async def ready(self) -> bool: ...

    async def close(self) -> None:
        """Deliver what is queued (bounded by the shutdown timeout), then release the connection."""


def producer_config(settings: IngestSettings) -> dict[str, Any]:
    """aiokafka producer arguments: bounded waits, then the operator's extras. Durability (acks=all) and
    idempotence are applied by the publisher's own sender, not by aiokafka's."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": "smsc-ingest",
        "acks": "all",
        "request_timeout_ms": int(settings.producer_delivery_timeout_seconds * 1000),
        "max_batch_size": settings.producer_max_batch_bytes,
    }
    config.update({name: value.get_secret_value() for name, value in settings.producer_config.items()})
    config["enable_idempotence"] = False  # aiokafka's sender stays idle: see the module docstring
    return config


@dataclass(slots=True)
class _Route:
    """A topic's partitions as aiokafka's partitioner sees them, and each one's leader."""

    partitions: list[int]
    available: list[int]
    leaders: dict[int, int]


@dataclass(slots=True)
class _Identity:
    """The producer id of an idempotent producer and the next sequence number of each partition."""

    producer_id: int = -1
    epoch: int = -1
    sequences: dict[tuple[str, int], int] = field(default_factory=dict)
    stale: bool = True  # take a (new) producer id before the next produce request


class KafkaPublisher:
    """One aiokafka client for the process. A broker that is down at start is retried in the background:
    /readyz fails and callbacks get 503 until it is up, instead of a crash loop."""

    def __init__(self, settings: IngestSettings) -> None:
        self._config = producer_config(settings)
        self._idempotent = settings.producer_idempotence
        self._linger_seconds = settings.producer_linger_ms / 1000
        # An int once: an operator's extra `request_timeout_ms` arrives as a string.
        self._timeout_ms = int(self._config["request_timeout_ms"])
        self._readiness_timeout = settings.readiness_timeout_seconds
        self._flush_timeout = settings.shutdown_timeout_seconds
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._routes: dict[str, _Route] = {}
        self._senders: dict[int, _NodeSender] = {}
        self._identity = _Identity()
        self._renewing: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Records of a topic whose metadata is not known yet, in arrival order (see publish()).
        self._awaiting_metadata: dict[str, list[_Waiting]] = {}
        # The sender that last took records of each partition (see publish()).
        self._owners: dict[tuple[str, int], _NodeSender] = {}

    async def start(self) -> None:
        self._connecting = asyncio.create_task(self._connect(), name="kafka-producer-connect")

    async def _connect(self) -> None:
        while True:
            producer = AIOKafkaProducer(**self._config)
            try:
                await producer.start()
                if self._idempotent:
                    await self._renew_identity(producer)
            except (KafkaError, PublishError) as exc:
                await producer.stop()
                logger.warning("kafka producer cannot start error=%s; retrying", exc)
                await asyncio.sleep(_RECONNECT_SECONDS)
                continue
            except asyncio.CancelledError:
                await producer.stop()  # closed while the broker was still unreachable
                raise
            producer.client.cluster.add_listener(self._forget_routes)
            self._producer = producer
            self._routes = {}
            self._senders = {}
            logger.info("kafka producer connected bootstrap=%s", self._config["bootstrap_servers"])
            return

    def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> asyncio.Future[None]:
        producer = self._producer
        if producer is None:
            return _failed(PublishError("the producer is not connected to the broker yet", topic=topic))
        route = self._routes.get(topic)
        if route is None:
            awaiting = self._awaiting_metadata.get(topic)
            if awaiting is not None:  # after the records already waiting, so that a key's order holds
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                awaiting.append((key, value, headers, waiter))
                return waiter
            route = self._route(producer.client.cluster, topic)
            if route is None:  # the first record of a topic: its metadata first
                return self._publish_after_metadata(producer, topic, key, value, headers)
        if not route.partitions:
            producer.client.force_metadata_update()
            return _failed(PublishError("the topic has no partitions", topic=topic))
        partition = choose_partition(key, route.partitions, route.available)
        leader = route.leaders.get(partition)
        if leader is None:
            producer.client.force_metadata_update()
            return _failed(PublishError(f"partition {partition} has no leader", topic=topic))
        sender = self._senders.get(leader)
        if sender is None:
            sender = self._senders[leader] = _NodeSender(self, producer, leader)
        owner = self._owners.get((topic, partition))
        if owner is not sender:
            if owner is not None and owner.holds(topic, partition):
                # A new leader while the old one's sender still holds records of this partition: two
                # senders of one partition could store its records out of order. SMSC sends again.
                return _failed(PublishError(f"partition {partition} changed leader", topic=topic))
            self._owners[topic, partition] = sender
        return sender.append(topic, partition, key, value, headers)

    def _publish_after_metadata(
        self, producer: AIOKafkaProducer, topic: str, key: bytes | None, value: bytes, headers: Headers
    ) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        awaiting = self._awaiting_metadata[topic] = [(key, value, headers, waiter)]

        async def publish_when_known() -> None:
            failure = None
            try:
                await producer.partitions_for(topic)
            except KafkaError as exc:
                failure = str(exc)
            # Every record that waited, in arrival order, in one go: nothing can come between them.
            del self._awaiting_metadata[topic]
            for key_, value_, headers_, waiting in awaiting:
                if waiting.done():
                    continue
                if failure is not None:
                    waiting.set_exception(PublishError(failure, topic=topic))
                else:
                    _chain(self.publish(topic, key_, value_, headers_), waiting)

        task = loop.create_task(publish_when_known())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return waiter

    def _route(self, cluster: ClusterMetadata, topic: str) -> _Route | None:
        partitions = cluster.partitions_for_topic(topic)
        if partitions is None:
            return None
        leaders = {}
        for partition in partitions:
            leader = cluster.leader_for_partition(TopicPartition(topic, partition))
            if leader is not None and leader >= 0:
                leaders[partition] = leader
        # In aiokafka's order (list of its set), so that the partitioner picks what send() would pick.
        route = _Route(list(partitions), list(cluster.available_partitions_for_topic(topic)), leaders)
        self._routes[topic] = route
        return route

    def _forget_routes(self, _cluster: ClusterMetadata) -> None:
        """Metadata changed (a new leader, new partitions): routes are rebuilt on the next record."""
        self._routes = {}

    async def _renew_identity(self, producer: AIOKafkaProducer) -> None:
        """A new producer id; sequence numbers start again at 0 (idempotent producers only)."""
        client = producer.client
        request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=self._timeout_ms)
        try:
            response = await client.send(client.get_random_node(), request)
        except KafkaError as exc:
            raise PublishError(f"InitProducerId failed: {exc}", topic="-") from None
        error = for_code(response.error_code)
        if error is not NoError:
            raise PublishError(
                f"the broker refused a producer id ({error.__name__}); does it support idempotent "
                "producers? SMSC_INGEST_PRODUCER_IDEMPOTENCE=false turns idempotence off",
                topic="-",
            )
        self._identity = _Identity(response.producer_id, response.producer_epoch, {}, stale=False)

    async def identity(self, producer: AIOKafkaProducer) -> _Identity:
        """The current producer id, renewed first when a failed batch made it stale (one renewal at a
        time, shared by every broker's sender)."""
        if self._identity.stale:
            if self._renewing is None:
                self._renewing = asyncio.get_running_loop().create_future()
                try:
                    await self._renew_identity(producer)
                finally:
                    renewing, self._renewing = self._renewing, None
                    renewing.set_result(None)
            else:
                await asyncio.shield(self._renewing)
            if self._identity.stale:
                raise PublishError("no producer id", topic="-")
        return self._identity

    def request_failed(self) -> None:
        """A produce request failed in a way nobody classified: start again with a new producer id."""
        self._identity.stale = True

    @property
    def idempotent(self) -> bool:
        return self._idempotent

    @property
    def linger_seconds(self) -> float:
        return self._linger_seconds

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    async def ready(self) -> bool:
        """The broker answers a metadata request in time."""
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(self._readiness_timeout):
                await producer.client.fetch_all_metadata()
        except (TimeoutError, KafkaError):
            return False
        return True

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        for task in self._background:
            task.cancel()  # records still waiting for metadata: their requests are over by now
        producer, self._producer = self._producer, None
        if producer is None:
            return
        sending = [sender.task for sender in self._senders.values() if sender.task is not None]
        try:
            async with asyncio.timeout(self._flush_timeout):
                # Every open batch is sent by its broker's sender before the sender stops.
                await asyncio.gather(*sending, return_exceptions=True)
        except TimeoutError:
            logger.error(
                "producer did not flush within %ss; unacknowledged records were answered 503",
                self._flush_timeout,
            )
        else:
            logger.info("producer flushed and closed")
        await producer.stop()


@dataclass(slots=True)
class _Batch:
    builder: BatchBuilder
    waiters: list[asyncio.Future[None]]


class _NodeSender:
    """The records bound for one broker: one produce request in flight at a time, carrying the first open
    batch of every partition."""

    def __init__(self, publisher: KafkaPublisher, producer: AIOKafkaProducer, node_id: int) -> None:
        self._publisher = publisher
        self._producer = producer
        self._node_id = node_id
        self._open: dict[tuple[str, int], list[_Batch]] = {}
        self._in_flight: dict[tuple[str, int], _Batch] = {}
        self.task: asyncio.Task[None] | None = None

    def holds(self, topic: str, partition: int) -> bool:
        """Whether records of this partition are waiting here or on the wire."""
        return (topic, partition) in self._open or (topic, partition) in self._in_flight

    def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes, headers: Headers
    ) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        batches = self._open.get((topic, partition))
        if batches is None:
            batches = self._open[topic, partition] = []
        last = batches[-1].builder if batches else None
        if last is None or last.append(timestamp=None, key=key, value=value, headers=headers) is None:
            # No open batch, or the open one is full (max_batch_size): a new one, where any record fits.
            builder = self._producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=headers)  # the first always fits
            batches.append(_Batch(builder, []))
        waiter: asyncio.Future[None] = loop.create_future()
        batches[-1].waiters.append(waiter)
        if self.task is None:
            # Started now, it first runs after the requests already parsed in this loop iteration have
            # appended their records: they share the first produce request.
            self.task = loop.create_task(self._run())
        return waiter

    async def _run(self) -> None:
        try:
            while self._open:
                if self._publisher.linger_seconds:
                    await asyncio.sleep(self._publisher.linger_seconds)
                self._in_flight = self._take()
                try:
                    await self._send(self._in_flight)
                except Exception as exc:  # a bug here must cost 503s, not hung requests or a dead sender
                    logger.exception("produce request failed unexpectedly")
                    self._publisher.request_failed()
                    for (topic, _), batch in self._in_flight.items():
                        _fail(batch.waiters, f"internal error: {exc!r}", topic)
                finally:
                    self._in_flight = {}
        except BaseException:
            # Cancelled (a shutdown past its timeout): nobody will send these any more.
            for batches in self._open.values():
                for batch in batches:
                    _fail(batch.waiters, "the producer is closing", "-")
            self._open.clear()
            raise
        finally:
            self.task = None

    def _take(self) -> dict[tuple[str, int], _Batch]:
        """The first open batch of each partition; a batch nobody waits for any more (every request past
        its deadline, answered 503) is dropped: SMSC sends those callbacks again."""
        taken: dict[tuple[str, int], _Batch] = {}
        for tp, batches in list(self._open.items()):
            batch = batches.pop(0)
            if not batches:
                del self._open[tp]
            if not all(waiter.done() for waiter in batch.waiters):
                taken[tp] = batch
        return taken

    async def _send(self, batches: dict[tuple[str, int], _Batch]) -> None:
        if not batches:
            return
        publisher = self._publisher
        identity = None
        if publisher.idempotent:
            try:
                identity = await publisher.identity(self._producer)
            except PublishError as exc:
                for batch in batches.values():
                    _fail(batch.waiters, exc.reason, "-")
                return
            for tp, batch in batches.items():
                sequence = identity.sequences.get(tp, 0)
                batch.builder._set_producer_state(identity.producer_id, identity.epoch, sequence)
                # Kafka's sequence numbers are 31-bit and wrap to 0 (Integer.MAX_VALUE + 1).
                identity.sequences[tp] = (sequence + len(batch.waiters)) & 0x7FFFFFFF
        topics: dict[str, list[tuple[int, bytes]]] = {}
        for (topic, partition), batch in batches.items():
            topics.setdefault(topic, []).append((partition, batch.builder._build()))
        request = ProduceRequest(
            transactional_id=None,
            required_acks=_ACKS_ALL,
            timeout=publisher.timeout_ms,
            topics=list(topics.items()),
        )
        client = self._producer.client
        try:
            response = await client.send(self._node_id, request)
        except KafkaError as exc:
            # Not sent, or sent with an unknown outcome: either way SMSC sends the callback again.
            if not isinstance(exc, RequestTimedOutError):
                client.force_metadata_update()  # the broker went away: where are the partitions now?
            if identity is not None:
                identity.stale = True
            for (topic, _), batch in batches.items():
                _fail(batch.waiters, str(exc) or type(exc).__name__, topic)
            return
        for topic, partitions in response.topics:
            for answer in partitions:
                answered = batches.pop((topic, answer[0]), None)
                if answered is None:
                    continue
                error = for_code(answer[1])
                if error is NoError or (error is DuplicateSequenceNumber and identity is not None):
                    for waiter in answered.waiters:
                        if not waiter.done():  # a request past its deadline was answered 503 already
                            waiter.set_result(None)
                    continue
                if getattr(error, "invalid_metadata", False):
                    client.force_metadata_update()  # a new leader: the next records go there
                if identity is not None:
                    identity.stale = True
                _fail(answered.waiters, error.__name__, topic)
        for (topic, _), unanswered in batches.items():  # partitions the response did not mention
            _fail(unanswered.waiters, "no answer for the partition", topic)


def _failed(error: PublishError) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


def _chain(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    def copy(done: asyncio.Future[None]) -> None:
        if target.done():  # its request gave up (deadline): only mark the outcome as seen
            if not done.cancelled():
                done.exception()
            return
        if done.cancelled():
            target.cancel()
        elif (exc := done.exception()) is not None:
            target.set_exception(exc)
        else:
            target.set_result(None)

    source.add_done_callback(copy)


def _fail(waiters: list[asyncio.Future[None]], reason: str, topic: str) -> None:
    for waiter in waiters:
        if not waiter.done():
            # One exception each: raised in many tasks, a shared one would pile up their tracebacks.
            waiter.set_exception(PublishError(reason, topic=topic))
