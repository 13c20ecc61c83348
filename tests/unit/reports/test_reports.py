"""Every canned report equals the simulator's independent recount (`Truth`) of the generated callbacks."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from reports.catalog import _key_codes, run_report
from reports.costs import DEFAULT_BY as COSTS_BY
from reports.costs import costs
from reports.delivery import delivery
from reports.load import dataset, load_events, load_table, open_scan, to_frame
from reports.messages import STATUS_COLUMNS, VOICE_TYPE, messages
from reports.schema import CATEGORICAL_CODES, SCHEMA
from reports.voice_menu import voice_menu
from simulator import Truth
from tests.unit.reports.conftest import Workload, records

ACCOUNTS = ("acme", "globex")


def _series(truth: Truth, metric: str) -> dict[tuple[str, ...], Decimal]:
    return {labels: value for labels, value in truth.values[metric].items() if value}


def _percentiles(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype="float64")
    if array.size == 0:
        return float("nan"), float("nan")
    return float(np.quantile(array, 0.5)), float(np.quantile(array, 0.95))


def test_delivery_outcomes_equal_the_recount(workload: Workload) -> None:
    table = run_report("delivery", root=workload.root, by=["account", "type", "sender"])["delivery"]
    got = {}
    for row in records(table):
        for outcome in ("delivered", "failed", "expired"):
            if row[outcome]:
                got[(row["account"], row["type"], row["sender"], outcome)] = Decimal(row[outcome])
    assert got == _series(workload.truth, "smsc_messages_final_total")
    assert table["sent"].sum() == workload.truth.inputs["messages"]


def test_delivery_in_flight_ratio_and_latency_equal_the_recount(workload: Workload) -> None:
    truth = workload.truth
    table = run_report("delivery", root=workload.root, by=["account", "type"])["delivery"]
    in_flight = {
        (r["account"], r["type"]): Decimal(int(r["in_flight"])) for r in records(table) if r["in_flight"]
    }
    assert in_flight == _series(truth, "smsc_messages_in_flight")
    for row in records(table):
        observed = truth.observations(
            "smsc_delivery_latency_seconds", account=row["account"], type=row["type"]
        )
        if observed:
            assert (row["latency_p50_seconds"], row["latency_p95_seconds"]) == pytest.approx(
                _percentiles(observed)
            )
        else:
            assert np.isnan(row["latency_p50_seconds"])
        final = sum(
            truth.value(
                "smsc_messages_final_total", account=row["account"], type=row["type"], sender=s, outcome=o
            )
            for s in table_senders(truth)
            for o in ("delivered", "failed", "expired")
        )
        delivered = truth.total(
            "smsc_messages_final_total", account=row["account"], type=row["type"], outcome="delivered"
        )
        assert row["delivery_ratio"] == pytest.approx(float(delivered / final))


def table_senders(truth: Truth) -> set[str]:
    return {labels[2] for labels in truth.values["smsc_messages_final_total"]}


def test_costs_count_each_message_once(workload: Workload) -> None:
    truth = workload.truth
    table = run_report("costs", root=workload.root)["costs"]
    for row in records(table):
        spend = truth.total(
            "smsc_cost_total",
            account=row["account"],
            balance=row["balance"],
            template_kind=row["template_kind"],
        )
        assert row["spend"] == pytest.approx(float(spend))
    assert table["spend"].sum() == pytest.approx(float(truth.total("smsc_cost_total")))

    by_type = run_report("costs", root=workload.root, by=["account", "type", "sender"])["costs"]
    parts = {
        (r["account"], r["type"], r["sender"]): Decimal(int(r["parts"]))
        for r in records(by_type)
        if r["parts"]
    }
    assert parts == _series(truth, "smsc_message_parts_total")
    for row in records(by_type):
        delivered = truth.value(
            "smsc_messages_final_total",
            account=row["account"],
            type=row["type"],
            sender=row["sender"],
            outcome="delivered",
        )
        assert row["delivered"] == delivered
        if delivered:
            assert row["cost_per_delivered"] == pytest.approx(row["spend"] / float(delivered))
    undelivered = run_report("costs", root=workload.root, by=["account", "type"])["costs"]
    got = {
        (r["account"], r["type"]): r["undelivered_spend"]
        for r in records(undelivered)
        if r["undelivered_spend"]
    }
    expected = {k: float(v) for k, v in _series(truth, "smsc_cost_undelivered_total").items()}
    assert got == pytest.approx(expected)


def test_errors_count_every_callback_with_an_error(workload: Workload) -> None:
    table = run_report("errors", root=workload.root, by=["account", "type"], top=None)["errors"]
    got = {(r["account"], r["type"], str(r["err"])): Decimal(int(r["count"])) for r in records(table)}
    assert got == _series(workload.truth, "smsc_errors_total")
    assert table["description"].notna().all()
    assert "previous" not in table.columns  # the whole archive has no previous period
    top = run_report("errors", root=workload.root, top=3)["errors"]
    assert top.groupby("account").size().max() <= 3
    assert top.groupby("account")["count"].apply(lambda c: c.is_monotonic_decreasing).all()


def test_errors_change_against_the_previous_period(workload: Workload) -> None:
    times = sorted(pd.Timestamp(e["occurred_at"]) for e in workload.events if e["occurred_at"])
    middle = times[len(times) // 2].floor("min")
    length = pd.Timedelta(minutes=2)
    since, until = middle, middle + length

    def recount(start: pd.Timestamp, end: pd.Timestamp) -> Counter[tuple[str, int]]:
        return Counter(
            (e["account"], e["err"])
            for e in workload.events
            if e["kind"] == "status" and e["err"] and start <= pd.Timestamp(e["occurred_at"]) < end
        )

    current, previous = recount(since, until), recount(since - length, since)
    table = run_report(
        "errors", root=workload.root, since=since.to_pydatetime(), until=until.to_pydatetime(), top=None
    )["errors"]
    assert {(r["account"], r["err"]): r["count"] for r in records(table)} == dict(current)
    for row in records(table):
        assert row["previous"] == previous[(row["account"], row["err"])]
        assert row["change"] == row["count"] - row["previous"]


def test_voice_calls_equal_the_recount(workload: Workload) -> None:
    truth = workload.truth
    sections = run_report("voice-menu", root=workload.root)
    calls = sections["calls"]
    for row in records(calls):
        for outcome in ("answered", "not_answered", "busy", "answering_machine", "failed", "expired"):
            assert row[outcome] == truth.value(
                "smsc_voice_calls_total", account=row["account"], outcome=outcome
            )
        talk = truth.observations("smsc_voice_call_duration_seconds", account=row["account"])
        ring = truth.observations("smsc_voice_ring_seconds", account=row["account"])
        assert (row["talk_p50_seconds"], row["talk_p95_seconds"]) == pytest.approx(
            _percentiles(talk), nan_ok=True
        )
        assert (row["ring_p50_seconds"], row["ring_p95_seconds"]) == pytest.approx(
            _percentiles(ring), nan_ok=True
        )
        assert row["overtime_seconds"] == truth.value(
            "smsc_voice_overtime_seconds_total", account=row["account"]
        )
        assert row["answer_rate"] == pytest.approx(row["answered"] / row["calls"])
    assert calls["calls"].sum() == truth.total("smsc_voice_calls_total")

    reached: Counter[tuple[str, str]] = Counter()
    for (account, path), count in _series(truth, "smsc_voice_menu_selections_total").items():
        for depth in range(1, len(path) + 1):
            reached[(account, path[:depth])] += int(count)
    menu = sections["menu"]
    assert {(r["account"], r["path"]): r["calls"] for r in records(menu)} == dict(reached)

    keys = {(r["account"], r["key"]): Decimal(int(r["presses"])) for r in records(sections["keys"])}
    assert keys == _series(truth, "smsc_voice_dtmf_total")


def test_incoming_and_confirmations_equal_the_recount(workload: Workload) -> None:
    truth = workload.truth
    sections = run_report("incoming", root=workload.root)
    for row in records(sections["incoming"]):
        replies = truth.value(
            "smsc_incoming_messages_total", account=row["account"], to=row["to"], is_reply="true"
        )
        others = truth.value(
            "smsc_incoming_messages_total", account=row["account"], to=row["to"], is_reply="false"
        )
        assert (row["incoming"], row["replies"]) == (replies + others, replies)
    assert sections["incoming"]["incoming"].sum() == truth.total("smsc_incoming_messages_total")
    confirmations = {
        r["account"]: Decimal(int(r["confirmations"])) for r in records(sections["confirmations"])
    }
    assert confirmations == {k[0]: v for k, v in _series(truth, "smsc_call_confirmations_total").items()}


@pytest.mark.parametrize(
    "by", [["day"], ["day", "sender", "type"], ["account", "balance"], ["country", "carrier", "day"]]
)
def test_grouping_keeps_the_totals(workload: Workload, by: list[str]) -> None:
    whole = run_report("delivery", root=workload.root)["delivery"]
    grouped = run_report("delivery", root=workload.root, by=by)["delivery"]
    assert list(grouped.columns[: len(by)]) == by
    for column in ("sent", "delivered", "failed", "expired", "in_flight"):
        assert grouped[column].sum() == whole[column].sum()


def _whole_table_frame(table: pa.Table) -> pd.DataFrame:
    """pyarrow's own whole-table conversion with the documented dtypes (what `to_frame` must equal)."""
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        if pa.types.is_dictionary(column.type):
            continue
        if name in CATEGORICAL_CODES or name == "date":
            table = table.set_column(index, name, pc.dictionary_encode(column))
        elif name == "cost":
            table = table.set_column(index, name, pc.cast(column, pa.float64()))
    nullable = {pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}
    frame: pd.DataFrame = table.to_pandas(types_mapper={**nullable, pa.bool_(): pd.BooleanDtype()}.get)
    return frame


