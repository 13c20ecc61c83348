"""Status events -> one row per message, by the stream metric contract's lifecycle rules (issue 4).

The archive holds each status callback once. Per message (`account`, `key` = `id:phone`), in arrival
order (`received_at`, then `raw_offset`): the first status seen opens it (`not_found` and unknown codes
open nothing) and gives its first-status time and labels; `cost` and `cnt` come once, from its first
status that carries them (never summed over its callbacks); the first final status decides the outcome
and nothing reopens it — read or clicked without a delivered status before them count as delivered.
Latency = the delivered status's time − the first-status time, only when a delivered status (1) ended it.
The destination (`country`, `carrier`) is its first status's too: the worker sets it once per message, so
every status of a message carries the same one (events of version 1: `unknown`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from smsc.events import UNKNOWN

VOICE_TYPE: Final = 7
_DAY_NS: Final = 86_400 * 10**9
#: The status columns `messages` needs for outcomes and latency; `COST_COLUMNS` / `VOICE_COLUMNS` add
#: money and voice figures (each report reads only what it needs).
LIFECYCLE_COLUMNS: Final = (
    "account",
    "key",
    "received_at",
    "raw_offset",
    "occurred_at",
    "status",
    "outcome",
    "type",
    "type_name",
    "sender",
)
COST_COLUMNS: Final = ("cost", "cnt", "balance", "template_kind")
DESTINATION_LABELS: Final = ("country", "carrier")
VOICE_COLUMNS: Final = ("voice_outcome", "cnt", "dtmf", "overtime_seconds", "callmenu", "ringtime_seconds")
STATUS_COLUMNS: Final = (
    "account",
    "key",
    "received_at",
    "raw_offset",
    "occurred_at",
    "status",
    "outcome",
    "err",
    "cnt",
    "type",
    "type_name",
    "cost",
    "balance",
    "template_kind",
    "sender",
    "voice_outcome",
    "dtmf",
    "overtime_seconds",
    "callmenu",
    "ringtime_seconds",
    *DESTINATION_LABELS,
)
_NOT_OPENING: Final = ("not_found", "unknown")
_ENDING: Final = ("delivered", "failed", "expired", "read", "clicked")
_DELIVERED: Final = ("delivered", "read", "clicked")


def _ns(series: pd.Series) -> np.ndarray:
    """UTC times as int64 nanoseconds (NaT = the minimum int64): a view of the column, no copy."""
    values: np.ndarray = series.dt.as_unit("ns").array.asi8
    return values


def _codes_in(series: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Boolean mask: the categorical's value is one of `names` (on its codes, not on strings)."""
    categorical = series.astype("category")
    wanted = np.isin(np.asarray(categorical.cat.categories, dtype=object), names)
    # Code -1 (missing) picks the appended False; this also holds when there is no category at all.
    return np.append(wanted, False)[categorical.cat.codes.to_numpy()]


