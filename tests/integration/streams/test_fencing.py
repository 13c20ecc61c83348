"""A worker that lost its partitions without knowing (stopped past the session timeout) writes nothing for
them afterwards, and a kill -9 during a rebalance loses nothing: numbers exact, no series goes down, no
event twice."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from simulator import Faults, Truth, generate
from streams.contract import PARTITION
from tests.integration.streams.harness import (
    Scraper,
    Series,
    Topics,
    Worker,
    mismatches,
    processed,
    produce,
    read_all,
    summed,
    wait_for,
    workers,
)

pytestmark = pytest.mark.integration

FAULTS = Faults(duplicate_ratio=0.05, malformed_ratio=0.02, out_of_order_ratio=0.05, late_ratio=0.03)
NO_ARCHIVE = {"SMSC_WORKER_ARCHIVE": "false"}  # not under test here; spares the shared CPUs


def topics() -> Topics:
    run = uuid.uuid4().hex[:8]
    return Topics(raw=f"raw.{run}", events=f"events.{run}", dead=f"dead.{run}", app_id=f"streams-{run}")


def partitions(series: Series | None) -> set[str]:
    """The source partitions whose aggregates a scrape exposes."""
    return {
        value
        for (name, labels), _ in (series or {}).items()
        if name == "smsc_status_callbacks_total"
        for label, value in labels
        if label == PARTITION
    }


def settled(pair: list[Worker], total: int) -> bool:
    """Every record applied, and every partition exposed by exactly one of the workers."""
    scrapes = [w.try_scrape() for w in pair]
    if any(s is None for s in scrapes):
        return False
    owned = [partitions(s) for s in scrapes]
    return (
        processed(summed([s for s in scrapes if s is not None])) == total
        and sum(len(o) for o in owned) == 4
        and set().union(*owned) == {"0", "1", "2", "3"}
    )


def assert_events_once(bootstrap: str, names: Topics, truth: Truth) -> None:
    unique = sum(count for name, count in truth.inputs.items() if name.startswith("unique_"))
    events = read_all(bootstrap, names.events, unique + 1)  # one more than expected: none may come
    raw_offsets = [(partition, headers["smsc-raw-offset"]) for _, headers, partition in events]
    assert len(raw_offsets) == len(set(raw_offsets)), "an event was emitted twice"
    assert len(raw_offsets) == unique


def test_a_worker_stopped_past_the_session_timeout_writes_nothing_for_the_partitions_it_lost(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    callbacks = generate(seed=31, count=5000, faults=FAULTS)
    truth = Truth.from_callbacks(callbacks)
    first, middle = len(callbacks) // 5, len(callbacks) * 4 // 5
    names = topics()
    with workers(2, kafka_bootstrap, names, tmp_path, NO_ARCHIVE) as pair, Scraper(pair) as scraper:
        stopped, other = pair
        wait_for(lambda: all(w.try_scrape() is not None for w in pair), "both workers' /metrics", 60, pair)
        produce(kafka_bootstrap, names.raw, callbacks[:first])
        # A partition shows on /metrics once it has data: both own some once the group has formed.
        wait_for(
            lambda: settled(pair, first) and all(partitions(w.try_scrape()) for w in pair),
            "the first part applied, split between both",
            120,
            pair,
        )
        before = processed(stopped.scrape())

        # Stopped mid-stream: records fetched (or prefetched) and not yet produced are in its hands.
        feeding = threading.Thread(target=produce, args=(kafka_bootstrap, names.raw, callbacks[first:middle]))
        feeding.start()
        try:
            deadline = time.monotonic() + 60
            while processed(stopped.scrape()) == before:  # polled fast: the point is to catch it working
                assert time.monotonic() < deadline, "the worker never started on the second part"
                time.sleep(0.02)
            stopped.suspend()
        finally:
            feeding.join(150)
        assert not feeding.is_alive()
        try:
            # The other worker takes over once the coordinator expired the stopped one (session timeout)
            # and applies what the stopped one had in hand.
            wait_for(lambda: len(partitions(other.try_scrape())) == 4, "the takeover", 90, [other])
            wait_for(
                lambda: processed(other.scrape()) == middle,
                "the second part applied by the other",
                90,
                [other],
            )
        finally:
            stopped.resume()

        # Back: it finds it was stalled, drops what it fetched, and rejoins; the group splits the partitions.
        wait_for(lambda: bool(partitions(stopped.try_scrape())), "the stopped worker rejoined", 90, pair)
        produce(kafka_bootstrap, names.raw, callbacks[middle:])
        wait_for(lambda: settled(pair, len(callbacks)), "every record applied", 120, pair)
        time.sleep(2)  # a few more scrapes of the settled state for the scraper
        final = summed([w.scrape() for w in pair])
        stopped_log = stopped.log.read_text(errors="replace")
    assert processed(final) == len(callbacks)
    assert mismatches(truth, final) == []
    assert scraper.scrapes > 0
    assert scraper.decreases == []
    assert_events_once(kafka_bootstrap, names, truth)
    assert "event loop stalled" in stopped_log  # the path under test was taken


def test_kill_9_during_a_rebalance_then_restart_loses_and_repeats_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    callbacks = generate(seed=32, count=3000, faults=FAULTS)
    truth = Truth.from_callbacks(callbacks)
    half = len(callbacks) // 2
    names = topics()
    with workers(1, kafka_bootstrap, names, tmp_path, NO_ARCHIVE) as (first,), Scraper([first]) as scraper:
        wait_for(lambda: first.try_scrape() is not None, "the first worker's /metrics", 60, [first])
        produce(kafka_bootstrap, names.raw, callbacks[:half])
        wait_for(lambda: settled([first], half), "the first half applied", 120, [first])
        with workers(1, kafka_bootstrap, names, tmp_path, NO_ARCHIVE) as (second,):
            scraper.add(second)
            # A worker exposes nothing from the start of a rebalance to its end: the moment to kill it.
            wait_for(
                lambda: first.try_scrape() is not None and not partitions(first.try_scrape()),
                "the rebalance the second worker's join starts",
                120,
                [first, second],
            )
            first.kill()
            produce(kafka_bootstrap, names.raw, callbacks[half:])
            wait_for(
                lambda: processed(second.try_scrape() or {}) == len(callbacks),
                "every record applied by the second worker",
                120,
                [second],
            )
            with workers(1, kafka_bootstrap, names, tmp_path, NO_ARCHIVE) as (restarted,):
                scraper.add(restarted)
                pair = [second, restarted]
                wait_for(
                    lambda: settled(pair, len(callbacks)) and all(partitions(w.try_scrape()) for w in pair),
                    "the restarted worker took partitions",
                    120,
                    pair,
                )
                time.sleep(2)
                final = summed([w.scrape() for w in pair])
    assert processed(final) == len(callbacks)
    assert mismatches(truth, final) == []
    assert scraper.decreases == []
    assert_events_once(kafka_bootstrap, names, truth)
