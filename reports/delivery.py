"""The `delivery` report: sent, delivered, failed, expired, in flight, delivery ratio, latency p50/p95."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from reports.grouping import MESSAGE_GROUPS, check_by


def delivery(messages: pd.DataFrame, by: Sequence[str] = ("account",)) -> pd.DataFrame:
    """Per group of messages (labels of their first status, the destination `country`/`carrier` too;
    `day` = UTC day of their first status).

    `delivery_ratio` = delivered ÷ (delivered + failed + expired): messages still in flight do not count.
    Latency percentiles over messages that a delivered status (1) ended.
    """
    keys = check_by(by, MESSAGE_GROUPS, "delivery")
    frame = messages[keys].copy()
    for outcome in ("delivered", "failed", "expired"):
        frame[outcome] = (messages["outcome"] == outcome).fillna(False).astype("int64")
    frame["in_flight"] = messages["outcome"].isna().astype("int64")
    frame["latency_seconds"] = messages["latency_seconds"].astype("float64")
    groups = frame.groupby(keys, observed=True, sort=True, dropna=False)
    table = groups[["delivered", "failed", "expired", "in_flight"]].sum()
    table.insert(0, "sent", groups.size())
    final = table["delivered"] + table["failed"] + table["expired"]
    table["delivery_ratio"] = (table["delivered"] / final.where(final > 0)).astype("float64")
    latency = groups["latency_seconds"]
    table["latency_p50_seconds"] = latency.quantile(0.5)
    table["latency_p95_seconds"] = latency.quantile(0.95)
    return table.reset_index()
