"""The `voice-menu` report: answer rate and outcomes, talk/ring percentiles, the menu funnel, the keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

import pandas as pd

from reports.grouping import MESSAGE_GROUPS, check_by

VOICE_OUTCOMES: Final = ("answered", "not_answered", "busy", "answering_machine", "failed", "expired")


def finished_calls(messages: pd.DataFrame) -> pd.DataFrame:
    """Voice messages that reached a final outcome (their figures come from the status that ended them)."""
    return messages[messages["voice_outcome"].notna().to_numpy()]


def calls(messages: pd.DataFrame, by: Sequence[str] = ("account",)) -> pd.DataFrame:
    """Per group: calls, each voice outcome, answer_rate, talk and ring p50/p95 seconds, overtime."""
    keys = check_by(by, MESSAGE_GROUPS, "voice-menu")
    finished = finished_calls(messages)
    frame = finished[keys].copy()
    for outcome in VOICE_OUTCOMES:
        frame[outcome] = (finished["voice_outcome"] == outcome).astype("int64")
    frame["overtime_seconds"] = finished["overtime_seconds"].fillna(0).astype("int64")
    groups = frame.groupby(keys, observed=True, sort=True, dropna=False)
    table = groups[[*VOICE_OUTCOMES, "overtime_seconds"]].sum()
    table.insert(0, "calls", groups.size())
    table.insert(1, "answer_rate", table["answered"] / table["calls"])
    index = [finished[name] for name in keys]
    for column, name in (("talk_seconds", "talk"), ("ringtime_seconds", "ring")):
        values = finished[column].astype("float64").groupby(index, observed=True, dropna=False)
        table[f"{name}_p50_seconds"] = values.quantile(0.5)
        table[f"{name}_p95_seconds"] = values.quantile(0.95)
    return table.reset_index()


def menu_funnel(messages: pd.DataFrame) -> pd.DataFrame:
    """Per account and menu path prefix (`1`, `12` ...): calls that went through it, and the share of the
    calls that reached its parent step (the first step: of the calls that used the menu)."""
    finished = finished_calls(messages)
    with_menu = finished[finished["callmenu"].notna().to_numpy()]
    rows = []
    for account, paths in with_menu.groupby("account", observed=True)["callmenu"]:
        reached: Counter[str] = Counter()
        for path, count in paths.astype(str).value_counts().items():
            for depth in range(1, len(str(path)) + 1):
                reached[str(path)[:depth]] += int(count)
        total = int(paths.notna().sum())
        for prefix, count in sorted(reached.items()):
            parent = reached[prefix[:-1]] if len(prefix) > 1 else total
            rows.append((account, prefix, len(prefix), count, count / parent))
    return pd.DataFrame(rows, columns=["account", "path", "depth", "calls", "share_of_parent"])


def keys(messages: pd.DataFrame) -> pd.DataFrame:
    """Per account, each DTMF key pressed (every key of every finished call's `dtmf`) and its share."""
    finished = finished_calls(messages)
    pressed = finished[finished["dtmf"].notna().to_numpy()]
    exploded = pd.DataFrame(
        {"account": pressed["account"].to_numpy(), "key": pressed["dtmf"].astype(str).map(list).to_numpy()}
    ).explode("key")
    if exploded.empty:
        return pd.DataFrame({"account": [], "key": [], "presses": [], "share": []})
    table = exploded.groupby(["account", "key"], observed=True).size().rename("presses").reset_index()
    table["share"] = table["presses"] / table.groupby("account", observed=True)["presses"].transform("sum")
    return table


def voice_menu(messages: pd.DataFrame, by: Sequence[str] = ("account",)) -> dict[str, pd.DataFrame]:
    return {"calls": calls(messages, by), "menu": menu_funnel(messages), "keys": keys(messages)}
