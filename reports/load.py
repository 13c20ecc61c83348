"""`load_events`: the archive -> a tidy pandas DataFrame, reading only the partitions and columns asked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from reports.archive import live_files, resolve_root
from reports.errors import ArchiveNotFoundError, BadOptionError, EmptyRangeError
from reports.schema import CATEGORICAL, CATEGORICAL_CODES, KINDS, SCHEMA
from reports.settings import DEFAULT_ARCHIVE_ROOT

_PARTITIONING: Final = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")

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


def dataset(kind: str, root: str = DEFAULT_ARCHIVE_ROOT, categorical: Sequence[str] = ()) -> ds.Dataset:
    """The pyarrow dataset of one kind (`date` a partition column); `ArchiveNotFoundError` if none."""
    if kind not in KINDS:
        raise BadOptionError("kind", kind, f"one of {', '.join(KINDS)}")
    fs, base = resolve_root(root)
    directory = f"{base.rstrip('/')}/kind={kind}"
    if fs.get_file_info(directory).type != pafs.FileType.Directory:
        raise ArchiveNotFoundError(root, kind)
    # Text codes are decoded straight into dictionaries (Parquet stores them so): no hashing afterwards.
    dictionary = [*CATEGORICAL, *categorical]
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in dictionary else f for f in SCHEMA
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

    `categorical`: more text columns to read as dictionaries (the reports read `key` so).
    """
    start, end = to_utc(since, option="since"), to_utc(until, option="until")
    if start is not None and end is not None and start >= end:
        raise BadOptionError("until", end.isoformat(), f"must be later than since ({start.isoformat()})")
    if columns is not None:
        unknown = sorted(set(columns) - set(SCHEMA.names) - {"date"})
        if unknown:
            raise BadOptionError("columns", unknown, "not archive columns (see docs/reports.md)")
    data = dataset(kind, root, categorical)
    expression = time_filter(start, end)
    if filters is not None:
        expression = filters if expression is None else expression & filters
    table = data.to_table(columns=list(columns) if columns is not None else None, filter=expression)
    if table.num_rows == 0:
        raise EmptyRangeError(kind, start, end)
    return table


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
    return to_frame(load_table(kind, since, until, columns, filters, root, categorical))


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the documented dtypes (converted in Arrow, where it is cheap)."""
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        if pa.types.is_dictionary(column.type):
            continue
        if name in CATEGORICAL_CODES or name == "date":
            table = table.set_column(index, name, pc.dictionary_encode(column))
        elif name == "cost":
            table = table.set_column(index, name, pc.cast(column, pa.float64()))
    frame: pd.DataFrame = table.to_pandas(types_mapper=_NULLABLE.get, split_blocks=True, self_destruct=True)
    return frame


_NULLABLE: Final = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}
