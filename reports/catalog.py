"""The canned reports by name: what each loads from the archive and which pure function computes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reports.costs import DEFAULT_BY as COSTS_BY
from reports.costs import costs
from reports.delivery import delivery
from reports.error_codes import ERROR_COLUMNS, errors
from reports.errors import ArchiveNotFoundError, BadOptionError, EmptyRangeError
from reports.incoming import confirmations, incoming
from reports.load import Scan, load_events, open_scan, release_unused, take_frame, to_utc
from reports.messages import COST_COLUMNS, LIFECYCLE_COLUMNS, VOICE_COLUMNS, VOICE_TYPE, messages
from reports.settings import DEFAULT_ARCHIVE_ROOT
from reports.voice_menu import voice_menu

Sections = dict[str, pd.DataFrame]


@dataclass(frozen=True, slots=True)
class Query:
    root: str = DEFAULT_ARCHIVE_ROOT
    since: datetime | None = None
    until: datetime | None = None
    by: Sequence[str] | None = None  # None: the report's default
    top: int | None = 10


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    summary: str
    default_by: tuple[str, ...]
    run: Callable[[Query], Sections]
    #: (section, value columns) drawn by --plot.
    plot: tuple[str, tuple[str, ...]]


def _messages(query: Query, extra: Sequence[str] = (), *, voice: bool = False) -> pd.DataFrame:
    """Status events -> messages, reading only the columns the report needs.

    Two passes over the same listing of files (rows line up: `reports.load.Scan`): `key` alone first,
    hashed into integer codes and its strings freed, then the other columns. The hash's memo table
    (0.5-0.8 GiB on 10M keys) and the loaded columns (0.7-1 GiB) are never in memory together. `voice`: only
    the rows of keys that have a voice status (type 7) are loaded in the second pass; other messages
    cannot end as a voice call (see `reports.messages`), so the voice report is the same."""
    scan = open_scan("status", query.since, query.until, root=query.root)
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


def _cost_columns(by: Sequence[str]) -> tuple[str, ...]:
    """`COST_COLUMNS` when a breakdown needs them (by balance or template kind), else none."""
    return COST_COLUMNS if {"balance", "template_kind"} & set(by) else ()


def _delivery(query: Query) -> Sections:
    by = query.by or ("account",)
    return {"delivery": delivery(_messages(query, _cost_columns(by)), by)}


def _costs(query: Query) -> Sections:
    return {"costs": costs(_messages(query, COST_COLUMNS), query.by or COSTS_BY)}


def _errors(query: Query) -> Sections:
    current = load_events("status", query.since, query.until, ERROR_COLUMNS, root=query.root)
    previous = None
    if query.since is not None and query.until is not None:
        start = query.since - (query.until - query.since)
        try:
            previous = load_events("status", start, query.since, ERROR_COLUMNS, root=query.root)
        except EmptyRangeError:
            previous = current.iloc[0:0]
    return {"errors": errors(current, previous, query.by or ("account",), query.top)}


def _voice_menu(query: Query) -> Sections:
    by = query.by or ("account",)
    # `cnt` is in both lists: `_messages` reads a column once.
    return voice_menu(_messages(query, (*VOICE_COLUMNS, *_cost_columns(by)), voice=True), by)


def _incoming(query: Query) -> Sections:
    by = query.by or ("account",)
    sections = {"incoming": incoming(load_events("incoming", query.since, query.until, root=query.root), by)}
    try:
        confirmed = load_events(
            "call_confirmation", query.since, query.until, ("account", "event_time"), root=query.root
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
        ),
    )
}


def run_report(
    name: str,
    *,
    root: str = DEFAULT_ARCHIVE_ROOT,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    by: Sequence[str] | None = None,
    top: int | None = 10,
) -> Sections:
    """A canned report as named sections (DataFrames); the CLI renders them."""
    if name not in REPORTS:
        raise BadOptionError("report", name, f"one of {', '.join(REPORTS)}")
    query = Query(root, to_utc(since, option="since"), to_utc(until, option="until"), by, top)
    return REPORTS[name].run(query)