@pytest.mark.parametrize("kind", ["status", "incoming", "call_confirmation"])
def test_column_at_a_time_conversion_equals_the_whole_table_one(workload: Workload, kind: str) -> None:
    table = load_table(kind, root=workload.root)
    frame = load_events(kind, root=workload.root)
    pd.testing.assert_frame_equal(frame, _whole_table_frame(table), check_exact=True)
    pd.testing.assert_frame_equal(to_frame(table), frame, check_exact=True)
    assert list(frame.columns) == [*SCHEMA.names, "date"]
    picked = load_events(kind, root=workload.root, columns=["event_time", "account", "cost"])
    assert list(picked.columns) == ["event_time", "account", "cost"]
    pd.testing.assert_frame_equal(picked, frame[["event_time", "account", "cost"]])


def test_the_key_comes_in_one_chunk_with_its_values(workload: Workload) -> None:
    table = load_table("status", root=workload.root, columns=["key", "account"])
    assert table.column("key").num_chunks == 1
    scanned = dataset("status", workload.root).to_table(columns=["key"]).column("key")
    assert scanned.num_chunks > 1  # the archive has many files: the scan alone gives many chunks
    assert table.column("key").to_pylist() == scanned.to_pylist()
    assert table.schema.field("key").type == pa.string()


