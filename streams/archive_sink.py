"""The archive sink: `smsc.events` -> the Parquet archive (reports/archive.py), exactly once, in the worker.

Its own consumer group (`<app id>-archive`) shares the events partitions among the running workers. A
partition's offsets are cut into aligned blocks of `archive_block_events`; the sink buffers the block it
is in and writes it when the block is complete, when `archive_flush_seconds` passed since the last write
(rewriting the block's file with the longer range), before the partition moves to another worker, and at
shutdown; it commits the next offset only after the files are in place. A crash between the write and
the commit, or any replay, writes ranges that hold or are held by the files already there (never partly
overlapping, since no file spans two blocks): the longer file is the current one, so no row is counted
twice and none is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reports.archive import write_batch
from reports.schema import KINDS
from smsc.events import Event
from streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

#: Seconds between attempts after a failed write (a full disk, an unreachable bucket): the block is kept.
RETRY_SECONDS: Final = 5.0


@dataclass
class Block:
    """The buffered records of one aligned block of a partition (from `first`, where this run began)."""

    start: int
    first: int
    last: int = -1
    values: list[bytes] = field(default_factory=list)
    unwritten_since: float | None = None  # monotonic time of the first record not yet in a file
    unwritten: int = 0
    archived_to: int = field(init=False)  # the offset after the last one committed (`first` at the start)

    def __post_init__(self) -> None:
        self.archived_to = self.first

    def add(self, offset: int, value: bytes) -> None:
        self.last = offset
        self.values.append(value)
        self.unwritten += 1
        if self.unwritten_since is None:
            self.unwritten_since = time.monotonic()


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "smsc_archive_events", "Events newly archived (offsets committed).", registry=registry
        )
        self.files = Counter("smsc_archive_files_written", "Parquet files written.", registry=registry)
        self.skipped = Counter(
            "smsc_archive_events_skipped",
            "Records of the events topic that are not events (kept in Kafka, logged).",
            registry=registry,
        )
        self.write_errors = Counter(
            "smsc_archive_write_errors", "Failed writes (retried; the block is kept).", registry=registry
        )
        self.write_seconds = Histogram(
            "smsc_archive_write_duration_seconds",
            "Time to write one batch (all its files).",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.last_write = Gauge(
            "smsc_archive_last_write_timestamp_seconds",
            "When the sink last wrote a batch (Unix time).",
            registry=registry,
        )


class ArchiveSink:
    def __init__(self, settings: WorkerSettings, registry: CollectorRegistry = REGISTRY) -> None:
        self.settings = settings
        self.block_events = settings.archive_block_events
        self.group_id = settings.archive_group_id or f"{settings.app_id}-archive"
        self.metrics = SinkMetrics(registry)
        self.blocks: dict[int, Block] = {}
        self.lag: dict[int, int] = {}  # per assigned partition: end offset - next offset to read
        registry.register(_SinkState(self))

    async def run(self) -> None:
        settings = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{settings.app_id}-archive",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        consumer.subscribe([settings.events_topic], listener=_Revocations(self, consumer))
        await consumer.start()
        logger.info("archive sink started root=%s group=%s", settings.archive_root, self.group_id)
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for tp, records in batch.items():
                    for record in records:
                        await self.add(consumer, tp.partition, record.offset, record.value)
                await self.flush_due(consumer)
                await self._note_lag(consumer)
        finally:
            try:
                await asyncio.shield(self.flush_all(consumer))  # stopping: what is buffered goes to files
            finally:
                await consumer.stop()

    async def _note_lag(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        for partition in set(self.lag) - {tp.partition for tp in assigned}:
            del self.lag[partition]
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self.lag[tp.partition] = max(highwater - await consumer.position(tp), 0)

    async def add(self, consumer: AIOKafkaConsumer, partition: int, offset: int, value: bytes) -> None:
        block = self.blocks.get(partition)
        start = offset - offset % self.block_events
        if block is not None and start != block.start:
            await self.flush(consumer, partition)
            block = None
        if block is None:
            block = self.blocks[partition] = Block(start=start, first=offset)
        block.add(offset, value)
        if offset == start + self.block_events - 1:  # the block is complete: write it and let it go
            await self.flush(consumer, partition)
            del self.blocks[partition]

    async def flush_due(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        for partition, block in list(self.blocks.items()):
            since = block.unwritten_since
            if since is not None and now - since >= self.settings.archive_flush_seconds:
                await self.flush(consumer, partition)

    async def flush_all(self, consumer: AIOKafkaConsumer, partitions: Sequence[int] | None = None) -> None:
        for partition in list(self.blocks if partitions is None else partitions):
            if partition in self.blocks:
                await self.flush(consumer, partition)
                del self.blocks[partition]

    async def flush(self, consumer: AIOKafkaConsumer, partition: int) -> None:
        """Write the block's files (retrying until it works), then commit the offset after it."""
        block = self.blocks[partition]
        if block.unwritten_since is None:
            return
        while True:
            started = time.monotonic()
            try:
                written, skipped = await asyncio.to_thread(self._write, partition, block)
                break
            except (OSError, pa.ArrowException) as exc:
                self.metrics.write_errors.inc()
                logger.error(
                    "archive write failed partition=%d offsets=%d-%d root=%s: %s (retrying in %ss)",
                    partition,
                    block.first,
                    block.last,
                    self.settings.archive_root,
                    exc,
                    RETRY_SECONDS,
                )
                await asyncio.sleep(RETRY_SECONDS)
        self.metrics.write_seconds.observe(time.monotonic() - started)
        self.metrics.last_write.set_to_current_time()
        self.metrics.files.inc(written)
        self.metrics.skipped.inc(skipped)
        block.unwritten_since = None
        block.unwritten = 0
        tp = TopicPartition(self.settings.events_topic, partition)
        try:
            await consumer.commit({tp: block.last + 1})
        except (CommitFailedError, KafkaError) as exc:
            # The files are in place; whoever reads the partition next rewrites them, longer or the same.
            logger.warning("archive commit failed partition=%d offset=%d: %s", partition, block.last + 1, exc)
            return
        self.metrics.events.inc(block.last + 1 - block.archived_to)
        block.archived_to = block.last + 1

    def _write(self, partition: int, block: Block) -> tuple[int, int]:
        events, skipped = decode_events(block.values, partition, block.first)
        root = self.settings.archive_root
        written = write_batch(
            root,
            events,
            topic=self.settings.events_topic,
            partition=partition,
            first_offset=block.first,
            last_offset=block.last,
        )
        return len(written), skipped


