"""The canned reports by name: what each loads from the archive and which pure function computes it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from reports.costs import DEFAULT_BY as COSTS_BY
from reports.costs import costs
from reports.delivery import delivery
from reports.destinations import (
    DEFAULT_MIN_MESSAGES,
    DEFAULT_TOP,
    destination_figures,
    destinations,
    previous_period,
)
from reports.error_codes import ERROR_COLUMNS, EVENT_GROUPS, errors
from reports.errors import ArchiveNotFoundError, BadOptionError, EmptyRangeError
from reports.grouping import MESSAGE_GROUPS, check_by
from reports.incoming import INCOMING_GROUPS, confirmations, incoming
from reports.load import Scan, check_range, load_events, open_scan, release_unused, take_frame, to_utc
from reports.messages import (
    COST_COLUMNS,
    DESTINATION_LABELS,
    LIFECYCLE_COLUMNS,
    VOICE_COLUMNS,
    VOICE_TYPE,
    messages,
)
from reports.settings import DEFAULT_ARCHIVE_ROOT
from reports.voice_menu import voice_menu
from smsc.codes import MESSAGE_TYPES

Sections = dict[str, pd.DataFrame]


@dataclass(frozen=True, slots=True)
class Query:
    root: str = DEFAULT_ARCHIVE_ROOT
    since: datetime | None = None
    until: datetime | None = None
    by: Sequence[str] | None = None  # None: the report's default
    top: int | None = 10  # None: all
    #: The period to compare with (errors, destinations); None: the same length just before.
    previous_since: datetime | None = None
    previous_until: datetime | None = None
    min_messages: int = DEFAULT_MIN_MESSAGES
    #: Only these accounts / message types (`type_name`: sms, viber ...); empty: all.
    accounts: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


#: The options only some reports take, by their `run_report` names.
Option = Literal["top", "previous", "min_messages", "type"]


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    summary: str
    default_by: tuple[str, ...]
    run: Callable[[Query], Sections]
    #: (section, value columns) drawn by --plot.
    plot: tuple[str, tuple[str, ...]]
    #: `--top` when not given (None: all; reports without a `top` option ignore it).
    default_top: int | None = None
    options: frozenset[Option] = frozenset({"type"})


def _filters(query: Query) -> ds.Expression | None:
    """`--account` / `--type` as one scan filter (a message's account and type are those of its every
    status, so filtering status rows selects whole messages)."""
    expression: ds.Expression | None = None
    for column, values in (("account", query.accounts), ("type_name", query.types)):
        if values:
            condition = ds.field(column).isin(list(values))
            expression = condition if expression is None else expression & condition
    return expression


def _messages(query: Query, extra: Sequence[str] = (), *, voice: bool = False) -> pd.DataFrame:
    """Status events -> messages, reading only the columns the report needs.

    Two passes over the same listing of files (rows line up: `reports.load.Scan`): `key` alone first,
    hashed into integer codes and its strings freed, then the other columns. The hash's memo table
    (0.5-0.8 GiB on 10M keys) and the loaded columns (0.7-1 GiB) are never in memory together. `voice`: only
    the rows of keys that have a voice status (type 7) are loaded in the second pass; other messages
    cannot end as a voice call (see `reports.messages`), so the voice report is the same."""
    scan = open_scan("status", query.since, query.until, _filters(query), root=query.root)
    codes, keep = _key_codes(scan, voice=voice)
    release_unused()  # the key strings and the hash's tables: free for the second pass
    columns = [name for name in dict.fromkeys([*LIFECYCLE_COLUMNS, *extra]) if name != "key"]
    table = scan.table(columns, expected_rows=len(codes)) if keep is None else scan.rows(columns, keep)
    # Handed over in a list, no name left holding it: take_frame frees each column once it is converted.
    tables = [table.append_column("key_code", codes)]
    del table, codes, keep
    return messages(take_frame(tables))


def _key_codes(scan: Scan, *, voice: bool = False) -> tuple[pa.ChunkedArray, pa.Array | None]:
    """`key` -> int32 codes in Arrow, one per row of the scan (10M key strings never become pandas
    objects; one memo table, so all codes refer to the same dictionary, numbered in order of first
    appearance). `voice`: also the rows to keep (those of keys with a voice status), and codes for those
    rows only — the small set of voice keys is looked up instead of hashing every key into a table."""
    table = scan.table(["key", "type"] if voice else ["key"])
    key = table.column("key")
    keep = None
    if voice:
        is_voice = pc.fill_null(pc.equal(table.column("type"), VOICE_TYPE), False)
        keep = pc.is_in(key, value_set=pc.unique(pc.filter(key, is_voice))).combine_chunks()
        key = pc.filter(key, keep)
    del table
    encoded = pc.dictionary_encode(key)
    return pa.chunked_array([chunk.indices for chunk in encoded.chunks], type=pa.int32()), keep


def _group_columns(by: Sequence[str]) -> tuple[str, ...]:
    """The columns a breakdown needs beyond the lifecycle's: `COST_COLUMNS` by balance or template kind,
    the destination by country or carrier."""
    columns: tuple[str, ...] = ()
    if {"balance", "template_kind"} & set(by):
        columns += COST_COLUMNS
    if set(DESTINATION_LABELS) & set(by):
        columns += DESTINATION_LABELS
    return columns


def _delivery(query: Query) -> Sections:
    # Checked before the archive is read: a typo costs no scan.
    by = check_by(query.by or ("account",), MESSAGE_GROUPS, "delivery")
    return {"delivery": delivery(_messages(query, _group_columns(by)), by)}


def _costs(query: Query) -> Sections:
    by = check_by(query.by or COSTS_BY, MESSAGE_GROUPS, "costs")
    return {"costs": costs(_messages(query, (*COST_COLUMNS, *_group_columns(by))), by)}


def _compared_period(query: Query, report: str) -> tuple[datetime, datetime] | None:
    """The previous period of a report that compares (None: no --since/--until, nothing to compare)."""
    if query.since is None or query.until is None:
        if query.previous_since is not None or query.previous_until is not None:
            raise BadOptionError(
                "--previous-since/--previous-until", "", f"{report} compares only a --since/--until period"
            )
        return None
    return previous_period(query.since, query.until, query.previous_since, query.previous_until)


def _errors(query: Query) -> Sections:
    by = check_by(query.by or ("account",), EVENT_GROUPS, "errors")
    period = _compared_period(query, "errors")
    where = _filters(query)
    current = load_events("status", query.since, query.until, ERROR_COLUMNS, where, query.root)
    previous = None
    if period is not None:
        try:
            previous = load_events("status", *period, ERROR_COLUMNS, where, query.root)
        except EmptyRangeError:
            previous = current.iloc[0:0]
    return {"errors": errors(current, previous, by, query.top)}


def _voice_menu(query: Query) -> Sections:
    by = check_by(query.by or ("account",), MESSAGE_GROUPS, "voice-menu")
    # `cnt` is in both lists: `_messages` reads a column once.
    return voice_menu(_messages(query, (*VOICE_COLUMNS, *_group_columns(by)), voice=True), by)


def _destinations(query: Query) -> Sections:
    if query.by is not None:
        raise BadOptionError("--by", ",".join(query.by), "destinations always groups by country, carrier")
    period = _compared_period(query, "destinations")
    if period is None:
        raise BadOptionError(
            "--since/--until", "", "destinations compares a period with the one before it: give both"
        )
    columns = (*COST_COLUMNS, *DESTINATION_LABELS)
    now = destination_figures(_messages(query, columns))
    try:
        previous_messages = _messages(replace(query, since=period[0], until=period[1]), columns)
    except EmptyRangeError:
        before = None
    else:
        before = destination_figures(previous_messages)
        del previous_messages
    table = destinations(now, before, min_messages=query.min_messages, top=query.top)
    return {"destinations": table}


def _incoming(query: Query) -> Sections:
    by = check_by(query.by or ("account",), INCOMING_GROUPS, "incoming")
    where = _filters(query)
    sections = {
        "incoming": incoming(load_events("incoming", query.since, query.until, None, where, query.root), by)
    }
    try:
        confirmed = load_events(
            "call_confirmation", query.since, query.until, ("account", "event_time"), where, query.root
        )
    except (ArchiveNotFoundError, EmptyRangeError):
        return sections
    sections["confirmations"] = confirmations(confirmed, by)
    return sections


REPORTS: Final = {
    report.name: report
    for report in (
        Report(
            "delivery",
            "sent, delivered, failed, expired, in flight, delivery ratio, latency p50/p95",
            ("account",),
            _delivery,
            ("delivery", ("delivery_ratio",)),
        ),
        Report(
            "costs",
            "spend, parts, cost per delivered message, spend on undelivered (by balance and template kind)",
            COSTS_BY,
            _costs,
            ("costs", ("spend", "undelivered_spend")),
        ),
        Report(
            "errors",
            "top error codes with descriptions and their change against the previous period",
            ("account",),
            _errors,
            ("errors", ("count", "previous")),
            default_top=10,
            options=frozenset({"top", "previous", "type"}),
        ),
        Report(
            "voice-menu",
            "answer rate, call outcomes, talk/ring percentiles, menu funnel, DTMF keys",
            ("account",),
            _voice_menu,
            ("menu", ("calls",)),
        ),
        Report(
            "incoming",
            "incoming SMS per receiving number, reply share, call confirmations",
            ("account",),
            _incoming,
            ("incoming", ("incoming", "replies")),
            options=frozenset(),
        ),
        Report(
            "destinations",
            "worst destinations (country, carrier): delivery ratio now vs the previous period, cost",
            ("country", "carrier"),
            _destinations,
            ("destinations", ("delivery_ratio", "previous_delivery_ratio")),
            default_top=DEFAULT_TOP,
            options=frozenset({"top", "previous", "min_messages", "type"}),
        ),
    )
}


_TYPE_NUMBER: Final = re.compile(r"^type_\d+$")  # a type `smsc.codes` has no name for


def run_report(
    name: str,
    *,
    root: str = DEFAULT_ARCHIVE_ROOT,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    by: Sequence[str] | None = None,
    top: int | Literal["default"] | None = "default",
    previous_since: datetime | str | None = None,
    previous_until: datetime | str | None = None,
    min_messages: int | None = None,
    accounts: Sequence[str] = (),
    types: Sequence[str] = (),
) -> Sections:
    """A canned report as named sections (DataFrames); the CLI renders them.

    `top`: rows per group (errors) or in all (destinations), None = all, "default" = the report's own
    (errors 10, destinations 20). `previous_since`/`previous_until` (errors, destinations): the period to
    compare with, default the same length just before. `min_messages` (destinations, default 20).
    `accounts`, `types` (`type_name`s): only their events (`types`: not for incoming)."""
    if name not in REPORTS:
        raise BadOptionError("report", name, f"one of {', '.join(REPORTS)}")
    report = REPORTS[name]
    _check_options(report, previous_since, previous_until, min_messages, types)
    query = Query(
        root,
        to_utc(since, option="since"),
        to_utc(until, option="until"),
        by,
        report.default_top if top == "default" else top,
        to_utc(previous_since, option="previous-since"),
        to_utc(previous_until, option="previous-until"),
        DEFAULT_MIN_MESSAGES if min_messages is None else min_messages,
        _names(accounts),
        _names(types),
    )
    check_range(query.since, query.until)
    check_range(query.previous_since, query.previous_until, "previous-until")
    if query.top is not None and query.top < 0:
        raise BadOptionError("--top", query.top, "must be >= 0 (0 = all)")
    try:
        return report.run(query)
    except EmptyRangeError as exc:
        if not (query.accounts or query.types):
            raise
        raise EmptyRangeError(exc.kind, exc.since, exc.until, _described(query)) from None


def _check_options(
    report: Report,
    previous_since: datetime | str | None,
    previous_until: datetime | str | None,
    min_messages: int | None,
    types: Sequence[str],
) -> None:
    if (previous_since is not None or previous_until is not None) and "previous" not in report.options:
        takes = [r.name for r in REPORTS.values() if "previous" in r.options]
        raise BadOptionError("--previous-since/--previous-until", report.name, f"only {', '.join(takes)}")
    if min_messages is not None and "min_messages" not in report.options:
        takes = [r.name for r in REPORTS.values() if "min_messages" in r.options]
        raise BadOptionError("--min-messages", report.name, f"only {', '.join(takes)}")
    if min_messages is not None and min_messages < 0:
        raise BadOptionError("--min-messages", min_messages, "must be >= 0")
    if types and "type" not in report.options:
        raise BadOptionError(
            "--type", report.name, "incoming SMS and call confirmations have no message type"
        )
    unknown = [t for t in _names(types) if t not in MESSAGE_TYPES.values() and not _TYPE_NUMBER.match(t)]
    if unknown:
        raise BadOptionError(
            "--type", ",".join(unknown), f"message types: {', '.join(MESSAGE_TYPES.values())} (or type_N)"
        )


def _names(values: Sequence[str]) -> tuple[str, ...]:
    """Comma-separated lists and repeated options alike: each name once, blanks dropped."""
    names = (name.strip() for value in values for name in value.split(","))
    return tuple(dict.fromkeys(name for name in names if name))


def _described(query: Query) -> str:
    """`--account` / `--type` in words, for the error of a range they leave empty."""
    parts = [
        f"{label} {', '.join(values)}"
        for label, values in (("account", query.accounts), ("type", query.types))
        if values
    ]
    return " and ".join(parts)
