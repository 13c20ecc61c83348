"""A partition's state as table records: compressed, cut into chunks below Kafka's record size limit.

The manifest is written last, so a crash between chunks leaves the previous manifest (and its chunks,
still in the compacted changelog under their own snapshot id) in force.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any, Final

CHUNK_BYTES: Final = 512 * 1024


def manifest_key(partition: int) -> str:
    return f"p{partition}"


def chunk_key(partition: int, snapshot_id: int, index: int) -> str:
    return f"p{partition}/s{snapshot_id}/c{index}"


def encode(partition: int, snapshot_id: int, state: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(key, value) records: the chunks, then the manifest."""
    blob = zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    records = [(chunk_key(partition, snapshot_id, i), chunk) for i, chunk in enumerate(chunks)]
    manifest = {"snapshot": snapshot_id, "chunks": len(chunks), "offset": state["offset"]}
    records.append((manifest_key(partition), json.dumps(manifest).encode()))
    return records


def decode(partition: int, records: Mapping[str, bytes]) -> tuple[int, dict[str, Any]] | None:
    """(snapshot id, state) from the table's records of this partition, or None when it has none."""
    raw = records.get(manifest_key(partition))
    if raw is None:
        return None
    manifest = json.loads(raw)
    snapshot_id = manifest["snapshot"]
    blob = b"".join(records[chunk_key(partition, snapshot_id, i)] for i in range(manifest["chunks"]))
    return snapshot_id, json.loads(zlib.decompress(blob))
