"""Real workers on the real broker: every metric equals the simulator's independent recount — also after
a kill -9 mid-stream, and summed over two workers while partitions move between them."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from simulator import Faults, Truth, generate
from streams.contract import METRICS, PARTITION, MetricType
from streams.replay_dead import replay_dead
from streams.settings import WorkerSettings
from tests.integration.streams.harness import (
    Topics,
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


def topics() -> Topics:
    run = uuid.uuid4().hex[:8]
    return Topics(raw=f"raw.{run}", events=f"events.{run}", dead=f"dead.{run}", app_id=f"streams-{run}")


def test_one_worker_equals_the_recount(kafka_bootstrap: str, tmp_path: Path) -> None:
    callbacks = generate(seed=11, count=3000, faults=FAULTS)
    truth = Truth.from_callbacks(callbacks)
    names = topics()
    with workers(1, kafka_bootstrap, names, tmp_path) as (worker,):
        wait_for(lambda: worker.try_scrape() is not None, "the worker's /metrics", 60, [worker])
        produce(kafka_bootstrap, names.raw, callbacks)
        wait_for(lambda: processed(worker.scrape()) >= len(callbacks), "every record applied", 120, [worker])
        wait_for(lambda: _raw_lag(worker.scrape()) == 0, "the raw lag gauges at 0", 30, [worker])
        series = worker.scrape()
        exposition = worker.scrape_text()
    assert processed(series) == len(callbacks)
    assert mismatches(truth, series) == []
    # Prometheus' own linter on the real scrape: only Faust's sensor (`smsc_streams_*`, names Faust
    # chooses) may break the naming conventions.
    assert lint_problems(exposition) == []
    # The progress gauges: every raw record consumed, by the partitions' offsets.
    offsets = {
        labels: value for (name, labels), value in series.items() if name == "smsc_stream_consumer_offset"
    }
    assert len(offsets) == 4
    assert sum(offsets.values()) == len(callbacks)
    assert (
        series[
            (
                "smsc_error_code_info",
                (("category", "voice"), ("description", "busy (voice call)"), ("err", "240")),
            )
        ]
        == 1
    )


def lint_problems(exposition: str) -> list[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs Debian's prometheus package"
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip() and not line.startswith("smsc_streams_")]


def test_the_linter_catches_a_bad_name() -> None:
    assert lint_problems("# HELP smsc_cost_ms x\n# TYPE smsc_cost_ms counter\nsmsc_cost_ms 1\n") != []


def _raw_lag(series: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    lags = [value for (name, _), value in series.items() if name == "smsc_stream_consumer_lag_records"]
    return sum(lags) if lags else float("nan")


def test_kill_9_mid_stream_then_restart_still_equals_the_recount(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    callbacks = generate(seed=12, count=6000, faults=FAULTS)
    truth = Truth.from_callbacks(callbacks)
    names = topics()
    with workers(1, kafka_bootstrap, names, tmp_path) as (first,):
        wait_for(lambda: first.try_scrape() is not None, "the worker's /metrics", 60, [first])
        produce(kafka_bootstrap, names.raw, callbacks)
        wait_for(lambda: processed(first.scrape()) >= len(callbacks) // 3, "a third applied", 120, [first])
        first.kill()
    with workers(1, kafka_bootstrap, names, tmp_path) as (second,):
        wait_for(
            lambda: (s := second.try_scrape()) is not None and processed(s) >= len(callbacks),
            "every record applied after the restart",
            180,
            [second],
        )
        series = second.scrape()
        unique = sum(count for name, count in truth.inputs.items() if name.startswith("unique_"))
        events = read_all(kafka_bootstrap, names.events, unique + 1)  # one more than expected: none may come
    assert processed(series) == len(callbacks)
    assert mismatches(truth, series) == []
    # smsc.events holds each deduplicated callback exactly once, although the kill made the worker replay.
    raw_offsets = [(partition, headers["smsc-raw-offset"]) for _, headers, partition in events]
    assert len(raw_offsets) == unique
    assert len(set(raw_offsets)) == unique


def test_scale_out_and_in_sum_to_the_recount_and_no_series_goes_down(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A second worker joins mid-stream and takes partitions, then stops and gives them back: the two sum to
    the recount, every partition is exposed by one worker at a time, and no counter or histogram series
    of either worker ever goes down (Prometheus would read that as a reset: `increase()` spikes)."""
    callbacks = generate(seed=13, count=4000, faults=FAULTS)
    truth = Truth.from_callbacks(callbacks)
    half = len(callbacks) // 2
    names = topics()
    with workers(1, kafka_bootstrap, names, tmp_path) as (first,):
        wait_for(lambda: first.try_scrape() is not None, "the first worker's /metrics", 60, [first])
        produce(kafka_bootstrap, names.raw, callbacks[:half])
        wait_for(lambda: processed(first.scrape()) >= half, "the first half applied", 120, [first])
        first_alone = first.scrape()
        assert _partitions(first_alone) == {"0", "1", "2", "3"}
        with workers(1, kafka_bootstrap, names, tmp_path) as (second,):
            pair = [first, second]
            wait_for(
                lambda: processed(second.try_scrape() or {}) > 0,
                "the second worker to take partitions",
                120,
                pair,
            )
            produce(kafka_bootstrap, names.raw, callbacks[half:])
            wait_for(
                lambda: processed(summed([w.scrape() for w in pair])) >= len(callbacks),
                "every record applied",
                180,
                pair,
            )
            scrapes = [w.scrape() for w in pair]
            both = summed(scrapes)
            assert processed(both) == len(callbacks)
            assert mismatches(truth, both) == []
            owned = [_partitions(scrape) for scrape in scrapes]
            assert all(owned), owned
            assert not owned[0] & owned[1], owned
            assert owned[0] | owned[1] == {"0", "1", "2", "3"}
            assert _went_down(first_alone, scrapes[0]) == []  # the first worker gave partitions away
            second.stop()
        wait_for(
            lambda: processed(first.scrape()) >= len(callbacks), "the first worker owns all", 120, [first]
        )
        alone = first.scrape()
    assert processed(alone) == len(callbacks)
    assert mismatches(truth, alone) == []
    assert _went_down(scrapes[0], alone) == []  # and took them back
    assert _partitions(alone) == {"0", "1", "2", "3"}