def decode_events(values: Sequence[bytes], partition: int, first_offset: int) -> tuple[list[Event], int]:
    """The events of a block's records; a record that is not an event is logged and left out."""
    events: list[Event] = []
    skipped = 0
    for index, value in enumerate(values):
        try:
            event: Any = json.loads(value)
            valid = isinstance(event, dict) and event.get("kind") in KINDS
        except (ValueError, TypeError):
            valid = False
        if not valid:
            skipped += 1
            logger.error(
                "not an event, not archived partition=%d record=%d of the block from offset %d",
                partition,
                index,
                first_offset,
            )
            continue
        events.append(event)
    return events, skipped


class _SinkState(Collector):
    """What the sink has not archived yet: read but not written, and not read at all."""

    def __init__(self, sink: ArchiveSink) -> None:
        self.sink = sink

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "smsc_archive_pending_events", "Events read from Kafka, not yet in a Parquet file."
        )
        pending.add_metric([], float(sum(block.unwritten for block in self.sink.blocks.values())))
        yield pending
        lag = GaugeMetricFamily(
            "smsc_archive_consumer_lag_records",
            "Events not yet read by the archive sink, per assigned partition of the events topic.",
            labels=["topic", "partition"],
        )
        for partition, records in sorted(self.sink.lag.items()):
            lag.add_metric([self.sink.settings.events_topic, str(partition)], float(records))
        yield lag


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before a partition moves to another worker, its buffered block goes to files and is committed."""

    def __init__(self, sink: ArchiveSink, consumer: AIOKafkaConsumer) -> None:
        self.sink = sink
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.sink.flush_all(self.consumer, [tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        logger.info("archive sink partitions=%s", sorted(tp.partition for tp in assigned))
