"""Writing records to Kafka through librdkafka (confluent-kafka) and learning, per record, that the broker
acknowledged it.

The producer is librdkafka's, configured for what ingest promises SMSC: `acks=all`, idempotence (the
broker fences duplicates and reordering from the producer's own retries), retries of retriable errors
(a leader change, a dropped or timed-out connection) for as long as the request's deadline lasts, and the
Java client's partitioner (`murmur2_random`: murmur2 of the key, as every other producer of the raw topic
computes it). librdkafka does its network I/O on its own threads; what it reports back (delivery
reports, errors, logs) is served by `poll()`. One thread of ours sits in `poll()`: it collects the
delivery reports of one poll into a list and hands the whole list to the event loop in one
`call_soon_threadsafe`, where the requests' futures are resolved. So there is no thread hop per record
and no busy polling: the thread sleeps in librdkafka until something happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Final, Protocol, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingest.errors import PublishError
from ingest.settings import IngestSettings

logger = logging.getLogger(__name__)
#: librdkafka's own log lines (connection details), served by poll(); quiet unless debugging.
librdkafka_logger = logging.getLogger("ingest.librdkafka")

#: A list, as librdkafka takes it (it refuses other sequences).
Headers = list[tuple[str, bytes]]
#: The same type as confluent-kafka declares it (a list is invariant, so ours needs a cast to pass).
_LibrdkafkaHeaders = list[tuple[str, str | bytes | None]]
#: A delivery report as the poll thread hands it over: the record's future, and why it failed (or None).
_Report = tuple[asyncio.Future[None], "PublishError | None"]

#: How long the poll thread sleeps in librdkafka when nothing happens (bounds how soon close() is seen).
_POLL_SECONDS: Final = 0.2
#: How long a replaced producer may still report acknowledgements already on their way.
_RENEW_GRACE_SECONDS: Final = 1.0
#: Per-record errors that mean the broker no longer accepts this producer's identity (see `_renew`).
_IDENTITY_REFUSED: Final = frozenset(
    {KafkaError.PRODUCER_FENCED, KafkaError.UNKNOWN_PRODUCER_ID, KafkaError.INVALID_PRODUCER_EPOCH}
)
#: librdkafka error codes that mean "the broker cannot be reached" rather than "this record failed"
#: (local errors are spelled with a leading underscore in confluent-kafka's documented KafkaError API).
_UNREACHABLE: Final = frozenset({KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE})
_UNREACHABLE_STATE: Final = -1


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
    """librdkafka properties: durability and ordering fixed, bounded waits, then the operator's extras
    (connection and security: `security.protocol`, `sasl.*`, `ssl.*`, `compression.type`, ...)."""
    deadline_ms = round(settings.deadline_seconds * 1000)
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": "smsc-ingest",
        # Measured on the ingest benchmark: with linger.ms=0 librdkafka's broker thread spent ~80 µs of
        # CPU per record (a wake-up and a produce request for nearly every record); a 1 ms linger and
        # one request in flight per broker batch what arrives meanwhile: 35 µs per record in all
        # (in-process on the floor app, 2026-12-02; benchmarks/README.md, ingest "Figures").
        "linger.ms": settings.producer_linger_ms,
        "max.in.flight.requests.per.connection": 1,
        "batch.size": settings.producer_max_batch_bytes,
        # A record is retried (librdkafka backs off and refreshes metadata by itself) until its request's
        # deadline; past it the request was answered 503, and a record stored later would only be a
        # duplicate of the callback SMSC sends again.
        "message.timeout.ms": deadline_ms,
        "request.timeout.ms": min(deadline_ms, 30_000),
        "retry.backoff.ms": 20,
        "retry.backoff.max.ms": 500,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 1000,
        "log.connection.close": False,
    }
    config.update({name: value.get_secret_value() for name, value in settings.producer_config.items()})
    # What ingest promises cannot be configured away.
    config.update(
        {
            "acks": "all",
            "enable.idempotence": settings.producer_idempotence,
            "partitioner": "murmur2_random",
        }
    )
    return config


class KafkaPublisher:
    """One librdkafka producer for the process, and the thread that serves its reports.

    librdkafka connects in the background and keeps reconnecting: a broker that is down at start (or
    later) costs 503s on /readyz and on callbacks until it is back, never a crash loop.
    """

    def __init__(self, settings: IngestSettings) -> None:
        self._config = producer_config(settings)
        self._readiness_timeout = settings.readiness_timeout_seconds
        self._flush_timeout = settings.shutdown_timeout_seconds
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._closing = threading.Event()
        self._closed: asyncio.Future[None] | None = None
        self._broker_state = _BrokerState()
        self._reports = _DeliveryReports(self._broker_state)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._closed = loop.create_future()
        self._producer = self._create()
        self._closing.clear()
        self._poller = threading.Thread(target=self._poll, args=(loop, self._closed), name="kafka-reports")
        self._poller.start()
        logger.info("kafka producer started bootstrap=%s", self._config["bootstrap.servers"])

    def _create(self) -> Producer:
        config = {**self._config, "error_cb": self._broker_state.error, "logger": librdkafka_logger}
        try:
            return Producer(config)
        except (KafkaException, ValueError, TypeError) as exc:  # a bad SMSC_INGEST_PRODUCER_CONFIG
            raise PublishError(f"cannot create the producer: {exc}", topic="-") from None

    def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> asyncio.Future[None]:
        loop = self._loop
        producer = self._producer
        if producer is None or loop is None:
            raise RuntimeError("publish() before start()")
        future: asyncio.Future[None] = loop.create_future()
        report = partial(self._reports.report, future)
        try:
            producer.produce(topic, value, key, headers=cast(_LibrdkafkaHeaders, headers), on_delivery=report)
        except BufferError:
            future.set_exception(PublishError("the producer's queue is full", topic=topic))
        except KafkaException as exc:
            future.set_exception(PublishError(_describe(exc.args[0]), topic=topic))
        return future

    def _poll(self, loop: asyncio.AbstractEventLoop, closed: asyncio.Future[None]) -> None:
        """The poll thread: delivery reports to the event loop, one hand-over per poll."""
        serve = self._reports.serve
        try:
            while not self._closing.is_set():
                producer = self._producer
                assert producer is not None
                serve(loop, producer.poll, _POLL_SECONDS)
                if self._broker_state.refused_identity and not self._closing.is_set():
                    self._renew(loop, producer)
            # Closing: the server has answered every request; deliver what is still queued.
            producer = self._producer
            assert producer is not None
            remaining = serve(loop, producer.flush, self._flush_timeout)
            if remaining:
                logger.error(
                    "producer did not flush within %ss records=%d; their callbacks were answered 503",
                    self._flush_timeout,
                    remaining,
                )
            self._discard(loop, producer)
            logger.info("producer closed")
        finally:
            loop.call_soon_threadsafe(_set_done, closed)

    def _renew(self, loop: asyncio.AbstractEventLoop, old: Producer) -> None:
        """Replace a producer whose identity the broker refuses by one with a new producer id.

        The idempotent producer's state can be lost or refused by the broker (PRODUCER_FENCED,
        UNKNOWN_PRODUCER_ID, a fatal error): then every further record of that producer fails. A new
        producer takes a new producer id; the old one's records are failed (their callbacks get 503, and
        SMSC sends them again) after a short grace for acknowledgements already on their way.
        """
        try:
            self._producer = self._create()
        except PublishError as exc:
            logger.error("kafka producer cannot be renewed error=%s", exc.reason)
            return
        self._broker_state.renewed()
        # A record produced on the old producer just before the swap is reported here too.
        self._reports.serve(loop, old.flush, _RENEW_GRACE_SECONDS)
        self._discard(loop, old)

    def _discard(self, loop: asyncio.AbstractEventLoop, producer: Producer) -> None:
        """Fail what `producer` still holds (its callbacks get 503) and release its threads and sockets."""
        producer.purge()
        self._reports.serve(loop, producer.poll, 0)
        producer.close()

    async def ready(self) -> bool:
        """The broker answers a metadata request in time."""
        producer = self._producer
        if producer is None:
            return False
        timeout = self._readiness_timeout
        try:
            # list_topics blocks: in a thread, so that the event loop keeps answering callbacks meanwhile.
            metadata = await asyncio.to_thread(producer.list_topics, None, timeout)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    async def close(self) -> None:
        poller, self._poller = self._poller, None
        if poller is None:
            return
        self._closing.set()
        assert self._closed is not None
        # The poll thread flushes (bounded by the shutdown timeout) and resolves every future it can.
        await asyncio.shield(self._closed)
        await asyncio.to_thread(poller.join, self._flush_timeout + 5)
        self._producer = None


class _DeliveryReports:
    """The delivery reports of the poll in progress. Only the poll thread fills and empties the list:
    librdkafka calls delivery callbacks from poll() and flush() alone, and only that thread calls them."""

    def __init__(self, state: _BrokerState) -> None:
        self.pending: list[_Report] = []
        self._state = state

    def report(self, future: asyncio.Future[None], error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery callback, in the poll thread."""
        if error is None:
            self.pending.append((future, None))
            if self._state.troubled:
                self._state.delivered()
        else:
            self.pending.append((future, PublishError(_describe(error), topic=message.topic() or "-")))
            if error.code() in _IDENTITY_REFUSED:
                self._state.identity_refused(error)

    def serve(self, loop: asyncio.AbstractEventLoop, poll: Callable[[float], int], timeout: float) -> int:
        """One poll (or flush) of the producer; its delivery reports go to the loop in one call."""
        result = poll(timeout)
        if self.pending:
            reports, self.pending = self.pending, []
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these any more
                loop.call_soon_threadsafe(_resolve, reports)
        return result


