"""Destinations through the real pipeline: two workers, ported numbers whose HLR answers cross partitions
and workers, a degraded carrier — every metric, and the archive's reports by country and carrier, equal
the simulator's independent recount.

An HLR answer improves the carrier of messages first seen after it reached the worker that sees them
(docs/streams-design.md). The simulator messages a ported number only 60 simulated seconds after its
look-up was answered, so the callbacks are fed in phases of 30 simulated seconds, each once the previous
one is processed and every answer of it is in both workers' HLR memory: then "after" is the same for the
workers as for the recount, and the test is exact rather than a race.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from reports.catalog import run_report
from simulator import Recipients, SimulatedCallback, Truth, generate
from tests.integration.streams.harness import (
    Series,
    Topics,
    mismatches,
    processed,
    produce,
    remembered,
    summed,
    wait_for,
    workers,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

#: Shorter than the simulator's settle time (60 s) between a ported number's answer and its messages.
PHASE_SECONDS = 30.0
DEGRADED = ("RU", "MegaFon")
FINAL = "smsc_destination_messages_final_total"


def answered_numbers(callbacks: Sequence[SimulatedCallback]) -> set[str]:
    """Numbers with an HLR look-up answered with a network (the workers remember each)."""
    return {
        callback.params["phone"]
        for callback in callbacks
        if callback.params.get("type") == "4"
        and callback.params.get("status") == "1"
        and ("mcc" in callback.params or "net" in callback.params)
    }


def phases(callbacks: Sequence[SimulatedCallback]) -> list[list[SimulatedCallback]]:
    start = min(callback.sent_at for callback in callbacks)
    grouped: dict[int, list[SimulatedCallback]] = defaultdict(list)
    for callback in callbacks:
        grouped[int((callback.sent_at - start) // PHASE_SECONDS)].append(callback)
    return [grouped[index] for index in sorted(grouped)]


def test_two_workers_with_ported_numbers_and_a_degraded_carrier_equal_the_recount(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    callbacks = generate(
        seed=31,
        count=4000,
        account="acme",
        recipients=Recipients(ported_share=0.25, degrade_carrier=":".join(DEGRADED)),
    )
    truth = Truth.from_callbacks(callbacks)
    # The run exercises what it is about: messages attributed to an HLR answer, and the degraded carrier.
    assert truth.value("smsc_destination_carrier_sources_total", account="acme", source="hlr") >= 20
    degraded = {outcome: truth.total(FINAL, country=DEGRADED[0], carrier=DEGRADED[1], outcome=outcome)
                for outcome in ("delivered", "failed", "expired")}  # fmt: skip
    assert degraded["delivered"] < degraded["failed"] + degraded["expired"], degraded

    run = uuid.uuid4().hex[:8]
    names = Topics(raw=f"raw.{run}", events=f"events.{run}", dead=f"dead.{run}", app_id=f"dest-{run}")
    with workers(2, kafka_bootstrap, names, tmp_path) as pair:
        wait_for(lambda: all(w.try_scrape() is not None for w in pair), "both /metrics", 60, pair)
        fed: list[SimulatedCallback] = []
        for phase in phases(callbacks):
            produce(kafka_bootstrap, names.raw, phase)
            fed.extend(phase)
            applied, answered = len(fed), len(answered_numbers(fed))
            wait_for(
                lambda applied=applied: processed(summed([w.scrape() for w in pair])) >= applied,
                f"{applied} records applied",
                120,
                pair,
            )
            wait_for(
                lambda answered=answered: all(remembered(w) >= answered for w in pair),
                f"{answered} HLR answers in both workers' memory",
                60,
                pair,
            )
        scrapes = [w.scrape() for w in pair]
        assert all(remembered(w) == len(answered_numbers(callbacks)) for w in pair)
        total: Series = summed(scrapes)
        assert processed(total) == len(callbacks)
        assert mismatches(truth, total) == []
        # Each worker holds some partitions: the recount is met by the sum, not by one of them.
        assert all(processed(scrape) > 0 for scrape in scrapes)

        # The archive (both workers' sinks, one root) by country and carrier equals the recount.
        archive = tmp_path / "archive"
        final = sum(truth.values[FINAL].values(), Decimal(0))
        wait_for(lambda: _archived_final(archive) == final, "every final message archived", 60, pair)
    expected_rows = _truth_by_destination(truth)
    assert _delivery_by_destination(archive) == expected_rows
    # Spend by destination too (the costs report's total per country and carrier).
    spend = run_report("costs", root=str(archive), by=["country", "carrier"])
    costs = next(iter(spend.values()))
    got = {
        (str(row["country"]), str(row["carrier"])): Decimal(str(round(float(row["spend"]), 4)))
        for row in costs.to_dict("records")
        if float(row["spend"])
    }
    want: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (_, _, country, carrier), value in truth.values["smsc_destination_cost_total"].items():
        want[(country, carrier)] += value
    assert got == {key: value for key, value in want.items() if value}


def _archived_final(root: Path) -> Decimal:
    try:
        rows = _delivery_by_destination(root)
    except Exception:  # noqa: BLE001 (not archived yet: no directory, no rows)
        return Decimal(-1)
    return Decimal(sum(sum(outcomes.values()) for outcomes in rows.values()))


def _delivery_by_destination(root: Path) -> dict[tuple[str, str], dict[str, int]]:
    sections = run_report("delivery", root=str(root), by=["country", "carrier"])
    table = next(iter(sections.values()))
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for row in table.to_dict("records"):
        outcomes = {outcome: int(row[outcome]) for outcome in ("delivered", "failed", "expired")}
        if sum(outcomes.values()):
            rows[(str(row["country"]), str(row["carrier"]))] = outcomes
    return rows


def _truth_by_destination(truth: Truth) -> dict[tuple[str, str], dict[str, int]]:
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"delivered": 0, "failed": 0, "expired": 0}
    )
    for (_, _, country, carrier, outcome), value in truth.values[FINAL].items():
        rows[(country, carrier)][outcome] += int(value)
    return dict(rows)
