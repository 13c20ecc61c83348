"""Rows of event version 1 read as version 2: the archive keeps files of both, the reader shows one schema.

Version 2 added the destination of a status (`country`, `carrier`, `carrier_source`) and renamed the HLR
answer's fields, which version 1 called `country`, `network`, `roaming_country`, `roaming_network`, to
`hlr_*`. A file written before has the old columns and no `carrier`; one written after may still hold
version 1 events (the worker read them from `smsc.events` after the upgrade; they were renamed on the
way, a status's destination set to `unknown`). So, on reading:

- the destination of a version 1 status reads `unknown` (nobody determined it then);
- a row of a version 1 file (`v` = 1 and no `carrier`: a file of the new layout has `unknown` there
  for a status, and no HLR answer for the other kinds) reads its old HLR columns under the `hlr_*` names.

Only when the columns asked include one of these: then `v` (and for the HLR columns `carrier` and the
old columns) is read along; when no row is of version 1 — an archive written since — the columns are
returned as read (reading `v`: ~0.07 s of CPU on 10M rows). Otherwise each batch (one file's rows) is
converted on its dictionary indices (~0.15 s on 10M version 1 rows); an `if_else` in the scan's
projection decoded and re-encoded every value instead (4 s of CPU on 10M rows, measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reports.schema import DESTINATION_COLUMNS, V1_HLR_COLUMNS
from smsc.events import UNKNOWN

_VERSION_1: Final = 1


def columns_to_read(kind: str, columns: Sequence[str]) -> list[str] | None:
    """What to scan for `columns`: with the columns the conversion needs, or None when `columns` need
    none (read them as they are)."""
    destination = kind == "status" and any(name in DESTINATION_COLUMNS for name in columns)
    hlr = [V1_HLR_COLUMNS[name] for name in columns if name in V1_HLR_COLUMNS]
    if not (destination or hlr):
        return None
    helpers = ["v", *(["carrier", *hlr] if hlr else [])]
    return list(dict.fromkeys([*columns, *helpers]))


def upgrade(table: pa.Table, kind: str, columns: Sequence[str]) -> pa.Table:
    """`table` (read with `columns_to_read`) as version 2, only `columns`, in their order."""
    if not pc.any(pc.equal(table.column("v"), _VERSION_1)).as_py():
        return table.select(list(columns))
    batches = [upgrade_batch(batch, kind, columns) for batch in table.to_batches()]
    schema = table.select(list(columns)).schema
    return pa.Table.from_batches(batches, schema=schema)


def upgrade_batch(batch: pa.RecordBatch, kind: str, columns: Sequence[str]) -> pa.RecordBatch:
    """One batch of `columns_to_read` as version 2, only `columns`."""
    version_1 = pc.fill_null(pc.equal(batch.column("v"), _VERSION_1), False)
    if not pc.any(version_1).as_py():
        return batch.select(list(columns))
    old_layout = None
    if "carrier" in batch.schema.names:
        old_layout = pc.and_(version_1, pc.is_null(batch.column("carrier")))
    arrays = []
    for name in columns:
        array = batch.column(name)
        if name in DESTINATION_COLUMNS and kind == "status":
            array = _set_where(array, version_1, UNKNOWN)
        elif name in V1_HLR_COLUMNS and old_layout is not None:
            array = _choose(old_layout, batch.column(V1_HLR_COLUMNS[name]), array)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))


def _set_where(array: pa.Array, mask: pa.BooleanArray, value: str) -> pa.Array:
    """`array` with `value` where `mask`; a dictionary array by its indices (its values untouched)."""
    if not isinstance(array, pa.DictionaryArray):
        return pc.if_else(mask, pa.scalar(value, array.type), array)
    dictionary = array.dictionary
    position = pc.index(dictionary, value).as_py()
    if position < 0:
        dictionary = pa.concat_arrays([dictionary, pa.array([value], dictionary.type)])
        position = len(dictionary) - 1
    indices = pc.if_else(mask, pa.scalar(position, array.indices.type), array.indices)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _choose(mask: pa.BooleanArray, where_true: pa.Array, where_false: pa.Array) -> pa.Array:
    """`if_else(mask, where_true, where_false)`, whole arrays when the mask is all one way (a batch is
    one file's rows: all of the old layout or none), else value by value."""
    if pc.all(mask).as_py():
        return where_true.cast(where_false.type)
    if not pc.any(mask).as_py():
        return where_false
    chosen = pc.if_else(mask, _decoded(where_true), _decoded(where_false))
    return chosen.dictionary_encode() if pa.types.is_dictionary(where_false.type) else chosen


def _decoded(array: pa.Array) -> pa.Array:
    return array.dictionary_decode() if isinstance(array, pa.DictionaryArray) else array


def renamed(name: str) -> str | None:
    """The version 2 name of a column version 1 had and version 2 does not (`network` -> `hlr_network`)."""
    for new, old in V1_HLR_COLUMNS.items():
        if old == name and old not in DESTINATION_COLUMNS:
            return new
    return None
