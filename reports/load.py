"""`load_events`: the archive -> a tidy pandas DataFrame, reading only the partitions and columns asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from reports.archive import live_files, resolve_root
from reports.errors import ArchiveNotFoundError, BadOptionError, EmptyRangeError
from reports.schema import CATEGORICAL, CATEGORICAL_CODES, KINDS, SCHEMA, V1_ONLY_COLUMNS
from reports.settings import DEFAULT_ARCHIVE_ROOT
from reports.versions import columns_to_read, renamed, upgrade, upgrade_batch

_PARTITIONING: Final = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
#: What a read without `columns` returns: the schema's columns and the partition day.
ALL_COLUMNS: Final = (*SCHEMA.names, "date")

Moment = datetime | date | str


def to_utc(value: Moment | None, *, option: str = "since") -> datetime | None:
    """A date (midnight UTC), an aware datetime, a naive one (taken as UTC), or an ISO string of either."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadOptionError(
                option, value, "not an ISO date or time (2026-11-24, 2026-11-24T10:00Z)"
            ) from None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_range(start: datetime | None, end: datetime | None, option: str = "until") -> None:
    """`BadOptionError` unless `start` < `end` (either None: open, fine)."""
    if start is not None and end is not None and start >= end:
        since = "previous-since" if option == "previous-until" else "since"
        raise BadOptionError(option, end.isoformat(), f"must be later than {since} ({start.isoformat()})")


def dataset(kind: str, root: str = DEFAULT_ARCHIVE_ROOT, categorical: Sequence[str] = ()) -> ds.Dataset:
    """The pyarrow dataset of one kind (`date` a partition column); `ArchiveNotFoundError` if none.

    Its schema also has the columns only files of event version 1 have (`reports.versions` reads them
    into the current ones; `Scan` never returns them)."""
    if kind not in KINDS:
        raise BadOptionError("kind", kind, f"one of {', '.join(KINDS)}")
    fs, base = resolve_root(root)
    directory = f"{base.rstrip('/')}/kind={kind}"
    if fs.get_file_info(directory).type != pafs.FileType.Directory:
        raise ArchiveNotFoundError(root, kind)
    # Text codes are decoded straight into dictionaries (Parquet stores them so): no hashing afterwards.
    dictionary = [*CATEGORICAL, *V1_ONLY_COLUMNS, *categorical]
    stored = [*SCHEMA, *(pa.field(name, pa.string()) for name in V1_ONLY_COLUMNS)]
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in dictionary else f for f in stored
    ]
    schema = pa.schema([*fields, pa.field("date", pa.string())])
    parquet = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=dictionary))
    # Listed here, not by pyarrow: a file superseded by a longer rewrite of its batch is left out.
    return ds.dataset(
        live_files(fs, directory),
        filesystem=fs,
        format=parquet,
        partitioning=_PARTITIONING,
        partition_base_dir=directory,
        schema=schema,
    )


def time_filter(since: datetime | None, until: datetime | None) -> ds.Expression | None:
    """`since <= event_time < until`, plus the `date` partitions that can hold it (pruned before reading)."""
    expression: ds.Expression | None = None
    if since is not None:
        expression = (ds.field("date") >= since.date().isoformat()) & (
            ds.field("event_time") >= pa.scalar(since, pa.timestamp("ns", tz="UTC"))
        )
    if until is not None:
        last_day = (until - timedelta(microseconds=1)).date().isoformat()
        upper = (ds.field("date") <= last_day) & (
            ds.field("event_time") < pa.scalar(until, pa.timestamp("ns", tz="UTC"))
        )
        expression = upper if expression is None else expression & upper
    return expression


