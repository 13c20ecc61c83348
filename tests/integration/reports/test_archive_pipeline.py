"""The real pipeline into the archive: embedded broker -> worker (its archive sink) -> Parquet, then every
report equals the simulator's independent recount — also after a kill -9 mid-stream, with two workers
sharing the archive, and after the sink re-reads every offset from the start (the archive is unchanged).

Small archive blocks (`SMSC_WORKER_ARCHIVE_BLOCK_EVENTS`) and a 1 s flush make many files, partial blocks
rewritten with longer ranges, and cuts that a crash or a rebalance interrupts.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from reports.errors import ReportsError
from reports.load import load_events
from reports.schema import KINDS
from simulator import Faults, SimulatedCallback, Truth, generate
from smsc.events import Event
from tests.integration.streams.harness import Series, Topics, Worker, processed, produce, wait_for, workers
from tests.unit.reports import test_destinations as destinations
from tests.unit.reports import test_reports as recount
from tests.unit.reports.conftest import Workload, unique_events

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FAULTS = Faults(duplicate_ratio=0.05, out_of_order_ratio=0.05, late_ratio=0.05)
SMALL_BLOCKS = {"SMSC_WORKER_ARCHIVE_BLOCK_EVENTS": "150"}
#: The recount checks of the unit tests, run here on the archive the real worker wrote.
CHECKS: tuple[Callable[[Workload], None], ...] = (
    recount.test_delivery_outcomes_equal_the_recount,
    recount.test_delivery_in_flight_ratio_and_latency_equal_the_recount,
    recount.test_costs_count_each_message_once,
    recount.test_errors_count_every_callback_with_an_error,
    recount.test_voice_calls_equal_the_recount,
    recount.test_incoming_and_confirmations_equal_the_recount,
    destinations.test_one_destination_per_message_and_delivery_by_it_equals_the_recount,
)


def callbacks() -> list[SimulatedCallback]:
    return [
        *generate(seed=21, count=1400, faults=FAULTS, account="acme"),
        *generate(seed=22, count=600, faults=FAULTS, account="globex"),
    ]


def topics() -> Topics:
    run = uuid.uuid4().hex[:8]
    return Topics(raw=f"raw.{run}", events=f"events.{run}", dead=f"dead.{run}", app_id=f"archive-{run}")


def archived(series: Series) -> int:
    return int(sum(value for (name, _), value in series.items() if name == "smsc_archive_events_total"))


def rows_by_kind(root: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for kind in KINDS:
        frame = load_events(kind, root=str(root), columns=["raw_offset"])
        counts[kind] = len(frame)
    return counts


def identities(root: Path) -> Counter[tuple[object, ...]]:
    """Each archived event by the contract's identity: a row twice would show as a count of 2."""
    frame = pd.concat(
        [
            load_events(kind, root=str(root), columns=["raw_partition", "raw_offset"]).assign(kind=kind)
            for kind in KINDS
        ]
    )
    return Counter(frame.itertuples(index=False, name=None))


def assert_archive_equals_the_recount(root: Path, sent: list[SimulatedCallback], events: list[Event]) -> None:
    expected = Counter(event["kind"] for event in events)
    assert rows_by_kind(root) == expected
    assert max(identities(root).values()) == 1  # no event archived twice
    workload = Workload(str(root), sent, events, Truth.from_callbacks(sent))
    for check in CHECKS:
        check(workload)


