"""Lifecycle rules on a hand-made history: once per message, first final wins, read = delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reports.archive import write_batch
from reports.catalog import run_report
from reports.load import load_events
from reports.messages import arrival_order, messages
from reports.voice_menu import voice_menu
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


def _lexsorted(events: pd.DataFrame) -> np.ndarray:
    """The contract's arrival order, the plain way: received_at, then raw_offset (missing = -1), stable."""
    offset = events["raw_offset"].astype("Int64").fillna(-1).to_numpy(dtype="int64")
    received = events["received_at"].dt.as_unit("ns").array.asi8
    return np.lexsort((offset, received))


def _frame(received_s: list[int], offsets: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "received_at": pd.to_datetime(received_s, unit="s", utc=True).as_unit("ns"),
            "raw_offset": pd.array(offsets, dtype="Int64"),
        }
    )


@pytest.mark.parametrize(
    ("received_s", "offsets"),
    [
        ([1, 2, 3, 4], [0, 1, 2, 3]),  # in order: no sort at all
        ([1, 1, 2, 2], [0, 1, 2, 3]),  # equal times, offsets in order
        ([1, 1, 2, 2], [1, 0, 3, 2]),  # equal times, offsets out of order
        ([1, 1, 1, 2], [5, None, 5, 0]),  # a missing offset sorts first; equal offsets keep row order
        ([3, 1, 2, 1], [0, 1, 2, 3]),  # times out of order, no tie after sorting ... one tie
        ([2, 1, 2, 1, 2], [9, 4, 1, 4, 5]),  # out of order, ties, equal offsets inside a tie
    ],
)
def test_arrival_order_is_the_lexsort_of_time_and_offset(
    received_s: list[int], offsets: list[int | None]
) -> None:
    events = _frame(received_s, offsets)
    assert arrival_order(events).tolist() == _lexsorted(events).tolist()


def test_arrival_order_on_many_ties_and_shuffled_rows() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    offsets: list[int | None] = [int(v) for v in rng.integers(0, 50, n)]
    for position in range(0, n, 37):
        offsets[position] = None
    events = _frame([int(v) for v in rng.integers(0, 40, n)], offsets)
    assert arrival_order(events).tolist() == _lexsorted(events).tolist()
    in_order = events.iloc[_lexsorted(events)].reset_index(drop=True)
    assert arrival_order(in_order).tolist() == list(range(n))


def _sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    plain = frame.astype(object).where(frame.notna(), None).astype(str)
    return plain.sort_values(list(plain.columns)).reset_index(drop=True)


def test_row_order_and_key_encoding_do_not_change_the_messages(tmp_path: Path) -> None:
    events = [
        _status("1:7900", 0, "pending", 0, 0),
        _status("1:7900", 1, "delivered", 4, 1),
        _status("2:7900", 0, "pending", 1, 2, account="globex"),
        _status("2:7900", 20, "failed", 3, 3, account="globex", err=6),
        _status("2:7900", 0, "pending", 1, 4),  # the same key in another account: another message
        _status("3:7900", 3, "expired", 5, 5),
        _status("3:7900", 0, "pending", 2, 6),
    ]
    write_batch(str(tmp_path), events, topic="smsc.events", partition=0, first_offset=0, last_offset=6)
    loaded = load_events("status", root=str(tmp_path))
    expected = messages(loaded)
    assert len(expected) == 4
    shuffled = loaded.iloc[[5, 2, 6, 0, 4, 3, 1]].reset_index(drop=True)
    pd.testing.assert_frame_equal(_sorted_rows(messages(shuffled)), _sorted_rows(expected))
    # The catalog's way: the key as integer codes computed in Arrow instead of strings.
    coded = loaded.drop(columns=["key"])
    coded["key_code"] = pd.array(pd.factorize(loaded["key"])[0], dtype="Int32")
    pd.testing.assert_frame_equal(messages(coded), expected)


def test_voice_menu_without_any_call_is_empty_as_over_all_rows(tmp_path: Path) -> None:
    """The catalog loads only the rows of keys with a voice status: with none, the same empty sections."""
    events = [_status("1:7900", 0, "pending", 0, 0), _status("1:7900", 1, "delivered", 4, 1)]
    write_batch(str(tmp_path), events, topic="smsc.events", partition=0, first_offset=0, last_offset=1)
    got = run_report("voice-menu", root=str(tmp_path))
    expected = voice_menu(messages(load_events("status", root=str(tmp_path))))
    assert list(got) == list(expected) == ["calls", "menu", "keys"]
    for section, frame in expected.items():
        assert frame.empty
        pd.testing.assert_frame_equal(got[section], frame)