def load_table(
    kind: str,
    since: Moment | None = None,
    until: Moment | None = None,
    columns: Sequence[str] | None = None,
    filters: ds.Expression | None = None,
    root: str = DEFAULT_ARCHIVE_ROOT,
    categorical: Sequence[str] = (),
) -> pa.Table:
    """`load_events` before pandas: the Arrow table (for callers that stay in Arrow).

    `categorical`: more text columns to read as dictionaries (the reports read `key` as plain strings and
    encode it in Arrow themselves; see catalog).
    """
    return open_scan(kind, since, until, filters, root, categorical, columns).table(columns)


@dataclass(frozen=True, slots=True)
class Scan:
    """One listing of the archive and one filter, scanned as often as needed: every scan of it yields the
    same rows in the same order (files in listed order, row groups and rows in file order), so columns
    read in separate passes line up row for row (the reports read `key` alone first; see catalog).
    Rows of event version 1 read as version 2 (`reports.versions`)."""

    kind: str
    start: datetime | None
    end: datetime | None
    data: ds.Dataset
    expression: ds.Expression | None

    def table(self, columns: Sequence[str] | None = None, expected_rows: int | None = None) -> pa.Table:
        """The rows of the columns asked; `EmptyRangeError` if none. `key` comes in one chunk.
        `expected_rows`: the length of an earlier pass (`RuntimeError` if the archive changed since)."""
        asked = ALL_COLUMNS if columns is None else columns
        read = columns_to_read(self.kind, asked)
        table = self.data.to_table(columns=list(asked) if read is None else read, filter=self.expression)
        if read is not None:
            table = upgrade(table, self.kind, asked)
        if table.num_rows == 0:
            raise EmptyRangeError(self.kind, self.start, self.end)
        if expected_rows is not None and table.num_rows != expected_rows:
            raise _changed(expected_rows)
        return _contiguous_key(table)

    def rows(self, columns: Sequence[str], keep: pa.Array) -> pa.Table:
        """The rows where `keep` (one boolean per row of an earlier pass, in scan order) is true, filtered
        batch by batch as the scan yields them: the rows dropped are never all in memory at once. A scan
        of another length than `keep` (a file changed between the passes) raises `RuntimeError` rather
        than misalign rows."""
        expected = len(keep)
        read = columns_to_read(self.kind, columns)
        scanner = self.data.scanner(columns=list(columns) if read is None else read, filter=self.expression)
        kept: list[pa.RecordBatch] = []
        seen = 0
        for batch in scanner.to_batches():
            if seen + batch.num_rows > expected:
                raise _changed(expected)
            kept.append(batch.filter(keep.slice(seen, batch.num_rows)))
            if read is not None:
                kept[-1] = upgrade_batch(kept[-1], self.kind, columns)
            seen += batch.num_rows
        if seen != expected:
            raise _changed(expected)
        schema = scanner.projected_schema
        if read is not None:
            schema = pa.schema([schema.field(name) for name in columns])
        return pa.Table.from_batches(kept, schema=schema)


def _changed(expected_rows: int) -> RuntimeError:
    return RuntimeError(f"the archive changed between two scans of it ({expected_rows} rows before)")


def open_scan(
    kind: str,
    since: Moment | None = None,
    until: Moment | None = None,
    filters: ds.Expression | None = None,
    root: str = DEFAULT_ARCHIVE_ROOT,
    categorical: Sequence[str] = (),
    columns: Sequence[str] | None = None,
) -> Scan:
    """The files of `kind` listed once, with the time range and `filters` as one scan filter (`columns`:
    checked here, before the listing, for the error order of `load_table`; the scan's own methods take
    their columns unchecked)."""
    start, end = to_utc(since, option="since"), to_utc(until, option="until")
    check_range(start, end)
    _check_columns(columns)
    data = dataset(kind, root, categorical)
    expression = time_filter(start, end)
    if filters is not None:
        expression = filters if expression is None else expression & filters
    return Scan(kind, start, end, data, expression)