def _resolve(reports: list[_Report]) -> None:
    for future, error in reports:
        if future.done():  # its request gave up at the deadline and was answered 503 already
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _describe(error: KafkaError) -> str:
    return f"{error.name()}: {error.str()}"


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _BrokerState:
    """What librdkafka reports about the broker, from the poll thread: one log line per change of state,
    never one per request (librdkafka reports a down broker on every reconnect attempt)."""

    def __init__(self) -> None:
        self._last: int | None = None
        self.troubled = False
        #: Set when the broker refused the producer's identity: the poll thread renews the producer.
        self.refused_identity = False

    def error(self, error: KafkaError) -> None:
        """librdkafka's error callback."""
        if error.fatal():
            self.identity_refused(error)
            return
        code = error.code()
        # An unreachable broker's errors alternate (a failed reconnect, "all brokers down"): one state.
        state = _UNREACHABLE_STATE if code in _UNREACHABLE else code
        if state != self._last:
            level = logging.WARNING if state == _UNREACHABLE_STATE else logging.ERROR
            logger.log(level, "kafka producer error=%s", _describe(error))
        self._last = state
        self.troubled = True

    def identity_refused(self, error: KafkaError) -> None:
        if not self.refused_identity:
            logger.warning("kafka producer identity refused error=%s; renewing it", _describe(error))
        self.refused_identity = True
        self.troubled = True

    def renewed(self) -> None:
        self.refused_identity = False
        self._last = None

    def delivered(self) -> None:
        """A record was acknowledged after errors: the state changed back."""
        logger.info("kafka producer delivering again")
        self._last = None
        self.troubled = False