def _offsets(events: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """`raw_offset` at `positions` (a missing one = -1)."""
    return np.asarray(
        events["raw_offset"].array.take(positions).to_numpy(dtype="int64", na_value=-1), dtype="int64"
    )


def _arrival_order(events: pd.DataFrame) -> np.ndarray | None:
    """`arrival_order`, or None when the rows are in arrival order already (the archive nearly is).

    The order is exactly `np.lexsort((raw_offset, received_at))` (ties: row position), computed without
    sorting everything by two keys: a stable sort on the time (fast on the archive's sorted runs), then
    only the groups of equal times whose offsets are out of order are sorted by offset."""
    ordered = _ns(events["received_at"])
    n = len(ordered)
    order: np.ndarray | None = None  # None: the times are in row order already
    if bool(np.any(ordered[1:] < ordered[:-1])):
        order = np.argsort(ordered, kind="stable")
        ordered = ordered[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if tied.size == 0:
        return order
    before, after = (tied, tied + 1) if order is None else (order[tied], order[tied + 1])
    wrong = tied[_offsets(events, after) < _offsets(events, before)]
    del before, after
    if wrong.size == 0:
        return order
    if order is None:
        order = np.arange(n, dtype="int64")
    # Groups of equal times (in sorted order) that hold an offset out of order: re-sort only those rows.
    group = np.empty(n, dtype="int64")
    group[0] = 0
    np.cumsum(ordered[1:] != ordered[:-1], out=group[1:])
    del ordered
    rows = np.flatnonzero(np.isin(group, np.unique(group[wrong])))
    # lexsort is stable: within a group and an offset the rows keep their (original) order.
    fixed = np.lexsort((_offsets(events, order[rows]), group[rows]))
    order[rows] = order[rows][fixed]
    return order


def arrival_order(events: pd.DataFrame) -> np.ndarray:
    """Row positions in the order the pipeline received them (the order the contract's rules apply in):
    `received_at`, then `raw_offset`, then the row position."""
    order = _arrival_order(events)
    return np.arange(len(events), dtype="int64") if order is None else order


def _first(raw: np.ndarray, rank: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Per message id (0..size-1): the arrival rank of its first row among the masked rows, or len(raw)."""
    first = np.full(size, len(raw), dtype=rank.dtype)
    np.minimum.at(first, raw[mask], rank[mask])
    return first


def _message_ids(events: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Per row its message id (`account` x key code; int32 when they fit) and the number of ids."""
    if "key_code" in events.columns:  # computed in Arrow by the catalog (cheaper than pandas strings)
        key = events["key_code"].to_numpy(dtype="int64")
    else:
        key = pd.factorize(events["key"])[0].astype("int64")
    account = events["account"].astype("category").cat.codes.to_numpy()
    accounts = int(account.max(initial=0)) + 1
    size = (int(key.max(initial=-1)) + 1) * accounts if len(key) else 0
    if size < 2**31 and int(key.min(initial=0)) >= 0:
        raw = key.astype("int32")
        del key
        raw *= accounts
        raw += account
    else:
        raw = key * accounts + account
    return raw, int(raw.max(initial=-1)) + 1


def _rows(events: pd.DataFrame, columns: list[str], positions: np.ndarray) -> pd.DataFrame:
    """The rows at `positions` of the columns asked (per column, same dtypes)."""
    return pd.DataFrame({name: events[name].array.take(positions) for name in columns})


def messages(events: pd.DataFrame) -> pd.DataFrame:
    """One row per message: account, type, sender, day, first_at, outcome (delivered/failed/expired or
    NaN = in flight), final_status, latency_seconds, charged; with the cost columns loaded also cost,
    parts, balance, template_kind; with the voice columns voice_outcome, talk_seconds, ringtime_seconds,
    callmenu, dtmf, overtime_seconds (NaN for other types); with the destination columns country and
    carrier (`unknown` where the first status has none)."""
    n = len(events)
    order = _arrival_order(events)  # None: already in arrival order (then rank = row position)
    rank = np.arange(n, dtype="int32" if n < 2**31 else "int64")
    if order is not None:
        rank[order] = rank.copy()
    raw, size = _message_ids(events)
    opened = ~_codes_in(events["outcome"], _NOT_OPENING)

    def positions(first_rank: np.ndarray) -> np.ndarray:
        return first_rank if order is None else order[first_rank]

    first_rank = _first(raw, rank, opened, size)
    present = np.flatnonzero(first_rank < n)  # message ids with an opening status
    first_rank = first_rank[present]
    count = len(present)
    final_rank = _first(raw, rank, opened & _codes_in(events["outcome"], _ENDING), size)[present]
    charge_rank = None
    if "cost" in events.columns:
        carrying = opened & (events["cost"].notna() | events["cnt"].notna()).to_numpy()
        charge_rank = _first(raw, rank, carrying, size)[present]
        del carrying
    del raw, rank, opened, present  # the per-row arrays: from here on only per-message ones

    destination = [name for name in DESTINATION_LABELS if name in events.columns]
    first = _rows(
        events, ["account", "type_name", "sender", "occurred_at", *destination], positions(first_rank)
    )
    del first_rank
    frame = pd.DataFrame(
        {
            "account": first["account"].astype("category").array,
            "type": first["type_name"].astype("category").array,
            "sender": first["sender"].astype("category").array,
            "first_at": first["occurred_at"].array,
        }
    )
    if "none" not in frame["sender"].cat.categories:
        frame["sender"] = frame["sender"].cat.add_categories(["none"])
    frame["sender"] = frame["sender"].fillna("none")
    for name in destination:
        frame[name] = _filled(first[name], UNKNOWN, sort=True).array
    first_ns = _ns(first["occurred_at"])
    del first
    day_codes, days = pd.factorize(np.where(first_ns == np.iinfo("int64").min, -1, first_ns // _DAY_NS))
    labels = [str(np.datetime64(int(d) * _DAY_NS, "ns").astype("datetime64[D]")) for d in days]
    frame["day"] = pd.Categorical.from_codes(day_codes, pd.Index(labels))

    final_messages = np.flatnonzero(final_rank < n)
    final_columns = ["outcome", "status", "occurred_at", "type", *(c for c in VOICE_COLUMNS if c in events)]
    final = _rows(events, final_columns, positions(final_rank[final_messages]))
    del final_rank
    delivered = _codes_in(final["outcome"], _DELIVERED)
    outcome_codes = np.full(count, -1, dtype="int64")
    ended = np.select([delivered, _codes_in(final["outcome"], ("failed",))], [0, 1], 2)
    outcome_codes[final_messages] = ended
    frame["outcome"] = pd.Categorical.from_codes(outcome_codes, pd.Index(["delivered", "failed", "expired"]))
    status = final["status"].astype("Int64").to_numpy(dtype="int64", na_value=-99)
    final_status = np.full(count, -99, dtype="int64")
    final_status[final_messages] = status
    frame["final_status"] = pd.arrays.IntegerArray(final_status.astype("int16"), final_status == -99)
    latency = (_ns(final["occurred_at"]) - first_ns[final_messages]) / 1e9
    valid = (status == 1) & (_ns(final["occurred_at"]) != np.iinfo("int64").min)
    valid &= first_ns[final_messages] != np.iinfo("int64").min
    frame["latency_seconds"] = _spread(
        count, final_messages, np.where(valid, np.maximum(latency, 0.0), np.nan)
    )

    frame["charged"] = False
    if "voice_outcome" in events.columns:
        _voice(frame, final, final_messages, count)
    del final
    if charge_rank is not None:
        charge_messages = np.flatnonzero(charge_rank < n)
        charge = _rows(events, ["type", *COST_COLUMNS], positions(charge_rank[charge_messages]))
        _charge(frame, charge, charge_messages, count)
    return frame


def _voice(frame: pd.DataFrame, final: pd.DataFrame, final_messages: np.ndarray, count: int) -> None:
    """Voice figures from the status that ended each call."""
    is_voice = final["type"].astype("Int64").to_numpy(dtype="int64", na_value=-1) == VOICE_TYPE
    answered = is_voice & _codes_in(final["voice_outcome"], ("answered",))
    frame["voice_outcome"] = _spread_text(count, final_messages[is_voice], final["voice_outcome"][is_voice])
    talk = final["cnt"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    frame["talk_seconds"] = _spread(count, final_messages, np.where(answered, talk, np.nan))
    for name in ("ringtime_seconds", "overtime_seconds"):
        values = final[name].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        frame[name] = _spread(count, final_messages, np.where(is_voice, values, np.nan))
    for name in ("callmenu", "dtmf"):
        frame[name] = _spread_text(count, final_messages[is_voice], final[name][is_voice])


def _charge(frame: pd.DataFrame, charge: pd.DataFrame, charge_messages: np.ndarray, count: int) -> None:
    """`cost` and parts once per message, from its first status that carries them."""
    frame["cost"] = _spread(count, charge_messages, charge["cost"].to_numpy(dtype="float64", na_value=np.nan))
    not_voice = charge["type"].astype("Int64").to_numpy(dtype="int64", na_value=-1) != VOICE_TYPE
    parts = charge["cnt"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    frame["parts"] = _spread(count, charge_messages, np.where(not_voice, parts, np.nan))
    for name, default in (("balance", "main"), ("template_kind", "none")):
        frame[name] = _filled(_spread_text(count, charge_messages, charge[name]), default)
    charged = np.zeros(count, dtype=bool)
    charged[charge_messages] = True
    frame["charged"] = charged


def _filled(values: pd.Series, default: str, *, sort: bool = False) -> pd.Series:
    """A text column as a categorical with `default` where it is missing; `sort`: its categories in
    alphabetical order (groups then come out in that order, not in the archive's order of appearance)."""
    categorical = values.astype("category")
    if default not in categorical.cat.categories:
        categorical = categorical.cat.add_categories([default])
    if sort:
        categorical = categorical.cat.reorder_categories(sorted(categorical.cat.categories))
    return categorical.fillna(default)


def _spread(count: int, positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    result = np.full(count, np.nan)
    result[positions] = values
    return result


def _spread_text(count: int, positions: np.ndarray, values: pd.Series) -> pd.Series:
    """Per-message categorical column, NaN where the message has no such row."""
    categorical = values.astype("category")
    codes = np.full(count, -1, dtype="int64")
    codes[positions] = categorical.cat.codes.to_numpy()
    return pd.Series(pd.Categorical.from_codes(codes, categorical.cat.categories))
