"""The archive writer: a batch of `smsc.events` events -> hive-partitioned Parquet files, atomically.

Layout under the root (a local directory or any pyarrow / fsspec URL):

    kind=<kind>/date=<YYYY-MM-DD>/<topic>-<partition>-<first_offset>-<last_offset>.parquet

`date` is the UTC day of the event's `occurred_at`, else of its `received_at`. The file name comes from
the source topic-partition and offset range of the batch, so a replay rewrites files instead of adding
rows: exactly once in the archive. The sink (streams/archive_sink.py) never lets a file span two blocks of
`block` offsets, so any two files of a topic-partition are either disjoint or one holds the other's range;
the longer one is current (`live_files`), and the writer deletes the shorter ones it made obsolete.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reports.errors import BadOptionError
from reports.schema import KINDS, SCHEMA, UTC_NS
from smsc.events import Event

logger = logging.getLogger(__name__)

_TOPIC_NAME: Final = re.compile(r"^[A-Za-z0-9._]+$")  # Kafka's own topic alphabet, minus '-' (our separator)
_TIME_FIELDS: Final = ("occurred_at", "ts", "time", "sent")


def resolve_root(root: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it, for a local path or a URL (`s3://`, `gs://`, `memory://`).

    pyarrow's native filesystems first; any other scheme through fsspec (pyarrow wraps it).
    """
    if "://" not in root:
        return pafs.LocalFileSystem(), _local(root)
    try:
        return pafs.FileSystem.from_uri(root)  # type: ignore[no-any-return]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        import fsspec

        fs, path = fsspec.core.url_to_fs(root)
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def _local(root: str) -> str:
    return str(Path(root).expanduser().absolute())


def file_name(topic: str, partition: int, first_offset: int, last_offset: int) -> str:
    return f"{topic}-{partition}-{first_offset}-{last_offset}.parquet"


_FILE_NAME: Final = re.compile(r"^(?P<source>[A-Za-z0-9._]+-\d+)-(?P<first>\d+)-(?P<last>\d+)\.parquet$")


def live_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """The Parquet files under `directory` that hold current rows, in a stable order.

    A batch the sink wrote but could not commit (a crash, a rebalance) is written again on replay, cut at
    the same first offset and perhaps a later last one: the longer file then supersedes the shorter one of
    the same topic-partition, until the sink removes it. Files not named by `file_name` are all live.
    """
    infos = fs.get_file_info(pafs.FileSelector(directory, recursive=True, allow_not_found=True))
    ranges: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    live = []
    for info in infos:
        if info.type != pafs.FileType.File or info.base_name.startswith((".", "_")):
            continue
        match = _FILE_NAME.match(info.base_name)
        if match is None:
            live.append(info.path)
            continue
        key = (info.path[: -len(info.base_name)], match["source"])
        ranges[key].append((int(match["first"]), int(match["last"]), info.path))
    for spans in ranges.values():
        live.extend(
            path
            for first, last, path in spans
            if not any(
                other_first <= first and last <= other_last and (other_first, other_last) != (first, last)
                for other_first, other_last, _ in spans
            )
        )
    return sorted(live)


def write_batch(
    root: str,
    events: Sequence[Event],
    *,
    topic: str,
    partition: int,
    first_offset: int,
    last_offset: int,
) -> list[str]:
    """Write one batch (events of offsets first..last of topic-partition); returns the paths written.

    Events are split by kind and date; each (kind, date) gets one file named after the offset range. An
    empty batch writes nothing. Rewriting the same range replaces the files.
    """
    if not _TOPIC_NAME.match(topic):
        raise BadOptionError("topic", topic, "Kafka topic names without '-' only (it separates the offsets)")
    if partition < 0 or first_offset < 0 or last_offset < first_offset:
        raise BadOptionError("offsets", (partition, first_offset, last_offset), "need 0 <= first <= last")
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        kind = event.get("kind")
        if kind not in KINDS:
            raise BadOptionError("kind", kind, f"an event kind is one of {KINDS}")
        groups[(kind, _date(event))].append(event)
    fs, base = resolve_root(root)
    name = file_name(topic, partition, first_offset, last_offset)
    written = []
    for (kind, date), rows in sorted(groups.items()):
        directory = f"{base.rstrip('/')}/kind={kind}/date={date}"
        fs.create_dir(directory, recursive=True)
        final = f"{directory}/{name}"
        # '.'-prefixed: pyarrow.dataset never reads it, even if a crash leaves it behind.
        temp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
        pq.write_table(to_table(rows), temp, filesystem=fs, compression="zstd")
        fs.move(temp, final)
        written.append(final)
    logger.debug("archive batch written topic=%s partition=%s files=%s", topic, partition, len(written))
    return written


def delete_superseded(root: str, written: Sequence[str]) -> list[str]:
    """Delete the files of the same topic-partition whose offset range a written file holds; returns them.

    Only the written files' directories can hold such files: a shorter range has a subset of the rows.
    """
    fs, _ = resolve_root(root)
    deleted = []
    for path in written:
        directory, _, name = path.rpartition("/")
        match = _FILE_NAME.match(name)
        if match is None:
            continue
        first, last = int(match["first"]), int(match["last"])
        for info in fs.get_file_info(pafs.FileSelector(directory)):
            other = _FILE_NAME.match(info.base_name)
            if (
                other is not None
                and other["source"] == match["source"]
                and first <= int(other["first"])
                and int(other["last"]) <= last
                and info.base_name != name
            ):
                fs.delete_file(info.path)
                deleted.append(info.path)
    return deleted


def to_table(events: Sequence[Event]) -> pa.Table:
    """Events -> a table of the archive schema (absent columns null; times and cost converted)."""
    columns: dict[str, list[Any]] = {field.name: [] for field in SCHEMA}
    for event in events:
        row = _row(event)
        for name, values in columns.items():
            values.append(row.get(name))
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _row(event: Event) -> dict[str, Any]:
    row = dict(event)
    # Nanoseconds kept exactly: pyarrow takes an int as epoch nanoseconds for a timestamp[ns] column.
    row["received_at"] = event["received_at_ns"]
    for name in _TIME_FIELDS:
        row[name] = _parse_time(event.get(name))
    row["event_time"] = row["occurred_at"] if row["occurred_at"] is not None else row["received_at"]
    cost = event.get("cost")
    row["cost"] = Decimal(cost) if cost is not None else None
    extra = event.get("extra")
    row["extra"] = json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None
    return row


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _date(event: Event) -> str:
    occurred = event.get("occurred_at")
    if occurred:
        return datetime.fromisoformat(occurred).astimezone(UTC).date().isoformat()
    return datetime.fromtimestamp(event["received_at_ns"] / 1e9, UTC).date().isoformat()


__all__ = [
    "UTC_NS",
    "delete_superseded",
    "file_name",
    "live_files",
    "resolve_root",
    "to_table",
    "write_batch",
]
