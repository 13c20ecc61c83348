"""The `destinations` report: where delivery dropped — destinations (country, carrier) of a period whose
delivery ratio fell most against a previous period.

Messages are counted exactly as in the `delivery` and `costs` reports (their functions do it here, over
the messages of each period grouped by destination); this module only sets the two periods side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import pandas as pd

from reports.costs import costs
from reports.delivery import delivery
from reports.errors import BadOptionError
from reports.load import check_range

KEYS: Final = ("country", "carrier")
DEFAULT_MIN_MESSAGES: Final = 20
DEFAULT_TOP: Final = 20
COLUMNS: Final = (
    *KEYS,
    "messages",
    "delivery_ratio",
    "previous_delivery_ratio",
    "change_points",
    "delivered",
    "failed",
    "expired",
    "in_flight",
    "spend",
    "undelivered_spend",
    "previous_messages",
)
_FIGURES: Final = ("messages", "delivered", "failed", "expired", "in_flight", "delivery_ratio")


def previous_period(
    since: datetime,
    until: datetime,
    previous_since: datetime | None = None,
    previous_until: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The period to compare [since, until) with: the same length just before it by default; one bound
    given, the same length from or to it; both given, exactly them."""
    length = until - since
    start = previous_since or (previous_until - length if previous_until else since - length)
    end = previous_until or start + length
    check_range(start, end, "previous-until")
    return start, end


def destination_figures(messages: pd.DataFrame) -> pd.DataFrame:
    """Per destination (index country, carrier) of `messages` (`reports.messages.messages` with the cost
    and destination columns): `messages` opened, the outcomes and `delivery_ratio` as the delivery
    report counts them, `spend` and `undelivered_spend` as the costs report does."""
    keys = list(KEYS)
    outcomes = delivery(messages, keys).rename(columns={"sent": "messages"})
    money = costs(messages, keys)[[*keys, "spend", "undelivered_spend"]]
    table = _by_key(outcomes)[list(_FIGURES)].join(_by_key(money), how="left")
    return table.fillna({"spend": 0.0, "undelivered_spend": 0.0})


def _by_key(table: pd.DataFrame) -> pd.DataFrame:
    """Indexed by the destination as plain strings (the periods' categoricals differ)."""
    keys = pd.MultiIndex.from_arrays([table[name].astype(str).to_numpy() for name in KEYS], names=KEYS)
    return table.drop(columns=list(KEYS)).set_axis(keys, axis=0)


def destinations(
    now: pd.DataFrame,
    before: pd.DataFrame | None,
    *,
    min_messages: int = DEFAULT_MIN_MESSAGES,
    top: int | None = DEFAULT_TOP,
) -> pd.DataFrame:
    """The destinations with at least `min_messages` messages now (`destination_figures` of the period;
    `before`: of the previous one, None when it has no message), largest drop of the delivery ratio
    first; `top` rows (None = all).

    `previous_delivery_ratio` and `change_points` (= 100 × (ratio now − ratio before)) only where the
    previous period also had at least `min_messages` messages: a ratio of a few messages says little.
    Rows without a change follow, lowest ratio first."""
    if min_messages < 0:
        raise BadOptionError("--min-messages", min_messages, "must be >= 0")
    table = now[now["messages"] >= min_messages].copy()
    if before is None:
        before = now.iloc[0:0]
    previous = before[["messages", "delivery_ratio"]].reindex(table.index)
    table["previous_messages"] = previous["messages"].fillna(0).astype("int64")
    comparable = (table["previous_messages"] >= min_messages).to_numpy()
    table["previous_delivery_ratio"] = previous["delivery_ratio"].astype("float64").where(comparable)
    table["change_points"] = 100 * (table["delivery_ratio"] - table["previous_delivery_ratio"])
    table = table.reset_index().sort_values(
        ["change_points", "delivery_ratio", "messages", *KEYS],
        ascending=[True, True, False, True, True],
        na_position="last",
        kind="stable",
    )
    if top is not None:
        table = table.head(top)
    return table[list(COLUMNS)].reset_index(drop=True)