def _partitions(series: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> set[str]:
    """The source partitions whose aggregates a scrape exposes."""
    return {
        value
        for (name, labels), _ in series.items()
        if name == "smsc_status_callbacks_total"
        for label, value in labels
        if label == PARTITION
    }


def _went_down(
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
) -> list[str]:
    """Every counter or histogram series of the aggregates exposed in both scrapes that decreased."""
    monotonic = {spec.name for spec in METRICS if spec.type is not MetricType.GAUGE}
    problems = []
    for (name, labels), value in after.items():
        base = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        was = before.get((name, labels))
        if base in monotonic and was is not None and value < was:
            problems.append(f"{name}{dict(labels)}: {was} -> {value}")
    return problems


def test_dead_letters_keep_the_raw_record_and_reason_and_replay_dead_refeeds_them(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    callbacks = generate(seed=14, count=600, faults=Faults(malformed_ratio=0.1))
    truth = Truth.from_callbacks(callbacks)
    names = topics()
    settings = WorkerSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        raw_topic=names.raw,
        events_topic=names.events,
        dead_topic=names.dead,
    )
    dead = int(truth.inputs["dead"])
    assert dead > 0
    with workers(1, kafka_bootstrap, names, tmp_path) as (worker,):
        wait_for(lambda: worker.try_scrape() is not None, "the worker's /metrics", 60, [worker])
        produce(kafka_bootstrap, names.raw, callbacks)
        wait_for(lambda: processed(worker.scrape()) >= len(callbacks), "every record applied", 120, [worker])
        letters = read_all(kafka_bootstrap, names.dead, dead)
        assert len(letters) == dead
        assert all(headers["smsc-dead-reason"] and headers["smsc-account"] for _, headers, _ in letters)
        bodies = sorted(body for body, _, _ in letters)
        assert bodies == sorted(c.body for c in callbacks if c.is_malformed)

        report = asyncio.run(replay_dead(settings))
        assert (report.read, report.replayed) == (dead, dead)
        # Still malformed: each comes back as a dead letter again, and is counted again as dead.
        wait_for(
            lambda: processed(worker.scrape()) >= len(callbacks) + dead,
            "the replayed records applied",
            120,
            [worker],
        )
        series = worker.scrape()
    assert processed(series) == len(callbacks) + dead
    assert len(read_all(kafka_bootstrap, names.dead, 2 * dead)) == 2 * dead
