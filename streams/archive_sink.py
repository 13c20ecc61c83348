"""The archive sink: `smsc.events` -> the Parquet archive (reports/archive.py), exactly once, in the worker.

Its own consumer group (`<app id>-archive`) shares the events partitions among the running workers. A
partition's offsets are cut into aligned blocks of `archive_block_events`; the sink buffers the block it
is in and writes it when the block is complete, when `archive_flush_seconds` passed since the last write
(rewriting the block's file with the longer range), before the partition moves to another worker, and at
shutdown; it commits the next offset only after the files are in place. A crash between the write and
the commit, or any replay, writes ranges that hold or are held by the files already there (never partly
overlapping, since no file spans two blocks): the longer file is the current one, so no row is counted
twice and none is lost.

An event the worker's producer sent twice (a retried batch whose first send had landed) is archived once:
events of a partition come in raw-offset order, so an event whose raw offset (`smsc-raw-offset`) is not
above every one before it in the partition is a duplicate, and is left out. After an assignment the sink
reads the partition again from the start of the block it resumes in, and takes the highest raw offset
before that block from the archive: it then drops and writes exactly what a run that never stopped would
(a replay from offset 0 too), and every file of a block starts at the block's start.
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

from reports.archive import highest_raw_offset, write_batch
from reports.schema import KINDS
from smsc.events import Event
from streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

#: Seconds between attempts after a failed write (a full disk, an unreachable bucket): the block is kept.
RETRY_SECONDS: Final = 5.0
#: The raw record's offset, a header of every event the worker produces (streams/app.py sets it).
RAW_OFFSET_HEADER: Final = "smsc-raw-offset"


def header_raw_offset(headers: Sequence[tuple[str, bytes]]) -> int | None:
    """The `smsc-raw-offset` header as a number; None if absent or not a number (never a duplicate)."""
    for name, value in headers:
        if name == RAW_OFFSET_HEADER:
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass
class RawOffsets:
    """Which events of one events partition are duplicates: those whose raw offset is not above every raw
    offset read before them in the partition.

    The worker writes a partition's events in raw-offset order; a producer retry resends a batch after
    itself, a restarted worker may re-emit a run of events it cannot tell were written, and while a
    partition changes hands the old owner's last batches can land among the new one's: every repeat comes
    after an event with at least its raw offset. The highest raw offset before a block's start is the
    highest one archived before it (`reports.archive.highest_raw_offset`): the events kept are exactly
    those that raised it.
    """

    high: int = -1  # the highest raw offset read so far

    def duplicate(self, raw_offset: int | None) -> bool:
        """Whether the record repeats an event read before (a record without a raw offset never does)."""
        if raw_offset is None:
            return False
        if raw_offset <= self.high:
            return True
        self.high = raw_offset
        return False


@dataclass
class Block:
    """The buffered records of one aligned block of a partition (from `first`, where this run began)."""

    start: int
    first: int
    last: int = -1
    values: list[bytes] = field(default_factory=list)  # the records to archive: duplicates left out
    unwritten_since: float | None = None  # monotonic time of the first record not yet in a file
    unwritten: int = 0
    duplicates: int = 0  # duplicates dropped since the last commit (of offsets not committed before)
    archived_to: int = field(init=False)  # the offset after the last one committed (`first` at the start)

    def __post_init__(self) -> None:
        self.archived_to = self.first

    def add(self, offset: int, value: bytes, *, duplicate: bool = False) -> None:
        """The record at `offset`; a duplicate is not archived, but its offset is (the file's range)."""
        self.last = offset
        if duplicate:
            self.duplicates += offset >= self.archived_to  # not those archived before a resume
        else:
            self.values.append(value)
            self.unwritten += 1
        if self.unwritten_since is None:
            self.unwritten_since = time.monotonic()


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "smsc_archive_events",
            "Events newly archived (offsets committed; duplicates dropped are not counted).",
            registry=registry,
        )
        self.duplicates = Counter(
            "smsc_archive_duplicates_dropped",
            "Events left out of the archive as repeats of one archived already (sent twice by a producer).",
            registry=registry,
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
        self.raw_offsets: dict[int, RawOffsets] = {}  # per partition read since its assignment
        self.resumed: dict[int, int] = {}  # per partition: the offset it was assigned at (committed)
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
                        raw_offset = header_raw_offset(record.headers)
                        if not await self.add(consumer, tp, record.offset, record.value, raw_offset):
                            break  # it reads the partition again from an earlier offset
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

    async def add(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        offset: int,
        value: bytes,
        raw_offset: int | None,
    ) -> bool:
        """Buffer one record (writing the block when it is complete); False if the sink went back to the
        start of the record's block instead (the rest of this fetch of the partition is read again)."""
        partition = tp.partition
        start = offset - offset % self.block_events
        raw_offsets = self.raw_offsets.get(partition)
        if raw_offsets is None:
            if tp not in consumer.assignment():
                return False  # revoked while this fetch was being written: the next owner archives it
            # The first record since the assignment. The block is archived again from its start, as one
            # run that never stopped would have (rows and files), from the highest raw offset before it.
            high = await self._highest_raw_offset(partition, start)
            if tp not in consumer.assignment():
                return False  # revoked meanwhile
            self.raw_offsets[partition] = RawOffsets(high)
            self.resumed[partition] = offset
            logger.info(
                "archive sink resumes partition=%d offset=%d block=%d raw_offset_high=%d",
                partition,
                offset,
                start,
                high,
            )
            if start < offset:
                consumer.seek(tp, start)
                return False
            raw_offsets = self.raw_offsets[partition]
        duplicate = raw_offsets.duplicate(raw_offset)
        block = self.blocks.get(partition)
        if block is not None and start != block.start:
            await self.flush(consumer, partition)
            block = None
        if block is None:
            block = self.blocks[partition] = Block(start=start, first=offset)
            # Offsets archived before this assignment are not counted again.
            block.archived_to = max(offset, self.resumed.get(partition, offset))
        block.add(offset, value, duplicate=duplicate)
        if offset == start + self.block_events - 1:  # the block is complete: write it and let it go
            await self.flush(consumer, partition)
            del self.blocks[partition]
        return True

    async def _highest_raw_offset(self, partition: int, before: int) -> int:
        """`highest_raw_offset` of the archive, retried like a write while the archive cannot be read."""
        root, topic = self.settings.archive_root, self.settings.events_topic
        while True:
            try:
                return await asyncio.to_thread(highest_raw_offset, root, topic, partition, before)
            except (OSError, pa.ArrowException) as exc:
                logger.error(
                    "archive read failed partition=%d before=%d root=%s: %s (retrying in %ss)",
                    partition,
                    before,
                    root,
                    exc,
                    RETRY_SECONDS,
                )
                await asyncio.sleep(RETRY_SECONDS)

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
        if block.last < block.archived_to:
            return  # archived again, up to where it was before this assignment: committed already
        tp = TopicPartition(self.settings.events_topic, partition)
        try:
            await consumer.commit({tp: block.last + 1})
        except (CommitFailedError, KafkaError) as exc:
            # The files are in place; whoever reads the partition next rewrites them, longer or the same.
            logger.warning("archive commit failed partition=%d offset=%d: %s", partition, block.last + 1, exc)
            return
        self.metrics.events.inc(block.last + 1 - block.archived_to - block.duplicates)
        self.metrics.duplicates.inc(block.duplicates)
        block.archived_to = block.last + 1
        block.duplicates = 0

    def _write(self, partition: int, block: Block) -> tuple[int, int]:
        return write_block(self.settings.archive_root, self.settings.events_topic, partition, block)

    def forget(self, partitions: Sequence[int]) -> None:
        """Partitions that moved: whoever reads them next starts again from the block of its offset."""
        for partition in partitions:
            self.raw_offsets.pop(partition, None)
            self.resumed.pop(partition, None)


def write_block(root: str, topic: str, partition: int, block: Block) -> tuple[int, int]:
    """Write a block's events to the archive: (files written, records that were not events)."""
    events, skipped = decode_events(block.values, partition, block.first)
    written = write_batch(
        root, events, topic=topic, partition=partition, first_offset=block.first, last_offset=block.last
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
                "not an event, not archived partition=%d record=%d of those kept from offset %d",
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
        self.sink.forget([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.sink.forget([tp.partition for tp in assigned])  # read from the committed offset: read back
        logger.info("archive sink partitions=%s", sorted(tp.partition for tp in assigned))
