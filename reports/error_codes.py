"""The `errors` report: top error codes with descriptions, and their change against the previous period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pandas as pd

from reports.grouping import check_by
from smsc.codes import error_category, error_description

EVENT_GROUPS: Final = ("account", "day", "type", "sender")
ERROR_COLUMNS: Final = ("account", "event_time", "err", "type_name", "sender")


def error_counts(events: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Status callbacks with a non-zero `err` (every callback: the archive holds each once) per keys + err."""
    err = events["err"].astype("Int64")
    failing = events[(err.notna() & (err != 0)).to_numpy()]
    frame = pd.DataFrame({"err": failing["err"].astype("int64")}, index=failing.index)
    for name in keys:
        if name == "day":
            frame["day"] = failing["event_time"].dt.strftime("%Y-%m-%d")
        elif name == "type":
            frame["type"] = failing["type_name"].astype("string")
        elif name == "sender":
            frame["sender"] = failing["sender"].astype("string").fillna("none")
        else:
            frame[name] = failing[name].astype("string")
    return frame.groupby([*keys, "err"], sort=True, dropna=False).size()


def errors(
    events: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    by: Sequence[str] = ("account",),
    top: int | None = 10,
) -> pd.DataFrame:
    """Error codes per group, most frequent first (`top` per group; None = all), with `description`,
    `category`, `share` of the group's errors and, given the previous period's events, `previous`,
    `change` and `change_ratio` (count ÷ previous − 1; NaN for a code new in this period)."""
    keys = check_by(by, EVENT_GROUPS, "errors")
    current = error_counts(events, keys).rename("count")
    table = current.to_frame()
    if previous is not None:
        before = error_counts(previous, keys).rename("previous")
        table = table.join(before, how="left")
        table["previous"] = table["previous"].fillna(0).astype("int64")
        table["change"] = table["count"] - table["previous"]
        table["change_ratio"] = table["count"] / table["previous"].where(table["previous"] > 0) - 1
    table = table.reset_index()
    totals = table.groupby(keys, dropna=False)["count"].transform("sum")
    table.insert(len(keys) + 1, "description", table["err"].map(error_description))
    table.insert(len(keys) + 2, "category", table["err"].map(error_category))
    table["share"] = table["count"] / totals
    table = table.sort_values([*keys, "count", "err"], ascending=[*([True] * len(keys)), False, True])
    if top is not None:
        table = table.groupby(keys, dropna=False, sort=False).head(top)
    return table.reset_index(drop=True)