def test_two_scans_of_one_listing_line_up_row_for_row(workload: Workload) -> None:
    scan = open_scan("status", root=workload.root)
    first = scan.table(["key", "raw_partition", "raw_offset"])
    n = first.num_rows
    assert len(scan.data.files) > 5  # many files: the order of files and of row groups is exercised
    offsets = first.column("raw_offset").to_pylist()
    assert len(set(offsets)) == n  # every row its own offset: equal columns mean the same rows
    again = scan.table(["raw_offset", "raw_partition", "received_at"])
    assert again.column("raw_offset").to_pylist() == offsets
    assert again.column("raw_partition").to_pylist() == first.column("raw_partition").to_pylist()
    everything = scan.rows(["raw_partition", "raw_offset"], pa.array(np.ones(n, dtype=bool)))
    assert everything.column("raw_offset").to_pylist() == offsets
    assert everything.column("raw_partition").to_pylist() == first.column("raw_partition").to_pylist()
    keep = np.random.default_rng(3).random(n) < 0.3
    some = scan.rows(["raw_offset", "key"], pa.array(keep))
    assert some.column("raw_offset").to_pylist() == [o for o, k in zip(offsets, keep, strict=True) if k]
    assert some.column("key").to_pylist() == first.column("key").filter(pa.array(keep)).to_pylist()
    for wrong in (n - 1, n + 1):  # the scan longer, or shorter, than the pass `keep` came from
        with pytest.raises(RuntimeError, match="changed between two scans"):
            scan.rows(["raw_offset"], pa.array(np.ones(wrong, dtype=bool)))


