"""The archive writer: a batch of `smsc.events` events -> hive-partitioned Parquet files, atomically.

Layout under the root (a local directory or any pyarrow / fsspec URL):

    kind=<kind>/date=<YYYY-MM-DD>/<topic>-<partition>-<first_offset>-<last_offset>.parquet

`date` is the UTC day of the event's `occurred_at`, else of its `received_at`. The file name comes from
the source topic-partition and offset range of the batch, so a replay rewrites files instead of adding
rows: exactly once in the archive. The sink (streams/archive_sink.py) never lets a file span two blocks of
`block` offsets, so any two files of a topic-partition are either disjoint or one holds the other's range;
the longer one is current (`live_files`), and `write_batch` deletes the shorter ones it made obsolete.
`highest_raw_offset` tells the sink where its dedupe of events sent twice stands before a block.
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
from typing import Any, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reports.errors import BadOptionError
from reports.schema import DESTINATION_COLUMNS, KINDS, SCHEMA, UTC_NS, V1_HLR_COLUMNS
from smsc.events import UNKNOWN, Event

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


class _Span(NamedTuple):
    """A sink file's source topic-partition and offset range, from its name."""

    source: str
    first: int
    last: int

    def holds(self, other: _Span) -> bool:
        """Whether `other` is a shorter range of the same source inside this one (made obsolete by it)."""
        return (
            self.source == other.source
            and self.first <= other.first
            and other.last <= self.last
            and self != other
        )


def _span(name: str) -> _Span | None:
    match = _FILE_NAME.match(name)
    return None if match is None else _Span(match["source"], int(match["first"]), int(match["last"]))


def live_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """The Parquet files under `directory` that hold current rows, in a stable order.

    A replay (a crash between write and commit, a lost commit) writes a range that holds or is held by a
    file already there; the longer file is current and a file another one holds is left out, even before
    the writer deletes it. Files not named by `file_name` are all live.
    """
    infos = fs.get_file_info(pafs.FileSelector(directory, recursive=True, allow_not_found=True))
    spans: dict[tuple[str, str], list[tuple[_Span, str]]] = defaultdict(list)  # per directory and source
    live = []
    for info in infos:
        if info.type != pafs.FileType.File or info.base_name.startswith((".", "_")):
            continue
        span = _span(info.base_name)
        if span is None:
            live.append(info.path)
        else:
            spans[(info.path[: -len(info.base_name)], span.source)].append((span, info.path))
    for files in spans.values():
        live.extend(path for span, path in files if not any(other.holds(span) for other, _ in files))
    return sorted(live)


def highest_raw_offset(root: str, topic: str, partition: int, before: int) -> int:
    """The highest `raw_offset` archived from offsets of topic-partition below `before` (-1: none).

    For the sink's dedupe (streams/archive_sink.py): it keeps an event only if its raw offset is above
    every one before it, so the highest is in the files of the latest range that has any; ranges are read
    from the latest back until one has a raw offset (older archives may lack the column: null).
    """
    fs, base = resolve_root(root)
    source = f"{topic}-{partition}"
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    ranges: dict[int, list[str]] = defaultdict(list)  # last offset -> the files of ranges ending there
    for info in infos:
        span = _span(info.base_name)
        if (
            info.type == pafs.FileType.File
            and span is not None
            and span.source == source
            and span.last < before
        ):
            ranges[span.last].append(info.path)
    for last in sorted(ranges, reverse=True):
        highest = -1
        for path in ranges[last]:
            column = pq.read_table(path, columns=["raw_offset"], filesystem=fs).column("raw_offset")
            found = pc.max(column).as_py()
            if found is not None and found > highest:
                highest = found
        if highest >= 0:
            return highest
    return -1


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
    empty batch writes nothing. Rewriting the same range replaces the files; a longer range of the same
    topic-partition deletes the files it holds.
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
    span = _Span(f"{topic}-{partition}", first_offset, last_offset)
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
        _delete_held(fs, directory, span)
    logger.debug("archive batch written topic=%s partition=%s files=%s", topic, partition, len(written))
    return written


def _delete_held(fs: pafs.FileSystem, directory: str, span: _Span) -> None:
    """Delete the files of `directory` that a new file of `span` makes obsolete (a shorter range it holds).

    Only the new file's directories can hold such files: a shorter range has a subset of the rows.
    """
    for info in fs.get_file_info(pafs.FileSelector(directory)):
        other = _span(info.base_name)
        if other is not None and span.holds(other):
            fs.delete_file(info.path)


def to_table(events: Sequence[Event]) -> pa.Table:
    """Events -> a table of the archive schema (absent columns null; times and cost converted; an event
    of version 1 with its fields renamed as `smsc.events.loads_event` does)."""
    columns: dict[str, list[Any]] = {field.name: [] for field in SCHEMA}
    for event in events:
        row = _row(event)
        for name, values in columns.items():
            values.append(row.get(name))
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _row(event: Event) -> dict[str, Any]:
    row = dict(event)
    if row.get("v") == 1 and "carrier" not in row:
        _upgrade_version_1(row)
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


def _upgrade_version_1(row: dict[str, Any]) -> None:
    """An event of version 1 as `smsc.events` held it (not through `loads_event`, which does the same):
    its HLR fields under the `hlr_*` names, a status's destination `unknown`. `v` stays 1."""
    for new, old in V1_HLR_COLUMNS.items():
        row[new] = row.pop(old, None)
    known = UNKNOWN if row.get("kind") == "status" else None
    row.update(dict.fromkeys(DESTINATION_COLUMNS, known))


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _date(event: Event) -> str:
    occurred = event.get("occurred_at")
    if occurred:
        return datetime.fromisoformat(occurred).astimezone(UTC).date().isoformat()
    return datetime.fromtimestamp(event["received_at_ns"] / 1e9, UTC).date().isoformat()


__all__ = [
    "UTC_NS",
    "file_name",
    "highest_raw_offset",
    "live_files",
    "resolve_root",
    "to_table",
    "write_batch",
]
