"""Connections cut while the worker emits: its producer may write an event twice, the archive holds it once.

A worker whose every Kafka connection passes through the fault proxy (tests/faultproxy.py) is fed a
simulator workload in chunks; while it emits each chunk, the proxy holds the broker's answers for a moment
(the produce requests have landed, their acknowledgements have not) and then cuts every connection, so
aiokafka's producer resends batches the broker had already written: `smsc.events` can hold an event twice.
The archive then holds each (raw partition, raw offset) once, and every report equals the simulator's
recount. The test counts the duplicates in `smsc.events` itself and prints them; it does not need any.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from reports.errors import ReportsError
from simulator import SimulatedCallback, generate
from streams.archive_sink import header_raw_offset
from tests.faultproxy import ProxiedBroker
from tests.integration.reports.test_archive_pipeline import (
    FAULTS,
    SMALL_BLOCKS,
    archived,
    assert_archive_equals_the_recount,
    rows_by_kind,
    topics,
)
from tests.integration.streams.harness import Topics, Worker, processed, produce, wait_for, workers
from tests.unit.reports.conftest import unique_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CHUNKS = 8
#: How long the broker's answers are held before the cut: the worker's produce requests reach the broker.
HOLD_SECONDS = 0.3


def callbacks() -> list[SimulatedCallback]:
    return [
        *generate(seed=41, count=2400, faults=FAULTS, account="acme"),
        *generate(seed=42, count=800, faults=FAULTS, account="globex"),
    ]


def events_topic_identities(bootstrap: str, topic: str) -> Counter[tuple[int, int | None]]:
    """(partition, `smsc-raw-offset`) of every record of the topic, read to its end."""

    async def run() -> Counter[tuple[int, int | None]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        found: Counter[tuple[int, int | None]] = Counter()
        try:
            await consumer.topics()  # a metadata refresh: the topic's partitions
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            assert partitions, f"no partitions of {topic}"
            tps = [TopicPartition(topic, partition) for partition in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    for record in records:
                        found[(tp.partition, header_raw_offset(record.headers))] += 1
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= ends[tp] for tp in tps):
                    break
        finally:
            await consumer.stop()
        return found

    return asyncio.run(asyncio.wait_for(run(), 90))


def start_cleanly(bootstrap: str, names: Topics, chunk: Sequence[SimulatedCallback], worker: Worker) -> None:
    """Feed `chunk` with no fault and wait until the worker applied it (so, before it, every earlier
    record): Faust declares its topics and joins its group first, and a cut in its start-up stops it
    (not what these tests are about)."""
    wait_for(lambda: worker.try_scrape() is not None, "the worker's /metrics", 90, [worker])
    produce(bootstrap, names.raw, chunk)
    wait_for(lambda: processed(worker.try_scrape() or {}) >= len(chunk), "a chunk applied", 120, [worker])


def feed_and_cut(proxied: ProxiedBroker, names: Topics, chunk: Sequence[SimulatedCallback]) -> int:
    """Feed `chunk` through the healthy proxy, then, while the worker applies it and emits its events,
    hold the broker's answers (its produce requests land) and cut every connection mid-produce."""
    produce(proxied.bootstrap_servers, names.raw, chunk)
    proxied.proxy.stall(to_upstream=False)
    time.sleep(HOLD_SECONDS)
    cuts = proxied.proxy.cut()
    proxied.proxy.heal()
    return cuts


def report(cuts: int, events: int, in_topic: Counter[tuple[int, int | None]], dropped: str) -> int:
    twice = sum(count - 1 for count in in_topic.values())
    print(f"cuts={cuts} events={events} duplicates_in_events_topic={twice} dropped_by_sink={dropped}")
    assert sum(in_topic.values()) == events + twice
    assert len(in_topic) == events  # every event reached the topic, at least once
    assert twice >= 0  # the cuts may or may not have made the producer resend a batch that had landed
    return twice


def test_cuts_while_the_worker_emits_archive_each_event_once(
    proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    bootstrap = proxied_broker.bootstrap_servers
    sent = callbacks()
    events = unique_events(sent)
    names = topics()
    root = tmp_path / "archive"
    size = -(-len(sent) // CHUNKS)
    cuts = 0
    with workers(1, bootstrap, names, tmp_path, SMALL_BLOCKS) as (worker,):
        start_cleanly(bootstrap, names, sent[:size], worker)
        for first in range(size, len(sent), size):
            cuts += feed_and_cut(proxied_broker, names, sent[first : first + size])
        wait_for(
            lambda: processed(worker.try_scrape() or {}) >= len(sent), "every record applied", 180, [worker]
        )
        wait_for(
            lambda: archived(worker.try_scrape() or {}) >= len(events), "every event archived", 180, [worker]
        )
        series = worker.scrape()
        dropped = sum(v for (name, _), v in series.items() if name == "smsc_archive_duplicates_dropped_total")
    assert cuts > 0
    # The sink's counter is printed, not compared: a commit cut off or a rejoin can count a drop once
    # more or once less (the archive below is what must be exact).
    report(cuts, len(events), events_topic_identities(bootstrap, names.events), f"{dropped:.0f}")
    assert_archive_equals_the_recount(root, sent, events)


def test_cuts_then_a_kill_9_and_a_restart_archive_each_event_once(
    proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    """The sink resumes from its committed offset, reading back the block before it for the raw offsets:
    a duplicate on either side of where the killed worker stopped is dropped all the same."""
    bootstrap = proxied_broker.bootstrap_servers
    sent = callbacks()
    events = unique_events(sent)
    names = topics()
    root = tmp_path / "archive"
    size = -(-len(sent) // CHUNKS)
    half = CHUNKS // 2 * size
    cuts = 0
    first = Worker(bootstrap, names, tmp_path, SMALL_BLOCKS)
    try:
        start_cleanly(bootstrap, names, sent[:size], first)
        for offset in range(size, half, size):
            cuts += feed_and_cut(proxied_broker, names, sent[offset : offset + size])
    finally:
        first.kill()  # mid-stream: some of it applied, emitted or archived, some not
    with workers(1, bootstrap, names, tmp_path, SMALL_BLOCKS) as (second,):
        start_cleanly(bootstrap, names, [], second)
        wait_for(lambda: processed(second.try_scrape() or {}) >= half, "the restart caught up", 180, [second])
        for offset in range(half, len(sent), size):
            cuts += feed_and_cut(proxied_broker, names, sent[offset : offset + size])
        wait_for(
            lambda: processed(second.try_scrape() or {}) >= len(sent), "every record applied", 180, [second]
        )
        wait_for(lambda: archived_rows(root) >= len(events), "every event archived", 180, [second])
    assert cuts > 0
    report(cuts, len(events), events_topic_identities(bootstrap, names.events), "-")
    assert_archive_equals_the_recount(root, sent, events)


def archived_rows(root: Path) -> int:
    """Rows in the archive now (0 while a kind has none yet); the sink's counter starts over on a restart."""
    if not root.exists():
        return 0
    try:
        return sum(rows_by_kind(root).values())
    except (OSError, ReportsError):
        return 0