def test_key_codes_number_keys_in_order_of_first_appearance(workload: Workload) -> None:
    scan = open_scan("status", root=workload.root)
    table = scan.table(["key", "type"])
    keys, types = table.column("key").to_pylist(), table.column("type").to_pylist()
    codes, keep = _key_codes(scan)
    assert keep is None
    assert codes.type == pa.int32()
    assert codes.to_pylist() == pd.factorize(pd.Series(keys, dtype=object))[0].tolist()
    voice_keys = {key for key, kind in zip(keys, types, strict=True) if kind == VOICE_TYPE}
    assert voice_keys
    assert len(voice_keys) < len(set(keys))
    voice_codes, voice_keep = _key_codes(scan, voice=True)
    assert voice_keep is not None
    assert voice_keep.to_pylist() == [key in voice_keys for key in keys]
    kept = [key for key in keys if key in voice_keys]
    assert voice_codes.to_pylist() == pd.factorize(pd.Series(kept, dtype=object))[0].tolist()


ONE_PASS: Final = {
    "delivery": lambda frame, by: {"delivery": delivery(frame, by or ("account",))},
    "costs": lambda frame, by: {"costs": costs(frame, by or COSTS_BY)},
    "voice-menu": lambda frame, by: voice_menu(frame, by or ("account",)),
}


@pytest.mark.parametrize(
    ("name", "by", "cut"),
    [
        ("delivery", None, False),
        ("delivery", ["day", "type", "sender", "balance", "template_kind"], False),
        ("costs", None, False),
        ("costs", ["day", "type", "sender"], True),
        ("voice-menu", None, False),
        ("voice-menu", ["day", "sender", "balance"], False),
        ("voice-menu", ["account", "type"], True),
        ("delivery", ["country", "carrier"], True),
        ("costs", ["carrier", "balance", "day"], False),
        ("voice-menu", ["country"], False),
    ],
)
def test_two_pass_reports_equal_one_pass_over_the_key_strings(
    workload: Workload, name: str, by: list[str] | None, cut: bool
) -> None:
    """The catalog reads `key` alone first (integer codes) and, for voice-menu, then only the rows of keys
    with a voice status; the same report over all rows with the key strings is identical. `cut`: from
    the median event time on (messages cut by the range)."""
    since = None
    if cut:
        times = load_events("status", root=workload.root, columns=["event_time"])["event_time"]
        since = times.sort_values().iloc[len(times) // 2].to_pydatetime()
    events = load_events("status", since=since, root=workload.root, columns=STATUS_COLUMNS)
    expected = ONE_PASS[name](messages(events), by)
    got = run_report(name, root=workload.root, by=by, since=since)
    assert list(got) == list(expected)
    for section, frame in expected.items():
        assert len(frame) > 0
        pd.testing.assert_frame_equal(got[section], frame, check_exact=True)
