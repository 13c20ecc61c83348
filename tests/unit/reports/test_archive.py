"""The writer's layout and idempotence, and `load_events`: dtypes, pruning, clear errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from reports.archive import live_files, write_batch
from reports.errors import ArchiveNotFoundError, BadOptionError, EmptyRangeError
from reports.load import load_events
from tests.unit.reports.conftest import Workload, write_all


def _rows(root: str) -> dict[str, int]:
    return {
        kind: len(load_events(kind, root=root, columns=["key"]))
        for kind in ("status", "incoming", "call_confirmation")
    }


def test_layout_is_hive_partitioned_by_kind_and_date(workload: Workload) -> None:
    files = sorted(p.relative_to(workload.root).as_posix() for p in Path(workload.root).rglob("*.parquet"))
    assert files
    assert all(f.split("/")[0].startswith("kind=") and f.split("/")[1].startswith("date=") for f in files)
    assert "kind=status/date=2025-03-03/smsc.events-0-0-249.parquet" in files
    assert not [p for p in Path(workload.root).rglob("*") if p.name.startswith(".")]  # no temp file left


def test_every_event_is_archived_once(workload: Workload) -> None:
    assert _rows(workload.root) == dict(Counter(e["kind"] for e in workload.events))


def test_rewriting_the_same_offsets_replaces_rather_than_duplicates(
    workload: Workload, tmp_path: Path
) -> None:
    root = str(tmp_path / "archive")
    write_all(root, workload.events)
    before = _rows(root)
    write_all(root, workload.events)  # a replay after a crash: same batches, same offsets
    write_batch(
        root, workload.events[:250], topic="smsc.events", partition=0, first_offset=0, last_offset=249
    )
    assert _rows(root) == before
    write_batch(root, [], topic="smsc.events", partition=0, first_offset=9000, last_offset=9001)
    assert _rows(root) == before


def test_write_batch_rejects_bad_offsets(tmp_path: Path) -> None:
    with pytest.raises(BadOptionError):
        write_batch(str(tmp_path), [], topic="smsc.events", partition=0, first_offset=5, last_offset=4)
    with pytest.raises(BadOptionError):
        write_batch(str(tmp_path), [], topic="a-b", partition=0, first_offset=0, last_offset=0)


def test_load_events_dtypes(workload: Workload) -> None:
    frame = load_events("status", root=workload.root)
    for name in ("account", "type_name", "status", "err", "sender", "outcome", "balance", "template_kind"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    for name in ("event_time", "received_at", "occurred_at", "ts"):
        assert str(frame[name].dtype) == "datetime64[ns, UTC]", name
    assert frame["cost"].dtype == "float64"
    assert str(frame["cnt"].dtype) == "Int32"
    costs = [float(e["cost"]) for e in workload.events if e["kind"] == "status" and e["cost"] is not None]
    assert frame["cost"].sum() == pytest.approx(sum(costs))


def test_load_events_reads_only_the_range_and_columns_asked(workload: Workload) -> None:
    since, until = pd.Timestamp("2025-03-03T06:01:00Z"), pd.Timestamp("2025-03-03T06:02:00Z")
    frame = load_events(
        "status", since=since, until=until, columns=["account", "event_time"], root=workload.root
    )
    assert list(frame.columns) == ["account", "event_time"]
    expected = sum(
        1
        for e in workload.events
        if e["kind"] == "status" and since <= pd.Timestamp(e["occurred_at"]) < until
    )
    assert len(frame) == expected > 0
    assert frame["event_time"].between(since, until, inclusive="left").all()
    sms = load_events(
        "status", filters=ds.field("type_name") == "sms", columns=["type_name"], root=workload.root
    )
    assert set(sms["type_name"]) == {"sms"}


def test_missing_archive_and_empty_range_are_clear_errors(workload: Workload, tmp_path: Path) -> None:
    with pytest.raises(ArchiveNotFoundError, match="no archive of 'status' events"):
        load_events("status", root=str(tmp_path / "nothing"))
    with pytest.raises(EmptyRangeError, match="no 'status' events in the archive from 2030-01-01"):
        load_events("status", since="2030-01-01", root=workload.root)
    with pytest.raises(BadOptionError, match="until"):
        load_events("status", since="2025-03-04", until="2025-03-03", root=workload.root)
    with pytest.raises(BadOptionError, match="columns"):
        load_events("status", columns=["nope"], root=workload.root)


def test_a_url_root_works(workload: Workload) -> None:
    url = Path(workload.root).as_uri()  # file:///…: the pyarrow-from-URI path the worker uses for s3:// too
    assert len(load_events("incoming", root=url)) == sum(e["kind"] == "incoming" for e in workload.events)


def test_a_longer_rewrite_of_a_batch_supersedes_the_shorter_file(tmp_path: Path) -> None:
    directory = tmp_path / "kind=status" / "date=2026-11-24"
    directory.mkdir(parents=True)
    for name in (
        "smsc.events-0-0-9.parquet",  # superseded by 0-19 (a replay cut later)
        "smsc.events-0-0-19.parquet",
        "smsc.events-0-20-29.parquet",
        "smsc.events-1-0-9.parquet",  # another partition: its own offsets
        "other.parquet",  # not a sink file: kept
        ".smsc.events-0-30-39.parquet.abc.tmp",  # a crash's leftover: hidden
    ):
        (directory / name).write_bytes(b"")
    live = [Path(path).name for path in live_files(pafs.LocalFileSystem(), str(tmp_path))]
    assert live == [
        "other.parquet",
        "smsc.events-0-0-19.parquet",
        "smsc.events-0-20-29.parquet",
        "smsc.events-1-0-9.parquet",
    ]
