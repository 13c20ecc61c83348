"""The archive sink's dedupe: an event the worker's producer sent twice is archived once, however read."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from reports.archive import highest_raw_offset
from reports.errors import ArchiveNotFoundError
from reports.load import load_events
from reports.schema import KINDS
from simulator import Faults, SimulatedCallback, Truth, generate
from smsc.events import Event
from streams.archive_sink import Block, RawOffsets, header_raw_offset, write_block
from tests.unit.reports import test_reports as recount
from tests.unit.reports.conftest import Workload, unique_events

TOPIC = "smsc.events"
BLOCK = 50
#: A record of the events topic: (offset, value, the `smsc-raw-offset` header as a number).
Record = tuple[int, bytes, int | None]
Sample = tuple[list[Event], Truth, list[SimulatedCallback]]
CHECKS: tuple[Callable[[Workload], None], ...] = (
    recount.test_delivery_outcomes_equal_the_recount,
    recount.test_costs_count_each_message_once,
    recount.test_errors_count_every_callback_with_an_error,
    recount.test_voice_calls_equal_the_recount,
    recount.test_incoming_and_confirmations_equal_the_recount,
)


def encoded(event: Event) -> tuple[bytes, int | None]:
    return json.dumps(event).encode(), event["raw_offset"]


def topic_with_duplicates(events: list[Event], batch: int = 7) -> tuple[list[Record], int]:
    """The events as a producer that retries writes them: in batches of `batch`, every third batch sent
    twice in a row (a retry whose first send landed), and every fifth batch once more after the next one
    (the old owner's last batch landing after the new owner's first). Returns the records and the number
    of events written twice."""
    values = [encoded(event) for event in events]
    batches = [values[first : first + batch] for first in range(0, len(values), batch)]
    sent: list[tuple[bytes, int | None]] = []
    duplicates = 0
    for index, current in enumerate(batches):
        sent.extend(current)
        if index % 3 == 1:
            sent.extend(current)
            duplicates += len(current)
        if index % 5 == 4:
            sent.extend(batches[index - 1])
            duplicates += len(batches[index - 1])
    return [(offset, value, raw) for offset, (value, raw) in enumerate(sent)], duplicates


def archive(root: Path, records: list[Record], resume: int = 0, until: int | None = None) -> int:
    """What the sink does with the records of one partition assigned at offset `resume`, read to `until`:
    the same calls in the same order (from the start of the block of `resume`, with the highest raw offset
    archived before it). Returns the duplicates it counts (those of offsets from `resume` on)."""
    start = resume - resume % BLOCK
    raw_offsets = RawOffsets(highest_raw_offset(str(root), TOPIC, 0, start))
    block: Block | None = None
    dropped = 0
    for offset, value, raw_offset in records[start:until]:
        duplicate = raw_offsets.duplicate(raw_offset)
        block_start = offset - offset % BLOCK
        if block is not None and block_start != block.start:
            write_block(str(root), TOPIC, 0, block)
            dropped += block.duplicates
            block = None
        if block is None:
            block = Block(start=block_start, first=offset)
            block.archived_to = max(offset, resume)
        block.add(offset, value, duplicate=duplicate)
    if block is not None:
        write_block(str(root), TOPIC, 0, block)
        dropped += block.duplicates
    return dropped


def identities(root: Path) -> Counter[tuple[int, int, str]]:
    """(raw partition, raw offset, kind) of every archived row: an event archived twice counts 2."""
    counts: Counter[tuple[int, int, str]] = Counter()
    for kind in KINDS:
        try:
            frame = load_events(kind, root=str(root), columns=["raw_partition", "raw_offset"])
        except ArchiveNotFoundError:
            continue
        for partition, offset in zip(frame["raw_partition"], frame["raw_offset"], strict=True):
            counts[(int(partition), int(offset), kind)] += 1
    return counts


def files(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*.parquet"))


@pytest.fixture(scope="module")
def sample() -> Sample:
    faults = Faults(duplicate_ratio=0.05, out_of_order_ratio=0.05, late_ratio=0.05)
    callbacks = generate(seed=31, count=700, faults=faults, account="acme")
    return unique_events(callbacks), Truth.from_callbacks(callbacks), list(callbacks)


def test_a_block_with_an_event_sent_twice_writes_it_once(tmp_path: Path) -> None:
    events = unique_events(generate(seed=32, count=20, account="acme"))[:5]
    raw = [encoded(event) for event in events]
    block = Block(start=0, first=0)
    raw_offsets = RawOffsets()
    # The producer retried the batch of events 2-3: the topic holds them twice, one after the other.
    for offset, (value, raw_offset) in enumerate([*raw[:4], raw[2], raw[3], raw[4]]):
        block.add(offset, value, duplicate=raw_offsets.duplicate(raw_offset))
    assert block.duplicates == 2
    assert block.last == 6  # the duplicates' offsets are part of the file's range all the same
    write_block(str(tmp_path), TOPIC, 0, block)
    archived = identities(tmp_path)
    assert sum(archived.values()) == 5
    assert set(archived.values()) == {1}
    assert sorted(offset for _, offset, _ in archived) == [event["raw_offset"] for event in events]
    assert files(tmp_path)[0].endswith(f"{TOPIC}-0-0-6.parquet")


def test_the_archive_holds_each_event_once_and_reports_equal_the_recount(
    sample: Sample, tmp_path: Path
) -> None:
    events, truth, callbacks = sample
    records, duplicates = topic_with_duplicates(events)
    assert duplicates > 0
    assert sum(1 for _, _, raw in records if raw is not None) == len(events) + duplicates
    assert archive(tmp_path, records) == duplicates
    archived = identities(tmp_path)
    assert max(archived.values()) == 1
    assert Counter(kind for _, _, kind in archived) == Counter(event["kind"] for event in events)
    workload = Workload(str(tmp_path), callbacks, events, truth)
    for check in CHECKS:
        check(workload)


def test_a_run_of_repeats_longer_than_a_block_is_dropped(sample: Sample, tmp_path: Path) -> None:
    """A restarted worker that re-emits three blocks' worth of events it had written already."""
    events, _, _ = sample
    values = [encoded(event) for event in events[:400]]
    sent = [*values[:300], *values[100:300], *values[300:]]
    records = [(offset, value, raw) for offset, (value, raw) in enumerate(sent)]
    assert archive(tmp_path, records) == 200
    assert sorted(offset for _, offset, _ in identities(tmp_path)) == [e["raw_offset"] for e in events[:400]]


