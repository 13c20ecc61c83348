"""Status events -> one row per message, by the stream metric contract's lifecycle rules (issue 4).

The archive holds each status callback once. Per message (`account`, `key` = `id:phone`), in arrival
order (`received_at`, then `raw_offset`): the first status seen opens it (`not_found` and unknown codes
open nothing) and gives its first-status time and labels; `cost` and `cnt` come once, from its first
status that carries them (never summed over its callbacks); the first final status decides the outcome
and nothing reopens it — read or clicked without a delivered status before them count as delivered.
Latency = the delivered status's time − the first-status time, only when a delivered status (1) ended it.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

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
)
_NOT_OPENING: Final = ("not_found", "unknown")
_ENDING: Final = ("delivered", "failed", "expired", "read", "clicked")
_DELIVERED: Final = ("delivered", "read", "clicked")


def _ns(series: pd.Series) -> np.ndarray:
    """UTC times as int64 nanoseconds (NaT = the minimum int64), without going through objects."""
    return np.asarray(series.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")).view("int64")


def _codes_in(series: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Boolean mask: the categorical's value is one of `names` (on its codes, not on strings)."""
    categorical = series.astype("category")
    wanted = np.isin(np.asarray(categorical.cat.categories, dtype=object), names)
    # Code -1 (missing) picks the appended False; this also holds when there is no category at all.
    return np.append(wanted, False)[categorical.cat.codes.to_numpy()]


def arrival_order(events: pd.DataFrame) -> np.ndarray:
    """Row positions in the order the pipeline received them (the order the contract's rules apply in):
    `received_at`, then `raw_offset`. The archive is nearly in that order already: a stable sort on the
    time is fast then, and the offsets are only looked at when two events share a receive time."""
    received = _ns(events["received_at"])
    if bool(np.all(received[1:] > received[:-1])):
        return np.arange(len(received), dtype="int64")
    order = np.argsort(received, kind="stable")
    if not np.any(np.diff(received[order]) == 0):
        return order
    offset = events["raw_offset"].fillna(-1).to_numpy(dtype="int64")
    return np.lexsort((offset, received))


def _first(raw: np.ndarray, rank: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Per message id (0..size-1): the arrival rank of its first row among the masked rows, or len(raw)."""
    first = np.full(size, len(raw), dtype=rank.dtype)
    np.minimum.at(first, raw[mask], rank[mask])
    return first


def messages(events: pd.DataFrame) -> pd.DataFrame:
    """One row per message: account, type, sender, day, first_at, outcome (delivered/failed/expired or
    NaN = in flight), final_status, latency_seconds, charged; with the cost columns loaded also cost,
    parts, balance, template_kind; with the voice columns voice_outcome, talk_seconds, ringtime_seconds,
    callmenu, dtmf, overtime_seconds (NaN for other types)."""
    n = len(events)
    order = arrival_order(events)
    rank = np.empty(n, dtype="int32" if n < 2**31 else "int64")
    rank[order] = np.arange(n, dtype=rank.dtype)
    if "key_code" in events.columns:  # computed in Arrow by the catalog (cheaper than pandas strings)
        key = events["key_code"].to_numpy(dtype="int64")
    else:
        key = pd.factorize(events["key"])[0].astype("int64")
    account = events["account"].astype("category").cat.codes.to_numpy(dtype="int64")
    raw = key * (int(account.max(initial=0)) + 1) + account
    size = int(raw.max(initial=-1)) + 1
    opened = ~_codes_in(events["outcome"], _NOT_OPENING)

    first_rank = _first(raw, rank, opened, size)
    present = np.flatnonzero(first_rank < n)  # message ids with an opening status
    count = len(present)
    first = events[["account", "type_name", "sender", "occurred_at"]].iloc[order[first_rank[present]]]
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
    first_ns = _ns(first["occurred_at"])
    day_codes, days = pd.factorize(np.where(first_ns == np.iinfo("int64").min, -1, first_ns // _DAY_NS))
    labels = [str(np.datetime64(int(d) * _DAY_NS, "ns").astype("datetime64[D]")) for d in days]
    frame["day"] = pd.Categorical.from_codes(day_codes, pd.Index(labels))

    final_rank = _first(raw, rank, opened & _codes_in(events["outcome"], _ENDING), size)[present]
    final_messages = np.flatnonzero(final_rank < n)
    final_columns = ["outcome", "status", "occurred_at", "type", *(c for c in VOICE_COLUMNS if c in events)]
    final = events[list(dict.fromkeys(final_columns))].iloc[order[final_rank[final_messages]]]
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
    if "cost" in events.columns:
        carrying = opened & (events["cost"].notna() | events["cnt"].notna()).to_numpy()
        charge_rank = _first(raw, rank, carrying, size)[present]
        charge_messages = np.flatnonzero(charge_rank < n)
        charge = events[["type", *COST_COLUMNS]].iloc[order[charge_rank[charge_messages]]]
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
        values = _spread_text(count, charge_messages, charge[name])
        if default not in values.cat.categories:
            values = values.cat.add_categories([default])
        frame[name] = values.fillna(default)
    charged = np.zeros(count, dtype=bool)
    charged[charge_messages] = True
    frame["charged"] = charged


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
