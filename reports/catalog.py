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
from reports.load import load_events, load_table, to_frame, to_utc
from reports.messages import COST_COLUMNS, LIFECYCLE_COLUMNS, VOICE_COLUMNS, messages
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


def _messages(query: Query, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Status events -> messages, reading only the columns the report needs."""
    columns = list(dict.fromkeys([*LIFECYCLE_COLUMNS, *extra]))
    # No name holds the Arrow tables: to_frame's self-destructing conversion can then free each column.
    return messages(
        to_frame(_key_codes(load_table("status", query.since, query.until, columns, root=query.root)))
    )


def _key_codes(table: pa.Table) -> pa.Table:
    """`key` -> `key_code` (int32) in Arrow: 10M key strings never become pandas objects. One memo table
    across chunks, so every chunk's indices refer to the same dictionary."""
    encoded = pc.dictionary_encode(table.column("key"))
    codes = pa.chunked_array([chunk.indices for chunk in encoded.chunks], type=pa.int32())
    return table.set_column(table.column_names.index("key"), "key_code", codes)


def _delivery(query: Query) -> Sections:
    by = query.by or ("account",)
    extra = COST_COLUMNS if {"balance", "template_kind"} & set(by) else ()
    return {"delivery": delivery(_messages(query, extra), by)}


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
    return voice_menu(_messages(query, VOICE_COLUMNS), query.by or ("account",))


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