@pytest.mark.parametrize("cuts", [[1], [49], [50], [51], [73, 180], [180, 181, 349], [30, 99, 100, 400]])
def test_a_kill_and_resume_then_a_replay_give_the_archive_of_one_run(
    sample: Sample, tmp_path: Path, cuts: list[int]
) -> None:
    events, _, _ = sample
    records, duplicates = topic_with_duplicates(events[:300])
    once = tmp_path / "once"
    archive(once, records)
    resumed = tmp_path / "resumed"
    # Each run stops (its files written, the next offset committed) where the next one is assigned.
    counted = 0
    for resume, until in itertools.pairwise([0, *cuts, None]):
        assert resume is not None
        counted += archive(resumed, records, resume=resume, until=until)
    assert counted == duplicates  # each dropped once, by the run that committed its offset
    assert identities(resumed) == identities(once)
    assert max(identities(resumed).values()) == 1
    assert files(resumed) == files(once)  # every file of a block starts at the block's start
    archive(resumed, records)  # a replay from offset 0 (a new group): the same files, the same rows
    assert identities(resumed) == identities(once)
    assert files(resumed) == files(once)


def test_the_highest_raw_offset_before_a_block_comes_from_the_archive(sample: Sample, tmp_path: Path) -> None:
    events, _, _ = sample
    records, _ = topic_with_duplicates(events)
    archive(tmp_path, records)
    for start in range(0, len(records) + BLOCK, BLOCK):
        before = [raw for offset, _, raw in records[:start] if raw is not None]
        assert highest_raw_offset(str(tmp_path), TOPIC, 0, start) == max(before, default=-1), start
    assert highest_raw_offset(str(tmp_path), TOPIC, 1, len(records)) == -1  # another partition
    assert highest_raw_offset(str(tmp_path / "nowhere"), TOPIC, 0, len(records)) == -1


def test_records_without_a_raw_offset_are_never_duplicates() -> None:
    raw_offsets = RawOffsets()
    assert [raw_offsets.duplicate(raw) for raw in [5, None, None, 5, 6, 3]] == [
        False,
        False,
        False,
        True,
        False,
        True,
    ]
    assert header_raw_offset([("smsc-raw-offset", b"42")]) == 42
    assert header_raw_offset([("other", b"1")]) is None
    assert header_raw_offset([("smsc-raw-offset", b"x")]) is None
