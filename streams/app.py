"""The stream worker: a Faust app for group membership, the state table and /metrics, and a plain consumer
beside it that reads the raw partitions this worker owns (docs/streams-design.md explains why: Faust's
own per-event path costs ~75 µs, more than all of our work).

Input: `smsc.callbacks.raw`. Outputs: `smsc.events` (one event per deduplicated callback), the dead-letter
topic (raw body and headers plus the reason), and the state table `partition-state` (changelog), which
holds a snapshot of each partition's processor with the source offset it reached. After a crash or a
rebalance, the owner restores the snapshot and replays the raw partition from the next offset: every
aggregate is a function of the source records, so the numbers stay exact without Kafka transactions.

Beside them, the HLR sharing topic (`streams/hlr_sharing.py`): the final HLR answers the worker processes
go out to it, and every worker's come back into the worker's one `HlrMemory`, which all its partitions'
processors consult for the carrier of a message's number.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Any, Final

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import REGISTRY, CollectorRegistry

from smsc.errors import SmscError
from smsc.parse import account_timezone
from smsc.raw_record import RawRecord
from streams import snapshot
from streams.aggregates import Aggregates
from streams.archive_sink import ArchiveSink
from streams.hlr_memory import HlrMemory
from streams.hlr_sharing import HlrNetwork, HlrSharing
from streams.metrics import AggregatesCollector, SkippedAnswersCollector
from streams.processor import NS, PartitionProcessor, ProcessorConfig, SourceRecord, Verdict
from streams.progress import PartitionProgress, ProgressCollector
from streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

#: Header on every event and dead letter: the raw offset it came from, so a replay re-emits nothing.
RAW_OFFSET_HEADER: Final = "smsc-raw-offset"
REASON_HEADER: Final = "smsc-dead-reason"
STATE_TABLE: Final = "partition-state"
#: How long a starting worker waits for the shared HLR answers before it processes without the rest.
HLR_LOAD_TIMEOUT_SECONDS: Final = 60.0


class Sidecar:
    """Reads, processes and snapshots the raw partitions Faust assigned to this worker."""

    def __init__(self, app: faust.App, table: Any, settings: WorkerSettings, hlr_sharing: HlrSharing) -> None:
        self.app = app
        self.table = table
        self.settings = settings
        self.config = ProcessorConfig(
            dedupe_window_seconds=settings.dedupe_window_seconds,
            timezone=account_timezone(settings.account_timezone),
            senders=settings.senders,
            max_senders=settings.max_senders,
            destinations=settings.destinations,
            carriers=settings.carriers,
            max_countries=settings.max_countries,
            max_carriers_per_country=settings.max_carriers_per_country,
            hlr_settle_seconds=settings.hlr_settle_seconds,
        )
        # One memory for all the partitions of the worker, fed by every worker's answers (the topic).
        self.hlr_sharing = hlr_sharing
        self.hlr = hlr_sharing.memory
        self.processors: dict[int, PartitionProcessor] = {}
        # Per partition, the highest raw offset already written to each output topic (a replay skips it).
        self._emitted_events: dict[int, int] = {}
        self._emitted_dead: dict[int, int] = {}
        self._snapshot_ids: dict[int, int] = {}
        self._end_offsets: dict[int, int] = {}  # high watermark per partition, from the last fetch
        self._token = uuid.uuid4().hex[:12]  # this worker's chunk keys never collide with another's
        self._owned: frozenset[int] = frozenset()  # exposed on /metrics
        self._active: frozenset[int] = frozenset()  # being processed by the loop
        self._generation = 0
        self._running = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        # Fencing (docs/streams-design.md, "Fencing"). The group coordinator expires a member that sent no
        # heartbeat for the session timeout; a process stopped (SIGSTOP, a VM pause, a starved host) for
        # half of it may have lost its partitions without knowing. The lease is what every write checks: it
        # changes when the assignment the loop works on is no longer known to be this worker's.
        self._session_timeout = float(app.conf.broker_session_timeout)
        self._stall_seconds = self._session_timeout / 2
        self._tick = time.monotonic()  # the last time the event loop was seen running
        self._lease = 0
        self._fenced = False
        self._rebalances_started = 0
        # A partition restored to an older state than this worker last exposed stays off /metrics until its
        # replay passes that offset again: a series never goes down.
        self._hidden_until: dict[int, int] = {}
        self._tainted: set[int] = set()  # state ran ahead of what was written: restore from the table
        # Restored from the table, the end offset at takeover not known yet: hidden from /metrics until
        # it is, then until the replay reaches it (see `_note_end_offsets`).
        self._catching_up: set[int] = set()

    # -- what Faust tells us ------------------------------------------------------------------------

    def on_rebalance_start(self) -> None:
        """From the consumer's thread: stop taking batches and stop exposing partitions that may move."""
        self.app.loop.call_soon_threadsafe(self._rebalance_started)

    def _rebalance_started(self) -> None:
        self._rebalances_started += 1
        self._leave()

    def _leave(self) -> None:
        self._running.clear()
        self._owned = frozenset()

    async def pause(self, timeout_seconds: float) -> None:
        """Before Faust hands partitions over: return once the loop has stopped and written its state."""
        self._leave()
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._idle.wait()
        except TimeoutError:
            # The revocation goes on without us: whatever the loop is still doing may not write any more.
            self._lease += 1
            logger.error("sidecar did not stop within %ss before a revocation: fenced", timeout_seconds)

    async def on_rebalance_complete(self) -> None:
        changelog = self.table.changelog_topic.get_topic_name()
        owned = frozenset(
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == changelog
        )
        self._owned = owned
        self._generation += 1
        self._lease += 1
        self._fenced = False
        self._running.set()
        logger.info("rebalance complete owned_partitions=%s", sorted(owned))

    def owned_aggregates(self) -> list[Aggregates]:
        return [self.processors[p].aggregates for p in self._exposed()]

    def owned_progress(self) -> list[PartitionProgress]:
        return [
            PartitionProgress(self.settings.raw_topic, p, self.processors[p].offset + 1, self._end_offsets[p])
            for p in self._exposed()
            if p in self._end_offsets
        ]

    def _exposed(self) -> list[int]:
        """The partitions /metrics shows: none while this worker may have lost its assignment unknowingly."""
        if self._fenced or self._stalled():
            return []
        return [
            p
            for p in sorted(self._owned)
            if p in self.processors
            and p not in self._catching_up
            and self.processors[p].offset >= self._hidden_until.get(p, -1)
        ]

    # -- fencing ------------------------------------------------------------------------------------

    def _stalled(self) -> bool:
        """The event loop has not run for half the session timeout: the process was stopped or starved."""
        return time.monotonic() - self._tick > self._stall_seconds

    async def _watch(self) -> None:
        """Notes that the event loop runs; a late tick means the process did not run for that long."""
        while True:
            now = time.monotonic()
            if now - self._tick > self._stall_seconds:
                self._fence(now - self._tick)
            self._tick = now
            await asyncio.sleep(0.25)

    def _fence(self, stalled_seconds: float) -> None:
        """Assume the assignment is stale: stop exposing and writing until the group has rebalanced."""
        if not self._fenced:
            logger.warning(
                "event loop stalled stalled_seconds=%.1f: assignment assumed stale, fenced until a rebalance",
                stalled_seconds,
            )
        self._fenced = True
        self._lease += 1
        self._leave()
        # A member expired by the coordinator learns it at its next heartbeat (a second) and rejoins: a
        # rebalance starts. If none starts, the membership survived the stall: run again.
        self.app.loop.call_later(
            self._session_timeout * 1.5, self._unfence_if_quiet, self._generation, self._rebalances_started
        )

    def _unfence_if_quiet(self, generation: int, rebalances_started: int) -> None:
        if self._fenced and (generation, rebalances_started) == (self._generation, self._rebalances_started):
            logger.info("no rebalance after a stall: the assignment is still this worker's, unfenced")
            self._fenced = False
            self._lease += 1
            changelog = self.table.changelog_topic.get_topic_name()
            self._owned = frozenset(
                tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == changelog
            )
            self._generation += 1
            self._running.set()

    def _check_lease(self, lease: int) -> None:
        """Right before a write: raise if the assignment the loop works on may belong to another worker."""
        if self._stalled():
            self._fence(time.monotonic() - self._tick)
        if lease != self._lease:
            raise StaleAssignmentError(f"lease {lease} superseded by {self._lease}")

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self) -> None:
        settings = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,  # Faust's group decides who owns what; this consumer only reads
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{settings.app_id}-sidecar",
        )
        # Its own producer, not Faust's: record batches per partition (Faust's sends one record at a time,
        # through its sensors). Same delivery guarantee: acks from all replicas, awaited per batch. No
        # linger: the batches are complete when submitted, and the loop waits for their acks.
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=0,
            max_batch_size=512 * 1024,
            client_id=f"{settings.app_id}-sidecar",
        )
        await consumer.start()
        await producer.start()
        await self._wait_for_hlr_answers()
        self._tick = time.monotonic()
        watch = asyncio.create_task(self._watch())
        try:
            while True:
                await self._running.wait()
                self._idle.clear()
                try:
                    await self._run_generation(consumer, producer)
                except StaleAssignmentError as exc:
                    # The batch in hand is dropped, neither produced nor snapshotted; the partitions it
                    # touched (`_tainted`) ran ahead of what was written: restored from the table next time.
                    logger.warning("fenced: batch discarded reason=%s", exc)
                finally:
                    self._idle.set()
        finally:
            watch.cancel()
            await producer.stop()
            await consumer.stop()

    async def _wait_for_hlr_answers(self) -> None:
        """Before the first record: the answers already shared, so that a restart or a replay gives the
        messages the carriers they would have had (the rest only as they arrive: docs/streams-design.md)."""
        try:
            async with asyncio.timeout(HLR_LOAD_TIMEOUT_SECONDS):
                await self.hlr_sharing.loaded.wait()
        except TimeoutError:
            logger.warning(
                "hlr answers not loaded within %ss: processing goes on, they apply as they arrive",
                HLR_LOAD_TIMEOUT_SECONDS,
            )

    def _expire_hlr(self) -> None:
        """The worker's clock for the memory: the newest receive time of the partitions it processes (the
        data's time, as every expiry of the processors: a replay of old records expires nothing early)."""
        now_ns = max((processor.clock_ns for processor in self.processors.values()), default=0)
        if self.hlr is not None and now_ns:
            self.hlr.expire(now_ns)

    async def _run_generation(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        settings = self.settings
        generation = self._generation
        lease = self._lease
        await self._take_ownership(consumer)
        last_snapshot = time.monotonic()
        while self._running.is_set() and generation == self._generation:
            batch = await consumer.getmany(timeout_ms=200, max_records=settings.batch_max_records)
            self._check_lease(lease)  # fetched before a stall, processed after it: dropped here
            if batch:
                self._tainted.update(tp.partition for tp in batch)
                await self._process(batch, producer, lease)
                self._tainted.clear()
            self._note_end_offsets(consumer)
            if time.monotonic() - last_snapshot >= settings.snapshot_interval_seconds:
                await self._snapshot(self._active, lease)
                self._expire_hlr()
                last_snapshot = time.monotonic()
        await self._snapshot(self._active, lease)

    async def _take_ownership(self, consumer: AIOKafkaConsumer) -> None:
        owned = self._owned
        for partition in list(self.processors):
            if partition not in owned:
                del self.processors[partition]  # the new owner restores it from the table
        records = self._table_records()
        for partition in owned:
            current = self.processors.get(partition)
            stored = snapshot.manifest(partition, records)
            # Restore what is new here, what another worker advanced while this one missed a rebalance, or
            # what a fenced batch had applied without writing its events and state.
            if partition in self._tainted and current is not None:
                self._hidden_until[partition] = max(self._hidden_until.get(partition, -1), current.offset)
                self.processors[partition] = self._restore(partition, records)
                self._catching_up.add(partition)
            elif current is None or (stored is not None and stored["offset"] > current.offset):
                self.processors[partition] = self._restore(partition, records)
                # The previous owner may have shown counts up to the partition's end: a process restarted at
                # the same address (the same Prometheus series) must not show the older snapshot's.
                self._catching_up.add(partition)
            self._emitted_events[partition] = await self._last_raw_offset(
                self.settings.events_topic, partition
            )
            self._emitted_dead[partition] = await self._last_raw_offset(self.settings.dead_topic, partition)
        self._tainted.clear()
        self._active = owned
        tps = [TopicPartition(self.settings.raw_topic, p) for p in sorted(owned)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, self.processors[tp.partition].offset + 1)

    def _note_end_offsets(self, consumer: AIOKafkaConsumer) -> None:
        for partition in self._active:
            highwater = consumer.highwater(TopicPartition(self.settings.raw_topic, partition))
            if highwater is not None:
                self._end_offsets[partition] = highwater
                if partition in self._catching_up:
                    # From the first fetch after the takeover (ListOffsets may under-report on some brokers).
                    self._catching_up.discard(partition)
                    hidden = self._hidden_until.get(partition, -1)
                    self._hidden_until[partition] = max(hidden, highwater - 1)

    def _table_records(self) -> dict[str, bytes]:
        return {
            key.decode() if isinstance(key, bytes) else str(key): value
            for key, value in self.table.data.items()
        }

    def _restore(self, partition: int, records: dict[str, bytes]) -> PartitionProcessor:
        restored = snapshot.decode(partition, records)
        if restored is None:
            logger.info("partition state new partition=%d", partition)
            self._snapshot_ids[partition] = 0
            return PartitionProcessor(partition, self.config, hlr=self.hlr)
        snapshot_id, state = restored
        self._snapshot_ids[partition] = snapshot_id
        logger.info("partition state restored partition=%d offset=%d", partition, state["offset"])
        return PartitionProcessor.from_json(state, self.config, hlr=self.hlr)

    async def _last_raw_offset(self, topic: str, partition: int) -> int:
        return await _last_raw_offset(self.settings.kafka_bootstrap_servers, topic, partition)

    async def _process(
        self, batch: dict[TopicPartition, list[Any]], producer: AIOKafkaProducer, lease: int
    ) -> None:
        events_topic, dead_topic = self.settings.events_topic, self.settings.dead_topic
        outgoing: list[_Outgoing] = []
        answers: list[HlrNetwork] = []
        for tp, records in batch.items():
            processor = self.processors.get(tp.partition)
            if processor is None:
                continue
            partition = tp.partition
            emitted_events = self._emitted_events.get(partition, -1)
            emitted_dead = self._emitted_dead.get(partition, -1)
            # One record batch per output partition instead of a send (and a future) per record: the
            # per-record send was ~6 % of the worker. The events of a partition keep their offset order.
            events = _Outgoing(producer, events_topic, partition)
            dead = _Outgoing(producer, dead_topic, partition)
            outgoing += (events, dead)
            process = processor.process
            for record in records:
                try:
                    raw = RawRecord.from_headers(record.value, record.headers)
                except SmscError as exc:
                    if record.offset <= processor.offset:
                        continue  # a replay: counted when it was first applied
                    processor.offset = record.offset
                    processor.aggregates.inc("smsc_callbacks_dead_total", ("unknown", exc.code))
                    result_reason, event = f"raw record: {exc}", None
                    verdict = Verdict.DEAD
                else:
                    result = process(
                        SourceRecord(
                            partition=partition,
                            offset=record.offset,
                            body=raw.body,
                            query_string=raw.query_string,
                            content_type=raw.content_type,
                            account=raw.account,
                            received_at_ns=raw.received_at_ns,
                        )
                    )
                    verdict, event, result_reason = result.verdict, result.event, result.reason or ""
                    if result.hlr_network is not None:
                        answers.append(result.hlr_network)
                # Emitted before a crash or a rebalance: that topic has it already.
                if verdict is Verdict.EVENT and event is not None and record.offset > emitted_events:
                    offset_header = (RAW_OFFSET_HEADER, str(record.offset).encode())
                    events.append(record.key, event, [offset_header])
                elif verdict is Verdict.DEAD and record.offset > emitted_dead:
                    offset_header = (RAW_OFFSET_HEADER, str(record.offset).encode())
                    dead_headers = [*record.headers, offset_header, (REASON_HEADER, result_reason.encode())]
                    dead.append(record.key, record.value, dead_headers)
        # Nothing of the batch reaches the producer before it is all processed, and then only if this
        # worker still holds its partitions: a stop during the processing leaves nothing half sent.
        self._check_lease(lease)
        deliveries: list[Any] = []
        for out in outgoing:
            await out.send(deliveries)
        # A replay publishes its answers again: the same record, which changes nothing for a reader.
        deliveries += await self.hlr_sharing.publish(producer, answers)
        if deliveries:
            await asyncio.gather(*deliveries)

    async def _snapshot(self, partitions: Iterable[int], lease: int) -> None:
        self._check_lease(lease)  # before the first table write: a stale state must not reach the changelog
        writes = []
        written: list[tuple[int, int]] = []
        for partition in partitions:
            if partition not in self.processors:
                continue
            snapshot_id = self._snapshot_ids.get(partition, 0) + 1
            self._snapshot_ids[partition] = snapshot_id
            state = self.processors[partition].to_json()
            for key, value in snapshot.encode(partition, snapshot_id, self._token, state):
                writes.append(self._write(partition, key, value))
            written.append((partition, snapshot_id))
        if writes:
            await asyncio.gather(*writes)
        # Only once the new manifests are stored: delete the chunks no manifest refers to any more.
        self._check_lease(lease)
        keys = list(self._table_records())
        deletes = [
            self._write(partition, key, None)
            for partition, snapshot_id in written
            for key in snapshot.stale_keys(partition, keys, snapshot_id, self._token)
        ]
        if deletes:
            await asyncio.gather(*deletes)

    def _write(self, partition: int, key: str, value: bytes | None) -> Any:
        """Set (or with None, delete) one table record and send it to the changelog."""
        raw_key = key.encode()
        if value is None:
            self.table.data.pop(raw_key, None)
        else:
            self.table.data[raw_key] = value
        return self.table.send_changelog(partition, raw_key, value)


class _Outgoing:
    """The records of one batch for one output partition, as record batches: built while the batch is
    processed, handed to the producer together once it is done (`send`)."""

    __slots__ = ("_batch", "_full", "_partition", "_producer", "_topic")

    def __init__(self, producer: AIOKafkaProducer, topic: str, partition: int) -> None:
        self._producer = producer
        self._topic = topic
        self._partition = partition
        self._full: list[Any] = []
        self._batch: Any = None

    def append(self, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        batch = self._batch
        if batch is None or batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            if batch is not None:
                self._full.append(batch)  # full: keep it, and start the next one with this record
            self._batch = self._producer.create_batch()
            # No check: aiokafka's builder always takes the first record of a batch, whatever its size.
            self._batch.append(key=key, value=value, timestamp=None, headers=headers)

    async def send(self, deliveries: list[Any]) -> None:
        batches = [*self._full, self._batch] if self._batch is not None else self._full
        for batch in batches:
            if batch.record_count():
                deliveries.append(
                    await self._producer.send_batch(batch, self._topic, partition=self._partition)
                )
        self._full, self._batch = [], None


async def _last_raw_offset(bootstrap: str, topic: str, partition: int) -> int:
    """The `smsc-raw-offset` of the partition's last record, -1 when it has none.

    Reads forward to the high watermark of the fetch responses rather than trusting ListOffsets alone:
    the embedded broker under-reports end offsets after batched writes (Apache Kafka does not).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return -1
        consumer.seek(tp, end - 1)
        last = -1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
            for record in records:
                value = dict(record.headers).get(RAW_OFFSET_HEADER)
                if value is not None:
                    last = int(value)
            highwater = consumer.highwater(tp)
            if highwater is not None and await consumer.position(tp) >= highwater:
                return last
        raise TimeoutError(f"could not read to the end of {topic}[{partition}]")
    finally:
        await consumer.stop()


class StaleAssignmentError(Exception):
    """The sidecar may have lost its partitions (a stall, or a revocation that did not wait for it)."""


class RebalanceSensor(faust.Sensor):
    """Tells the sidecar as soon as a rebalance starts: Faust calls sensors from its consumer's thread, before
    any partition is revoked. Faust has no signal for the start of a rebalance; sensors are its documented
    way to observe one (`app.sensors.add`)."""

    def __init__(self, sidecar: Sidecar) -> None:
        super().__init__()
        self.sidecar = sidecar

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        state: dict[str, Any] = super().on_rebalance_start(app)
        self.sidecar.on_rebalance_start()
        return state


def connect_sidecar(app: faust.App, sidecar: Sidecar) -> None:
    """Wire the sidecar to Faust's public hooks: a sensor for the start of a rebalance, the
    `on_partitions_revoked` signal (Faust awaits its receivers before the consumer rejoins the group, so
    the sidecar stops and writes its state before another worker can take a partition) and
    `on_rebalance_complete`."""
    app.sensors.add(RebalanceSensor(sidecar))

    async def _revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        timeout = float(app.conf.broker_session_timeout) * 0.5
        if asyncio.get_running_loop() is app.loop:
            await sidecar.pause(timeout)
        else:  # not Faust's present behaviour, but then: run the pause on the app's loop and wait for it
            pause = asyncio.run_coroutine_threadsafe(sidecar.pause(timeout), app.loop)
            await asyncio.wrap_future(pause)

    async def _rebalanced(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await sidecar.on_rebalance_complete()

    app.on_partitions_revoked.connect(_revoked)
    app.on_rebalance_complete.connect(_rebalanced)


def create_app(settings: WorkerSettings, registry: CollectorRegistry = REGISTRY) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        # Without these the group forms ~30 s late on a single broker (docs/streams-design.md).
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        web_bind=settings.web_host,
        # The address other workers are told: a wildcard bind (a container) is reached by the host name.
        web_host=socket.gethostname() if settings.web_host in ("0.0.0.0", "::") else settings.web_host,  # noqa: S104
        web_port=settings.web_port,
        datadir=str(settings.data_dir),
        store="memory://",
        topic_partitions=settings.partitions,
        producer_linger=0.02,
        producer_max_batch_size=1024 * 1024,
    )
    table = app.Table(
        STATE_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes keys and values: the raw codec, no JSON round trip of the snapshots
        value_type=bytes,
    )
    hlr_memory = (
        HlrMemory(retention_ns=settings.hlr_retention_seconds * NS, max_numbers=settings.hlr_max_numbers)
        if settings.hlr_retention_seconds and settings.hlr_max_numbers
        else None  # HLR answers not used for carriers (still published for the other workers)
    )
    hlr_sharing = HlrSharing(
        settings.kafka_bootstrap_servers, settings.hlr_topic, hlr_memory, client_id=f"{settings.app_id}-hlr"
    )
    sidecar = Sidecar(app, table, settings, hlr_sharing)
    connect_sidecar(app, sidecar)
    registry.register(
        AggregatesCollector(sidecar.owned_aggregates, hlr_numbers_remembered=lambda: len(hlr_sharing))
    )
    registry.register(SkippedAnswersCollector(hlr_sharing.skipped_counts))
    registry.register(ProgressCollector(sidecar.owned_progress))
    setup_prometheus_sensors(app, registry=registry, name_prefix="smsc_streams")

    @app.task  # type: ignore[untyped-decorator]
    async def _sidecar() -> None:
        await sidecar.run()

    @app.task  # type: ignore[untyped-decorator]
    async def _hlr_answers() -> None:
        await hlr_sharing.run()

    if settings.archive:
        sink = ArchiveSink(settings, registry)

        @app.task  # type: ignore[untyped-decorator]
        async def _archive() -> None:
            await sink.run()

    @app.timer(interval=3600.0)  # type: ignore[untyped-decorator]
    async def _prune_cohorts() -> None:
        for aggregates in sidecar.owned_aggregates():
            aggregates.prune_cohorts(time.time())

    return app
