"""Destinations in the archive and the reports, each against a recount in plain Python over the same
events: delivery and costs by country and carrier, the `destinations` report (a period against the one
before it), and archives written before event version 2 (alone, and mixed with newer files)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reports.archive import to_table, write_batch
from reports.catalog import run_report
from reports.destinations import COLUMNS
from reports.errors import BadOptionError
from reports.load import load_events
from reports.messages import STATUS_COLUMNS
from reports.messages import messages as reports_messages
from reports.schema import COST, UTC_NS
from reports.versions import columns_to_read, upgrade_batch
from reports.voice_menu import voice_menu
from smsc import parse_callback
from smsc.events import Destination, Event, dumps_event, event_from_callback, loads_event
from tests.unit.reports.conftest import BATCH, PORTED_TO, Workload, records

UNKNOWN: Final = "unknown"
_FINAL: Final = {
    "delivered": "delivered",
    "read": "delivered",
    "clicked": "delivered",
    "failed": "failed",
    "expired": "expired",
}
_NOT_OPENING: Final = ("not_found", "unknown")
_HLR: Final = ("hlr_country", "hlr_network", "hlr_roaming_country", "hlr_roaming_network")
_OLD_HLR: Final = ("country", "network", "roaming_country", "roaming_network")


# -- the recount: the stream metric contract's lifecycle, written out once more in plain Python ----------


@dataclass
class Message:
    account: str
    type: str
    sender: str
    country: str
    carrier: str
    day: str
    outcome: str | None = None
    charged: bool = False
    cost: Decimal = Decimal(0)
    balance: str = "main"
    template_kind: str = "none"


def _event_time(event: Event) -> datetime:
    if event["occurred_at"]:
        return datetime.fromisoformat(event["occurred_at"])
    return datetime.fromtimestamp(event["received_at_ns"] / 1e9, UTC)


def _own_destination(event: Event) -> tuple[str, str]:
    return event["country"], event["carrier"]


def recount(
    events: Iterable[Event],
    since: datetime | None = None,
    until: datetime | None = None,
    destination: Callable[[Event], tuple[str, str]] = _own_destination,
) -> dict[tuple[str, str], Message]:
    """Per message (account, key) in [since, until): in arrival order (received_at, then raw offset),
    its first status that is not not_found/unknown opens it with its labels and destination, its first
    final status decides the outcome, its first status with a cost or parts charges it."""
    rows = [
        e
        for e in events
        if e["kind"] == "status"
        and (since is None or _event_time(e) >= since)
        and (until is None or _event_time(e) < until)
    ]
    rows.sort(key=lambda e: (e["received_at_ns"], e["raw_offset"]))
    found: dict[tuple[str, str], Message] = {}
    for event in rows:
        if event["outcome"] in _NOT_OPENING:
            continue
        key = (event["account"], event["key"])
        message = found.get(key)
        if message is None:
            country, carrier = destination(event)
            message = found[key] = Message(
                event["account"],
                event["type_name"],
                event["sender"] or "none",
                country,
                carrier,
                _event_time(event).astimezone(UTC).date().isoformat(),
            )
        if message.outcome is None and event["outcome"] in _FINAL:
            message.outcome = _FINAL[event["outcome"]]
        if not message.charged and (event["cost"] is not None or event["cnt"] is not None):
            message.charged = True
            message.cost = Decimal(event["cost"] or 0)
            message.balance, message.template_kind = event["balance"], event["template_kind"]
    return found


def outcome_counts(messages: Iterable[Message], keys: Sequence[str]) -> dict[tuple[str, ...], dict[str, int]]:
    table: dict[tuple[str, ...], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("sent", "delivered", "failed", "expired", "in_flight"), 0)
    )
    for message in messages:
        row = table[tuple(getattr(message, name) for name in keys)]
        row["sent"] += 1
        row[message.outcome or "in_flight"] += 1
    return dict(table)


def money(messages: Iterable[Message], keys: Sequence[str]) -> dict[tuple[str, ...], dict[str, Any]]:
    table: dict[tuple[str, ...], dict[str, Any]] = defaultdict(
        lambda: {"messages": 0, "delivered": 0, "spend": Decimal(0), "undelivered_spend": Decimal(0)}
    )
    for message in messages:
        if not message.charged:
            continue
        row = table[tuple(getattr(message, name) for name in keys)]
        row["messages"] += 1
        row["delivered"] += message.outcome == "delivered"
        row["spend"] += message.cost
        if message.outcome in ("failed", "expired"):
            row["undelivered_spend"] += message.cost
    return dict(table)


def ratio(counts: dict[str, int]) -> float:
    final = counts["delivered"] + counts["failed"] + counts["expired"]
    return counts["delivered"] / final if final else math.nan


def assert_delivery_equals(table: pd.DataFrame, keys: Sequence[str], messages: Iterable[Message]) -> None:
    expected = outcome_counts(messages, keys)
    got = {tuple(row[k] for k in keys): row for row in records(table)}
    assert set(got) == set(expected)
    for key, counts in expected.items():
        row = got[key]
        assert {name: row[name] for name in counts} == counts, key
        assert row["delivery_ratio"] == pytest.approx(ratio(counts), nan_ok=True), key


# -- delivery and costs by destination ----------------------------------------------------------------


@pytest.mark.parametrize(
    "by",
    [
        ["country", "carrier"],
        ["carrier"],
        ["account", "country", "carrier", "type"],
        ["carrier", "day", "sender", "balance"],
    ],
)
def test_delivery_by_destination_equals_the_recount(workload: Workload, by: list[str]) -> None:
    table = run_report("delivery", root=workload.root, by=by)["delivery"]
    assert list(table.columns[: len(by)]) == by
    assert_delivery_equals(table, by, recount(workload.events).values())


def test_one_destination_per_message_and_delivery_by_it_equals_the_recount(workload: Workload) -> None:
    """Every status of a message carries the same destination (the worker sets it once per message),
    and `delivery` groups each message under it. The destinations are taken from the archive, so the
    check holds for any worker's (the integration tests run it on the real worker's archive)."""
    rows = load_events("status", root=workload.root, columns=["account", "key", "country", "carrier"])
    seen: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for account, key, country, carrier in rows.itertuples(index=False):
        seen[(account, key)].add(
            (UNKNOWN if pd.isna(country) else country, UNKNOWN if pd.isna(carrier) else carrier)
        )
    assert {len(destinations) for destinations in seen.values()} == {1}
    archived = {message: destinations.pop() for message, destinations in seen.items()}
    messages = recount(workload.events, destination=lambda e: archived[(e["account"], e["key"])])
    table = run_report("delivery", root=workload.root, by=["country", "carrier"])["delivery"]
    assert_delivery_equals(table, ["country", "carrier"], messages.values())


def test_the_workload_has_destinations_to_tell_apart(workload: Workload) -> None:
    """What the tests above stand on: several countries and carriers, HLR and range sources."""
    messages = recount(workload.events).values()
    assert len({m.country for m in messages}) >= 4
    assert len({m.carrier for m in messages}) >= 6
    assert PORTED_TO in {m.carrier for m in messages}
    sources = {e["carrier_source"] for e in workload.events if e["kind"] == "status"}
    assert {"hlr", "range"} <= sources


@pytest.mark.parametrize("by", [["country", "carrier"], ["account", "carrier", "template_kind"]])
def test_costs_by_destination_equal_the_recount(workload: Workload, by: list[str]) -> None:
    table = run_report("costs", root=workload.root, by=by)["costs"]
    expected = money(recount(workload.events).values(), by)
    got = {tuple(row[k] for k in by): row for row in records(table)}
    assert set(got) == set(expected)
    for key, figures in expected.items():
        row = got[key]
        assert (row["messages"], row["delivered"]) == (figures["messages"], figures["delivered"]), key
        assert row["spend"] == pytest.approx(float(figures["spend"])), key
        assert row["undelivered_spend"] == pytest.approx(float(figures["undelivered_spend"])), key
    assert table["spend"].sum() == pytest.approx(float(sum(f["spend"] for f in expected.values())))


def test_filters_select_whole_messages(workload: Workload) -> None:
    by = ["account", "type", "country", "carrier"]
    whole = run_report("delivery", root=workload.root, by=by)["delivery"]
    acme_sms = run_report("delivery", root=workload.root, by=by, accounts=["acme"], types=["sms"])["delivery"]
    picked = whole[(whole["account"] == "acme") & (whole["type"] == "sms")].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        acme_sms.astype(dict.fromkeys(by, str)), picked.astype(dict.fromkeys(by, str)), check_exact=True
    )
    two = run_report("costs", root=workload.root, by=["account"], accounts=["acme,globex"])["costs"]
    assert set(two["account"]) == {"acme", "globex"}


# -- the destinations report -------------------------------------------------------------------------


def expected_destinations(
    now: dict[tuple[str, str], Message],
    before: dict[tuple[str, str], Message],
    min_messages: int,
    top: int | None,
) -> list[dict[str, Any]]:
    keys = ("country", "carrier")
    counts, previous = outcome_counts(now.values(), keys), outcome_counts(before.values(), keys)
    spent = money(now.values(), keys)
    rows = []
    for key, figures in counts.items():
        if figures["sent"] < min_messages:
            continue
        earlier = previous.get(key)
        previous_messages = earlier["sent"] if earlier else 0
        before_ratio = ratio(earlier) if earlier and previous_messages >= min_messages else math.nan
        paid = spent.get(key, {"spend": Decimal(0), "undelivered_spend": Decimal(0)})
        rows.append(
            {
                "country": key[0],
                "carrier": key[1],
                "messages": figures["sent"],
                "delivery_ratio": ratio(figures),
                "previous_delivery_ratio": before_ratio,
                "change_points": 100 * (ratio(figures) - before_ratio),
                "delivered": figures["delivered"],
                "failed": figures["failed"],
                "expired": figures["expired"],
                "in_flight": figures["in_flight"],
                "spend": float(paid["spend"]),
                "undelivered_spend": float(paid["undelivered_spend"]),
                "previous_messages": previous_messages,
            }
        )

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        change, now_ratio = row["change_points"], row["delivery_ratio"]
        return (
            math.isnan(change),
            0.0 if math.isnan(change) else change,
            math.isnan(now_ratio),
            0.0 if math.isnan(now_ratio) else now_ratio,
            -row["messages"],
            row["country"],
            row["carrier"],
        )

    rows.sort(key=order)
    return rows if top is None else rows[:top]


def assert_rows_equal(table: pd.DataFrame, expected: list[dict[str, Any]]) -> None:
    assert list(table.columns) == list(COLUMNS)
    got = records(table)
    assert [(r["country"], r["carrier"]) for r in got] == [(r["country"], r["carrier"]) for r in expected]
    for row, want in zip(got, expected, strict=True):
        assert row == pytest.approx(want, nan_ok=True), (row["country"], row["carrier"])


@pytest.mark.parametrize(("min_messages", "top"), [(5, None), (1, 4), (40, None)])
def test_destinations_now_against_the_previous_period_equal_the_recount(
    workload: Workload, min_messages: int, top: int | None
) -> None:
    since = datetime(2025, 3, 3, 6, 0, 30, tzinfo=UTC)
    until = since + timedelta(seconds=30)
    table = run_report(
        "destinations", root=workload.root, since=since, until=until, min_messages=min_messages, top=top
    )["destinations"]
    now = recount(workload.events, since, until)
    before = recount(workload.events, since - timedelta(seconds=30), since)
    expected = expected_destinations(now, before, min_messages, top)
    assert expected  # the workload has destinations above the threshold
    assert_rows_equal(table, expected)


def _status(
    number: int, status: int, at: datetime, destination: Destination, offset: int, account: str = "acme"
) -> Event:
    params = {
        "id": str(number),
        "phone": f"7916{number:07d}",
        "status": str(status),
        "cost": "2.00",
        "cnt": "1",
    }
    params["ts"] = str(int(at.timestamp()))
    if status == 20:
        params["err"] = "1"
    return event_from_callback(
        parse_callback(params),
        account=account,
        received_at_ns=int(at.timestamp()) * 10**9 + 1000,
        raw_partition=0,
        raw_offset=offset,
        destination=destination,
    )


MTS: Final = ("RU", "MTS", "range")
MEGAFON: Final = ("RU", "MegaFon", "hlr")
KCELL: Final = ("KZ", "Kcell/Activ", "range")
A1: Final = ("BY", "A1", "range")


def _period(
    start: datetime, first: int, plan: Sequence[tuple[Destination, Sequence[int | None]]]
) -> list[Event]:
    """One message per final status in `plan` (None: still in flight), each sent (status 0) and ended 10
    s later, a minute apart per destination."""
    events: list[Event] = []
    number = first
    for destination, finals in plan:
        for index, final in enumerate(finals):
            at = start + timedelta(minutes=index % 50, seconds=index // 50)
            events.append(_status(number, 0, at, destination, 0))
            if final is not None:
                events.append(_status(number, final, at + timedelta(seconds=10), destination, 0))
            number += 1
    events.sort(key=lambda e: e["received_at_ns"])
    for offset, event in enumerate(events):
        event["raw_offset"] = offset
    return events


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Event]]:
    """A designed hour: MTS falls from 90 % to 30 % delivered, MegaFon stays at 90 %, Kcell is new (5
    messages the hour before), A1 has too few messages; the day before, MTS delivered everything."""
    hour = datetime(2026, 11, 24, 10, tzinfo=UTC)
    day_before = _period(hour - timedelta(days=1), 1, [(MTS, [1] * 40)])
    before = _period(
        hour - timedelta(hours=1),
        1000,
        [(MTS, [1] * 36 + [20] * 4), (MEGAFON, [1] * 27 + [3] * 3), (KCELL, [1] * 5)],
    )
    now = _period(
        hour,
        2000,
        [
            (MTS, [1] * 12 + [20] * 20 + [3] * 8),
            (MEGAFON, [1] * 27 + [20] * 3),
            (KCELL, [1] * 20 + [None] * 5),
            (A1, [20] * 10),
        ],
    )
    root = str(tmp_path_factory.mktemp("drop") / "archive")
    for part, (events, offset) in enumerate(((day_before, 0), (before, 10_000), (now, 20_000))):
        for event in events:
            event["raw_offset"] += offset
        write_batch(
            root, events, topic="smsc.events", partition=part, first_offset=0, last_offset=len(events) - 1
        )
    return root, [*day_before, *before, *now]


def test_destinations_puts_the_largest_drop_first(drop: tuple[str, list[Event]]) -> None:
    root, events = drop
    table = run_report("destinations", root=root, since="2026-11-24T10:00Z", until="2026-11-24T11:00Z")
    rows = records(table["destinations"])
    assert [(r["country"], r["carrier"]) for r in rows] == [
        ("RU", "MTS"),
        ("RU", "MegaFon"),
        ("KZ", "Kcell/Activ"),
    ]
    mts, megafon, kcell = rows
    assert mts == pytest.approx(
        {
            "country": "RU",
            "carrier": "MTS",
            "messages": 40,
            "delivery_ratio": 0.3,
            "previous_delivery_ratio": 0.9,
            "change_points": -60.0,
            "delivered": 12,
            "failed": 20,
            "expired": 8,
            "in_flight": 0,
            "spend": 80.0,
            "undelivered_spend": 56.0,
            "previous_messages": 40,
        }
    )
    assert megafon["change_points"] == pytest.approx(0.0)
    # Kcell: 5 messages before (< 20): no change to rank it by, listed after; its 5 in flight not in the ratio
    assert (kcell["messages"], kcell["delivery_ratio"], kcell["previous_messages"]) == (25, 1.0, 5)
    assert math.isnan(kcell["previous_delivery_ratio"])
    assert math.isnan(kcell["change_points"])
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    expected = expected_destinations(
        recount(events, now, now + timedelta(hours=1)), recount(events, now - timedelta(hours=1), now), 20, 20
    )
    assert_rows_equal(table["destinations"], expected)


def test_destinations_options(drop: tuple[str, list[Event]]) -> None:
    root = drop[0]
    hour: dict[str, Any] = {"since": "2026-11-24T10:00Z", "until": "2026-11-24T11:00Z"}
    top = run_report("destinations", root=root, top=1, **hour)["destinations"]
    assert list(top["carrier"]) == ["MTS"]
    everything = run_report("destinations", root=root, min_messages=0, top=None, **hour)["destinations"]
    assert set(everything["carrier"]) == {"MTS", "MegaFon", "Kcell/Activ", "A1"}
    # Against the same hour of the day before: MTS delivered everything then (a 70-point drop).
    day = run_report("destinations", root=root, previous_since="2026-11-23T10:00Z", **hour)["destinations"]
    assert records(day)[0]["change_points"] == pytest.approx(-70.0)
    assert records(day)[0]["previous_messages"] == 40
    ended = run_report("destinations", root=root, previous_until="2026-11-23T11:00Z", **hour)["destinations"]
    pd.testing.assert_frame_equal(ended, day)
    # Nothing the period before: every destination is new, none has a change.
    alone = run_report("destinations", root=root, since="2026-11-23T10:00Z", until="2026-11-23T11:00Z")
    assert records(alone["destinations"])[0]["previous_messages"] == 0
    # Only other accounts: nothing at all.
    with pytest.raises(Exception, match="of account nobody"):
        run_report("destinations", root=root, accounts=["nobody"], **hour)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give both"),
        ({"since": "2026-11-24T10:00Z"}, "give both"),
        ({"by": ["account"], "since": "2026-11-24", "until": "2026-11-25"}, "always groups by country"),
        ({"min_messages": -1, "since": "2026-11-24", "until": "2026-11-25"}, "must be >= 0"),
        (
            {
                "previous_since": "2026-11-24",
                "previous_until": "2026-11-23",
                "since": "2026-11-24",
                "until": "2026-11-25",
            },
            "must be later than previous-since",
        ),
        ({"types": ["telegram"], "since": "2026-11-24", "until": "2026-11-25"}, "message types: sms"),
    ],
)
def test_destinations_bad_options_are_clear_errors(
    drop: tuple[str, list[Event]], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadOptionError, match=message):
        run_report("destinations", root=drop[0], **options)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("delivery", {"by": ["country", "colour"]}, "unknown colour; delivery groups by any of account, day"),
        ("costs", {"by": ["network"]}, "costs groups by any of .*country, carrier"),
        ("delivery", {"min_messages": 5}, "only destinations"),
        ("costs", {"previous_since": "2026-11-24"}, "only errors, destinations"),
        ("incoming", {"types": ["sms"]}, "no message type"),
        ("errors", {"previous_since": "2026-11-24"}, "compares only a --since/--until period"),
    ],
)
def test_options_a_report_does_not_take_are_clear_errors(
    drop: tuple[str, list[Event]], name: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadOptionError, match=message):
        run_report(name, root=drop[0], **options)


# -- archives written before event version 2 ----------------------------------------------------------

#: The archive's columns before event version 2, in their order then: the HLR answer as `country`,
#: `network`, `roaming_country`, `roaming_network`; no destination.
OLD_SCHEMA: Final = pa.schema(
    [
        ("v", pa.int16()),
        ("account", pa.string()),
        ("key", pa.string()),
        ("event_time", UTC_NS),
        ("received_at", UTC_NS),
        ("occurred_at", UTC_NS),
        ("raw_partition", pa.int32()),
        ("raw_offset", pa.int64()),
        ("signature_algorithm", pa.string()),
        ("id", pa.string()),
        ("phone", pa.string()),
        ("status", pa.int16()),
        ("status_name", pa.string()),
        ("outcome", pa.string()),
        ("ts", UTC_NS),
        ("time", UTC_NS),
        ("err", pa.int16()),
        ("err_category", pa.string()),
        ("syserr", pa.string()),
        ("cnt", pa.int32()),
        ("type", pa.int16()),
        ("type_name", pa.string()),
        ("cost", COST),
        ("flag", pa.int32()),
        ("balance", pa.string()),
        ("template_kind", pa.string()),
        ("sender", pa.string()),
        ("dtmf", pa.string()),
        ("cmt", pa.string()),
        ("overtime_seconds", pa.int32()),
        ("voice_outcome", pa.string()),
        ("imsi", pa.string()),
        ("msc", pa.string()),
        ("mcc", pa.int32()),
        ("mnc", pa.string()),
        ("country", pa.string()),
        ("network", pa.string()),
        ("roaming_country", pa.string()),
        ("roaming_network", pa.string()),
        ("calltime_seconds", pa.int32()),
        ("callmenu", pa.string()),
        ("ringtime_seconds", pa.int32()),
        ("sms_id", pa.string()),
        ("mes", pa.string()),
        ("to", pa.string()),
        ("smsc", pa.string()),
        ("sent", UTC_NS),
        ("is_reply", pa.bool_()),
        ("waitcall", pa.int16()),
        ("extra", pa.string()),
    ]
)


def version_1(event: Event) -> Event:
    """The event as the worker wrote it with event version 1: the HLR fields by their old names, no
    destination."""
    old = {
        name: value for name, value in event.items() if name not in ("country", "carrier", "carrier_source")
    }
    for new, previous in zip(_HLR, _OLD_HLR, strict=True):
        if new in old:  # a status's: the other kinds never had them
            old[previous] = old.pop(new)
    old["v"] = 1
    return old


def old_table(events: Sequence[Event]) -> pa.Table:
    """The rows the writer made of `events` before version 2, in the old schema (via today's writer: the
    conversions of times and money did not change)."""
    current = to_table(events)
    columns = {}
    for field in OLD_SCHEMA:
        if field.name == "v":
            columns["v"] = pa.array([1] * len(events), pa.int16())
        elif field.name in _OLD_HLR:
            columns[field.name] = current.column(_HLR[_OLD_HLR.index(field.name)])
        else:
            columns[field.name] = current.column(field.name)
    return pa.table(columns, schema=OLD_SCHEMA)


def write_old(root: str, events: Sequence[Event], partition: int, first_offset: int) -> None:
    """Write a batch as the old writer did: the same layout and names, the old schema."""
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        groups[(event["kind"], _event_time(event).date().isoformat())].append(event)
    for (kind, date), rows in groups.items():
        directory = Path(root) / f"kind={kind}" / f"date={date}"
        directory.mkdir(parents=True, exist_ok=True)
        name = f"smsc.events-{partition}-{first_offset}-{first_offset + len(events) - 1}.parquet"
        pq.write_table(old_table(rows), directory / name, compression="zstd")


def _batches(events: list[Event]) -> list[tuple[int, list[Event]]]:
    return [(first, events[first : first + BATCH]) for first in range(0, len(events), BATCH)]


@pytest.fixture(scope="module")
def old_archive(workload: Workload, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("old") / "archive")
    for first, batch in _batches(workload.events):
        write_old(root, batch, 0, first)
    return root


def test_an_old_file_is_really_of_the_old_layout(old_archive: str) -> None:
    path = next(Path(old_archive).glob("kind=status/date=*/*.parquet"))
    names = pq.read_schema(path).names
    assert "network" in names
    assert "carrier" not in names
    assert "hlr_country" not in names


def _by_offset(frame: pd.DataFrame, columns: Sequence[str]) -> dict[int, tuple[Any, ...]]:
    return {
        int(row[0]): tuple(None if pd.isna(v) else v for v in row[1:])
        for row in frame[["raw_offset", *columns]].itertuples(index=False)
    }


def _expected_rows(
    events: Iterable[Event], kind: str, columns: Sequence[str], old: Callable[[Event], bool]
) -> dict[int, tuple[Any, ...]]:
    """What each row must read: a status of version 1 the destination `unknown`; the HLR answer under
    the `hlr_*` names whatever the version."""
    expected = {}
    for event in events:
        if event["kind"] != kind:
            continue
        values = []
        for name in columns:
            value = event.get(name)
            if name in ("country", "carrier", "carrier_source") and kind == "status" and old(event):
                value = UNKNOWN
            values.append(value)
        expected[event["raw_offset"]] = tuple(values)
    return expected


COMPARED: Final = ("country", "carrier", "carrier_source", *_HLR)


@pytest.mark.parametrize("kind", ["status", "incoming"])
def test_an_old_archive_reads_with_the_new_columns(workload: Workload, old_archive: str, kind: str) -> None:
    frame = load_events(kind, root=old_archive, columns=["raw_offset", *COMPARED])
    expected = _expected_rows(workload.events, kind, COMPARED, lambda _: True)
    assert _by_offset(frame, COMPARED) == expected
    if kind == "status":
        assert any(values[3] for values in expected.values())  # HLR answers among them: moved, not lost
        assert set(frame["country"]) == set(frame["carrier"]) == set(frame["carrier_source"]) == {UNKNOWN}
    # Every column of the current schema, in its order; the old names are not among them.
    whole = load_events(kind, root=old_archive)
    assert not {"network", "roaming_country", "roaming_network"} & set(whole.columns)
    pd.testing.assert_frame_equal(whole[["raw_offset", *COMPARED]], frame)


def test_reports_over_an_old_archive_count_every_message_under_unknown(
    workload: Workload, old_archive: str
) -> None:
    table = run_report("delivery", root=old_archive, by=["country", "carrier"])["delivery"]
    old = recount(workload.events, destination=lambda _: (UNKNOWN, UNKNOWN))
    assert_delivery_equals(table, ["country", "carrier"], old.values())
    assert list(table["country"]) == [UNKNOWN]
    # The reports that do not ask for the destination read the old files as before.
    for name in ("delivery", "costs", "errors", "voice-menu", "incoming"):
        for section, frame in run_report(name, root=old_archive).items():
            pd.testing.assert_frame_equal(
                frame, run_report(name, root=workload.root)[section], check_exact=True
            )


def test_the_old_names_are_no_column_any_more(old_archive: str) -> None:
    with pytest.raises(BadOptionError, match="network is hlr_network since event version 2"):
        load_events("status", root=old_archive, columns=["network"])


def test_the_conversion_reads_more_only_for_the_columns_that_need_it() -> None:
    assert columns_to_read("status", ["key", "account", "outcome"]) is None
    assert columns_to_read("incoming", ["country", "to"]) is None  # no destination in either version
    assert columns_to_read("status", ["key", "country"]) == ["key", "country", "v"]
    assert columns_to_read("status", ["hlr_network"]) == ["hlr_network", "v", "carrier", "network"]


def _text(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.string()).dictionary_encode()


def test_a_batch_mixing_both_layouts_is_converted_row_by_row() -> None:
    """Files hold one layout each (a batch is one file's rows); a batch of both is still right."""
    batch = pa.RecordBatch.from_pydict(
        {
            "v": pa.array([1, 1, 2, None], pa.int16()),
            "country": _text(["Россия", UNKNOWN, "RU", "KZ"]),
            "carrier": _text([None, UNKNOWN, "MTS", "Kcell"]),
            "hlr_country": _text([None, "Казахстан", None, None]),
            "hlr_network": _text([None, "Kcell", "МТС", None]),
            "network": _text(["Билайн", None, None, None]),
        }
    )
    columns = ["carrier", "country", "hlr_country", "hlr_network"]
    got = upgrade_batch(batch, "status", columns)
    assert got.schema.names == columns
    assert got.to_pydict() == {
        "carrier": [UNKNOWN, UNKNOWN, "MTS", "Kcell"],
        "country": [UNKNOWN, UNKNOWN, "RU", "KZ"],
        "hlr_country": ["Россия", "Казахстан", None, None],
        "hlr_network": ["Билайн", "Kcell", "МТС", None],
    }
    assert all(pa.types.is_dictionary(field.type) for field in got.schema)


@pytest.fixture(scope="module")
def mixed_archive(workload: Workload, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, set[int]]:
    """The workload's batches: the first third in files of the old layout, the second third in new files
    from events of version 1 (read back from `smsc.events` after the upgrade: `loads_event`), the rest
    events of version 2. Returns the root and the raw offsets of the version 1 events."""
    root = str(tmp_path_factory.mktemp("mixed") / "archive")
    batches = _batches(workload.events)
    third = len(batches) // 3
    old: set[int] = set()
    for index, (first, batch) in enumerate(batches):
        last = first + len(batch) - 1
        if index < third:
            write_old(root, batch, 0, first)
        elif index < 2 * third:
            upgraded = [loads_event(dumps_event(version_1(event))) for event in batch]
            assert {event["v"] for event in upgraded} == {1}
            write_batch(
                root, upgraded, topic="smsc.events", partition=0, first_offset=first, last_offset=last
            )
        else:
            write_batch(root, batch, topic="smsc.events", partition=0, first_offset=first, last_offset=last)
            continue
        old.update(event["raw_offset"] for event in batch)
    return root, old


def test_a_mixed_archive_loads_every_row_as_version_2(
    workload: Workload, mixed_archive: tuple[str, set[int]]
) -> None:
    root, old = mixed_archive
    for kind in ("status", "incoming", "call_confirmation"):
        frame = load_events(kind, root=root, columns=["raw_offset", *COMPARED])
        expected = _expected_rows(workload.events, kind, COMPARED, lambda e: e["raw_offset"] in old)
        assert _by_offset(frame, COMPARED) == expected, kind
    status = load_events("status", root=root, columns=["raw_offset", "v", "country"])
    assert {1, 2} == set(status["v"].astype(int))
    assert (status["country"] == UNKNOWN).sum() < len(status)  # not everything unknown: new rows kept theirs


def test_reports_over_a_mixed_archive_equal_the_recount(
    workload: Workload, mixed_archive: tuple[str, set[int]]
) -> None:
    root, old = mixed_archive

    def destination(event: Event) -> tuple[str, str]:
        return (UNKNOWN, UNKNOWN) if event["raw_offset"] in old else _own_destination(event)

    messages = recount(workload.events, destination=destination).values()
    by = ["account", "country", "carrier"]
    assert_delivery_equals(run_report("delivery", root=root, by=by)["delivery"], by, messages)
    # The voice report reads only the rows of voice messages, batch by batch: the same conversion.
    events = load_events("status", root=root, columns=STATUS_COLUMNS)
    expected_calls = voice_menu(reports_messages(events), ["country", "carrier"])
    got_calls = run_report("voice-menu", root=root, by=["country", "carrier"])
    assert UNKNOWN in set(got_calls["calls"]["country"])
    assert len(set(got_calls["calls"]["country"])) > 1
    for section, frame in expected_calls.items():
        pd.testing.assert_frame_equal(got_calls[section], frame, check_exact=True)
    costs = run_report("costs", root=root, by=["carrier"])["costs"]
    expected = money(messages, ["carrier"])
    assert {r["carrier"]: r["spend"] for r in records(costs)} == pytest.approx(
        {key[0]: float(figures["spend"]) for key, figures in expected.items()}
    )


def test_a_version_1_event_round_trips_into_the_same_row(workload: Workload) -> None:
    """The lead's sink writes what `loads_event` returns: a version 1 event's HLR answer lands in the
    `hlr_*` columns and its destination reads `unknown` (the reader's rule agrees with the writer's)."""
    answered = next(e for e in workload.events if e["kind"] == "status" and e["hlr_network"])
    upgraded = loads_event(json.dumps(version_1(answered)).encode())
    row = to_table([upgraded]).to_pylist()[0]
    assert [row[name] for name in _HLR] == [answered[name] for name in _HLR]
    assert [row[name] for name in ("country", "carrier", "carrier_source")] == [UNKNOWN] * 3
    # Handed over as `smsc.events` holds it (the sink decodes JSON itself): the same rows.
    sample = [*workload.events[:BATCH], answered]  # every kind, and an HLR answer
    raw = [json.loads(json.dumps(version_1(event))) for event in sample]
    assert to_table(raw).equals(to_table([loads_event(dumps_event(version_1(e))) for e in sample]))
    assert to_table(raw).column("v").to_pylist() == [1] * len(sample)
