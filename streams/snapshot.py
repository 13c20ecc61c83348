"""A partition's state as table records: compressed, cut into chunks below Kafka's record size limit.

The manifest is written last, so a crash between chunks leaves the previous manifest (and its chunks) in
force. Chunk keys carry the snapshot id and the writer's token, so two workers that briefly both held a
partition can never mix their chunks; the chunks of older snapshots are deleted once the new manifest is
stored (`stale_keys`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

CHUNK_BYTES: Final = 512 * 1024


def manifest_key(partition: int) -> str:
    return f"p{partition}"


def chunk_key(partition: int, snapshot_id: int, token: str, index: int) -> str:
    return f"p{partition}/s{snapshot_id}-{token}/c{index}"


def encode(partition: int, snapshot_id: int, token: str, state: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(key, value) records: the chunks, then the manifest."""
    blob = zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    records = [(chunk_key(partition, snapshot_id, token, i), chunk) for i, chunk in enumerate(chunks)]
    manifest = {"snapshot": snapshot_id, "token": token, "chunks": len(chunks), "offset": state["offset"]}
    records.append((manifest_key(partition), json.dumps(manifest).encode()))
    return records


def manifest(partition: int, records: Mapping[str, bytes]) -> dict[str, Any] | None:
    raw = records.get(manifest_key(partition))
    return None if raw is None else dict(json.loads(raw))


def decode(partition: int, records: Mapping[str, bytes]) -> tuple[int, dict[str, Any]] | None:
    """(snapshot id, state) from the table's records of this partition, or None when it has none."""
    found = manifest(partition, records)
    if found is None:
        return None
    snapshot_id, token = found["snapshot"], found["token"]
    blob = b"".join(records[chunk_key(partition, snapshot_id, token, i)] for i in range(found["chunks"]))
    return snapshot_id, json.loads(zlib.decompress(blob))


def stale_keys(partition: int, keys: Iterable[str], snapshot_id: int, token: str) -> list[str]:
    """The chunk keys of this partition that do not belong to the given snapshot."""
    current = f"p{partition}/s{snapshot_id}-{token}/"
    prefix = f"p{partition}/"
    return [key for key in keys if key.startswith(prefix) and not key.startswith(current)]