def test_the_worker_archives_every_event_once_and_reports_equal_the_recount(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    sent = callbacks()
    events = unique_events(sent)
    names = topics()
    root = tmp_path / "archive"
    with workers(1, kafka_bootstrap, names, tmp_path, SMALL_BLOCKS) as (worker,):
        wait_for(lambda: worker.try_scrape() is not None, "the worker's /metrics", 60, [worker])
        # In two goes: the first half's partial blocks are written, then rewritten with longer ranges.
        half = len(sent) // 2
        produce(kafka_bootstrap, names.raw, sent[:half])
        first_half = len(unique_events(sent[:half]))
        wait_for(lambda: archived(worker.scrape()) >= first_half, "the first half archived", 120, [worker])
        produce(kafka_bootstrap, names.raw, sent[half:])
        wait_for(lambda: archived(worker.scrape()) >= len(events), "every event archived", 120, [worker])
        assert archived(worker.scrape()) == len(events)
    assert_archive_equals_the_recount(root, sent, events)
    files = sorted(path.name for path in root.rglob("*.parquet"))

    # The sink reads every offset again from the start (a new group: no committed offsets), as after a
    # lost commit or a deliberate replay: the same files, the same rows.
    replay = {**SMALL_BLOCKS, "SMSC_WORKER_ARCHIVE_GROUP_ID": f"{names.app_id}-replay"}
    with workers(1, kafka_bootstrap, names, tmp_path, replay) as (worker,):
        wait_for(
            lambda: archived(worker.try_scrape() or {}) >= len(events), "the replay archived", 120, [worker]
        )
    assert_archive_equals_the_recount(root, sent, events)
    assert sorted(path.name for path in root.rglob("*.parquet")) == files


def test_kill_9_mid_stream_then_restart_archives_every_event_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    sent = callbacks()
    events = unique_events(sent)
    names = topics()
    first = Worker(kafka_bootstrap, names, tmp_path, SMALL_BLOCKS)
    try:
        wait_for(lambda: first.try_scrape() is not None, "the worker's /metrics", 60, [first])
        produce(kafka_bootstrap, names.raw, sent)
        wait_for(lambda: archived(first.scrape()) >= len(events) // 3, "a third archived", 120, [first])
    finally:
        first.kill()
    with workers(1, kafka_bootstrap, names, tmp_path, SMALL_BLOCKS) as (second,):
        wait_for(lambda: second.try_scrape() is not None, "the restarted worker", 60, [second])
        wait_for(lambda: _rows(tmp_path / "archive") >= len(events), "every event archived", 120, [second])
    assert_archive_equals_the_recount(tmp_path / "archive", sent, events)


def test_two_workers_share_the_archive_and_one_stops_midway(kafka_bootstrap: str, tmp_path: Path) -> None:
    sent = callbacks()
    events = unique_events(sent)
    names = topics()
    with workers(2, kafka_bootstrap, names, tmp_path, SMALL_BLOCKS) as pair:
        for worker in pair:
            wait_for(lambda w=worker: w.try_scrape() is not None, "the workers' /metrics", 60, pair)
        produce(kafka_bootstrap, names.raw, sent[: len(sent) // 2])
        wait_for(lambda: _rows(tmp_path / "archive") > 0, "the first rows", 120, pair)
        pair[1].stop()  # its partitions move: its sink writes and commits what it holds first
        produce(kafka_bootstrap, names.raw, sent[len(sent) // 2 :])
        wait_for(lambda: _rows(tmp_path / "archive") >= len(events), "every event archived", 120, pair[:1])
    assert_archive_equals_the_recount(tmp_path / "archive", sent, events)


def _pending(series: Series) -> int:
    return int(sum(value for (name, _), value in series.items() if name == "smsc_archive_pending_events"))


def _rows(root: Path) -> int:
    if not root.exists():
        return 0
    try:
        return sum(rows_by_kind(root).values())
    except (OSError, ReportsError):  # a kind not archived yet, or a range still empty
        return 0


def test_a_stopping_worker_writes_what_it_holds(kafka_bootstrap: str, tmp_path: Path) -> None:
    sent = callbacks()[:600]
    events = unique_events(sent)
    names = topics()
    holding = {"SMSC_WORKER_ARCHIVE_FLUSH_SECONDS": "3600"}  # nothing is written before the stop
    with workers(1, kafka_bootstrap, names, tmp_path, holding) as (worker,):
        wait_for(lambda: worker.try_scrape() is not None, "the worker's /metrics", 60, [worker])
        produce(kafka_bootstrap, names.raw, sent)
        wait_for(lambda: processed(worker.scrape()) >= len(sent), "every record applied", 120, [worker])
        wait_for(
            lambda: _pending(worker.scrape()) == len(events), "the sink holding every event", 60, [worker]
        )
        assert _rows(tmp_path / "archive") == 0
        worker.stop()
        assert worker.process.returncode == 0, worker.log_tail()
    assert_archive_equals_the_recount(tmp_path / "archive", sent, events)
