"""The `incoming` report: incoming SMS per receiving number, the share of replies, call confirmations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pandas as pd

from reports.grouping import check_by

INCOMING_GROUPS: Final = ("account", "day", "to")
CONFIRMATION_GROUPS: Final = ("account", "day")


def _keyed(events: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(index=events.index)
    for name in keys:
        if name == "day":
            frame["day"] = events["event_time"].dt.strftime("%Y-%m-%d")
        else:
            frame[name] = events[name].astype("string").fillna("none")
    return frame


def incoming(events: pd.DataFrame, by: Sequence[str] = ("account",)) -> pd.DataFrame:
    """Per group and receiving number `to`: incoming SMS, replies (`sms_id` present: an answer to one of
    our SMS), reply_share = replies ÷ incoming."""
    keys = check_by(by, INCOMING_GROUPS, "incoming")
    keys = [*keys, "to"] if "to" not in keys else keys
    frame = _keyed(events, keys)
    frame["replies"] = events["is_reply"].fillna(False).astype("int64")
    groups = frame.groupby(keys, sort=True, dropna=False)
    table = groups[["replies"]].sum()
    table.insert(0, "incoming", groups.size())
    table["reply_share"] = table["replies"] / table["incoming"]
    return table.reset_index()


def confirmations(events: pd.DataFrame, by: Sequence[str] = ("account",)) -> pd.DataFrame:
    """Call confirmations (`waitcall` callbacks) per group (`account`, `day`; other keys are ignored)."""
    keys = [name for name in by if name in CONFIRMATION_GROUPS] or ["account"]
    return _keyed(events, keys).groupby(keys, sort=True).size().rename("confirmations").reset_index()
