"""Lifecycle rules on a hand-made history: once per message, first final wins, read = delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reports.archive import write_batch
from reports.load import load_events
from reports.messages import messages
from smsc.events import Event

T0 = 1_764_000_000


def _status(key: str, status: int, outcome: str, at: int, arrival: int, **fields: Any) -> Event:
    stamp = f"2025-11-24T16:00:{at:02d}Z"
    event: Event = {
        "v": 1,
        "kind": "status",
        "account": "acme",
        "key": key,
        "received_at_ns": (T0 + arrival) * 10**9,
        "occurred_at": stamp,
        "ts": stamp,
        "raw_partition": 0,
        "raw_offset": arrival,
        "status": status,
        "outcome": outcome,
        "err": fields.pop("err", 0),
        "type": 0,
        "type_name": "sms",
        "sender": "Bank-Info",
        "cost": "2.5",
        "cnt": 2,
        "balance": "main",
        "template_kind": "none",
    }
    event.update(fields)
    return event


@pytest.fixture
def lifecycle(tmp_path: Path) -> pd.DataFrame:
    events = [
        _status("1:7900", 0, "pending", 0, 0),
        _status("1:7900", 1, "delivered", 4, 1),  # delivered after 4 s
        _status("1:7900", 20, "failed", 9, 2, err=6),  # late failure: never reopens
        _status("2:7900", -1, "pending", 1, 3),
        _status("2:7900", 2, "read", 8, 4),  # read without delivered = delivered, no latency
        _status("3:7900", -3, "not_found", 2, 5),  # opens nothing
        _status("4:7900", 0, "pending", 3, 6),  # in flight
        _status("5:7900", 3, "expired", 5, 7),  # out of order: the final status arrives first ...
        _status("5:7900", 0, "pending", 2, 8),  # ... and the earlier status arriving later changes nothing
    ]
    write_batch(str(tmp_path), events, topic="smsc.events", partition=0, first_offset=0, last_offset=8)
    return messages(load_events("status", root=str(tmp_path)))


def test_each_message_once_with_its_first_final_outcome(lifecycle: pd.DataFrame) -> None:
    frame = lifecycle
    assert len(frame) == 4  # messages 1, 2, 4, 5 (3 is not_found)
    assert frame["outcome"].value_counts().to_dict() == {"delivered": 2, "expired": 1, "failed": 0}
    assert frame["outcome"].isna().sum() == 1  # message 4 is in flight
    assert frame["cost"].sum() == pytest.approx(4 * 2.5)  # once per message, not per callback
    assert frame["parts"].sum() == 8
    latencies = frame["latency_seconds"].dropna().tolist()
    assert latencies == [4.0]  # message 1 only; message 2 was made delivered by `read`
