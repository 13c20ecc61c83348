"""Snapshots as table records: round trip, chunking, and which old chunks may be deleted."""

from __future__ import annotations

import os

from streams import snapshot


def test_round_trip_over_several_chunks() -> None:
    state = {"offset": 41, "blob": os.urandom(1_500_000).hex()}  # incompressible: several chunks
    records = dict(snapshot.encode(3, 7, "tok", state))
    assert sum(key.startswith("p3/s7-tok/") for key in records) >= 2
    assert snapshot.decode(3, records) == (7, state)
    assert snapshot.manifest(3, records) == {
        "snapshot": 7,
        "token": "tok",
        "chunks": len(records) - 1,
        "offset": 41,
    }
    assert snapshot.decode(4, records) is None


def test_only_chunks_of_other_snapshots_of_the_partition_are_stale() -> None:
    keys = ["p3", "p3/s6-tok/c0", "p3/s7-tok/c0", "p3/s7-other/c0", "p31/s1-tok/c0", "p4/s1-tok/c0"]
    assert snapshot.stale_keys(3, keys, 7, "tok") == ["p3/s6-tok/c0", "p3/s7-other/c0"]
