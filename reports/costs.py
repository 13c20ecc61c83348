"""The `costs` report: spend, parts, cost per delivered message and spend on undelivered ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pandas as pd

from reports.grouping import MESSAGE_GROUPS, check_by

DEFAULT_BY: Final = ("account", "balance", "template_kind")


def costs(messages: pd.DataFrame, by: Sequence[str] = DEFAULT_BY) -> pd.DataFrame:
    """Per group of messages that carry a cost or parts (each message once, whatever its callbacks;
    grouped by the labels of its first status, `country`/`carrier` its destination).

    `spend` = Σ cost (account currency, RUB by default); `parts` = Σ SMS parts (calls carry talk seconds in
    `cnt`, not parts); `undelivered_spend` = cost of messages whose outcome is failed or expired;
    `cost_per_delivered` = spend ÷ delivered messages.
    """
    keys = check_by(by, MESSAGE_GROUPS, "costs")
    charged = messages[messages["charged"].to_numpy()]
    frame = charged[keys].copy()
    frame["spend"] = charged["cost"].fillna(0.0)
    frame["parts"] = charged["parts"].fillna(0.0).astype("int64")
    frame["delivered"] = (charged["outcome"] == "delivered").fillna(False).astype("int64")
    undelivered = charged["outcome"].isin(["failed", "expired"]).to_numpy()
    frame["undelivered_spend"] = frame["spend"].where(undelivered, 0.0)
    groups = frame.groupby(keys, observed=True, sort=True, dropna=False)
    table = groups[["spend", "parts", "delivered", "undelivered_spend"]].sum()
    table.insert(0, "messages", groups.size())
    table["cost_per_delivered"] = table["spend"] / table["delivered"].where(table["delivered"] > 0)
    table["undelivered_share"] = table["undelivered_spend"] / table["spend"].where(table["spend"] > 0)
    return table.reset_index()