def _check_columns(columns: Sequence[str] | None) -> None:
    if columns is not None:
        unknown = sorted(set(columns) - set(ALL_COLUMNS))
        if unknown:
            hints = [f"{name} is {renamed(name)} since event version 2" for name in unknown if renamed(name)]
            reason = "; ".join(["not archive columns (see docs/reports.md)", *hints])
            raise BadOptionError("columns", unknown, reason)


#: Up to this size the `key` column is handed over as one array, not one chunk per scanned batch.
_KEY_IN_ONE_CHUNK: Final = 2**30


def _contiguous_key(table: pa.Table) -> pa.Table:
    """`key` in one chunk: the message reports hash it (`pc.dictionary_encode`), and on 10M keys that is
    ~2x faster on one array than over the scan's ~100 chunks (which cost seconds of kernel time in
    allocations; see benchmarks/README.md, Reports). One copy of the column, the chunks freed after."""
    if "key" not in table.column_names:
        return table
    index = table.column_names.index("key")
    key = table.column(index)
    if key.num_chunks <= 1 or key.nbytes > _KEY_IN_ONE_CHUNK:
        return table
    return table.set_column(index, table.field(index), key.combine_chunks())


def load_events(
    kind: str,
    since: Moment | None = None,
    until: Moment | None = None,
    columns: Sequence[str] | None = None,
    filters: ds.Expression | None = None,
    root: str = DEFAULT_ARCHIVE_ROOT,
    categorical: Sequence[str] = (),
) -> pd.DataFrame:
    """Events of one kind with `since <= event_time < until` as a DataFrame of documented dtypes.

    `columns` None = every column; `filters` a `pyarrow.dataset` expression pushed into the scan, e.g.
    `ds.field("type_name") == "sms"`. Text codes become `category`, times `datetime64[ns, UTC]`, `cost`
    float64, nullable integers `Int16`/`Int32`/`Int64`. Raises `ArchiveNotFoundError` / `EmptyRangeError`.
    """
    # Handed over in a list, so that no caller's reference keeps the Arrow columns alive while pandas
    # takes them over: each is freed as soon as it is converted (the peak is one copy, not two).
    return take_frame([load_table(kind, since, until, columns, filters, root, categorical)])


def release_unused() -> None:
    """Hand the memory Arrow freed back to the system.

    Arrow's allocator (mimalloc) keeps freed pages for reuse by Arrow; numpy and pandas allocate elsewhere
    and cannot use them, so on 10M rows the peak of scan -> encode -> pandas -> per-message numpy added
    up to 1.3 GiB of pages nobody used any more (see benchmarks/README.md, Reports)."""
    pa.default_memory_pool().release_unused()


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the documented dtypes (converted in Arrow, where it is cheap)."""
    return take_frame([table])


def take_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """`to_frame` of the one table in `tables`, taken out of the list, converted one column at a time: a
    column's Arrow buffers are freed once pandas has it, when no one else holds the table (`load_events`),
    so the peak is about one copy of the data, not two."""
    # What was freed before: e.g. the key chunks `_contiguous_key` combined, the voice pass's row mask.
    release_unused()
    table = tables.pop()
    names, rows = table.column_names, table.num_rows
    columns: list[pd.Series] = []
    while table.num_columns:
        name, column = names[len(columns)], table.column(0)
        table = table.remove_column(0)
        if pa.types.is_dictionary(column.type):
            pass
        elif name in CATEGORICAL_CODES or name == "date":
            column = pc.dictionary_encode(column)
        elif name == "cost":
            column = pc.cast(column, pa.float64())
        single = pa.table({name: column})
        del column
        columns.append(single.to_pandas(types_mapper=_NULLABLE.get, self_destruct=True).iloc[:, 0])
        del single
        release_unused()  # pandas allocates elsewhere: only the system can reuse what Arrow freed
    del table
    frame = pd.DataFrame(dict(enumerate(columns)), index=pd.RangeIndex(rows), copy=False)
    frame.columns = pd.Index(names)
    return frame


_NULLABLE: Final = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}
