"""The compact state: expiring sets, packed message states, `step`, and the snapshot layouts."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pytest

from smsc import encode_request
from smsc.codes import Outcome
from smsc.events import Destination
from streams.expiring import ExpiringSet
from streams.lifecycle import Counted, MessageState, MessageTable, Transition, advance, step
from streams.processor import (
    NS,
    PartitionProcessor,
    ProcessorConfig,
    SourceRecord,
    Verdict,
    identity_digest,
)
from tests.unit.streams.test_processor import T0


def test_members_expire_in_order_on_the_given_clock() -> None:
    members: ExpiringSet[str] = ExpiringSet(10)
    for now, member in enumerate("abcde"):
        members.add(member, now)
    assert members.expire(9) == []
    assert members.expire(11) == ["a", "b"]
    assert "a" not in members
    assert "c" in members
    assert len(members) == 3
    assert list(members.items()) == [("c", 12), ("d", 13), ("e", 14)]


def test_a_re_added_member_lives_ttl_after_its_last_add() -> None:
    members: ExpiringSet[str] = ExpiringSet(10)
    members.add("a", 0)
    members.add("b", 1)
    members.add("a", 5)
    members.add("a", 7)
    assert list(members.items()) == [("b", 11), ("a", 17)]
    assert members.expire(16) == ["b"]
    assert "a" in members
    assert members.expire(17) == ["a"]
    members.add("a", 20)  # gone, then new: one slot again
    assert list(members.items()) == [("a", 30)]
    assert members.expire(30) == ["a"]
    assert len(members) == 0


def test_many_members_survive_compaction_and_restore() -> None:
    members: ExpiringSet[int] = ExpiringSet(1000)
    for now in range(20_000):
        members.add(now, now)
        if now % 7 == 0:
            members.add(now // 2, now)  # re-adds of older members, still present or not
        members.expire(now)
    restored: ExpiringSet[int] = ExpiringSet(1000)
    restored.restore(list(members.items()))
    assert list(restored.items()) == list(members.items())
    assert len(restored) == len(members)
    for now in range(20_000, 21_500, 50):
        assert restored.expire(now) == members.expire(now)
    assert len(members) == len(restored) == 0


def _reference_advance(state: MessageState, outcome: Outcome, has_cost: bool, is_lookup: bool) -> Transition:
    """The lifecycle rules as first written (IntFlag arithmetic): `step` must agree on every input. An HLR
    look-up counts once, with its final outcome (whichever: failed look-ups too)."""
    final_flags = {Outcome.DELIVERED: Counted.DELIVERED, Outcome.FAILED: Counted.FAILED}
    final_flags[Outcome.EXPIRED] = Counted.EXPIRED
    engagement_flags = {Outcome.READ: Counted.READ, Outcome.CLICKED: Counted.CLICKED}
    final = engagement = None
    if outcome in final_flags and not state.is_final:
        final = outcome
        state.counted |= final_flags[outcome]
    elif outcome in engagement_flags:
        if not state.counted & engagement_flags[outcome]:
            engagement = outcome
            state.counted |= engagement_flags[outcome]
        if not state.is_final:
            final = Outcome.DELIVERED
            state.counted |= Counted.DELIVERED
    count_cost = has_cost and not state.counted & Counted.COST
    if count_cost:
        state.counted |= Counted.COST
    count_lookup = is_lookup and final is not None and not state.counted & Counted.HLR
    if count_lookup:
        state.counted |= Counted.HLR
    return Transition(final=final, engagement=engagement, count_cost=count_cost, count_lookup=count_lookup)


def test_step_and_advance_agree_with_the_reference_on_every_input() -> None:
    for counted, outcome, has_cost, is_lookup in itertools.product(
        range(128), list(Outcome), (False, True), (False, True)
    ):
        expected_state = MessageState(0, 0, Counted(counted))
        expected = _reference_advance(expected_state, outcome, has_cost, is_lookup)
        bits, final, engagement, count_cost, count_lookup = step(counted, outcome, has_cost, is_lookup)
        assert (bits, final, engagement, count_cost, count_lookup) == (
            int(expected_state.counted),
            expected.final,
            expected.engagement,
            expected.count_cost,
            expected.count_lookup,
        )
        state = MessageState(0, 0, Counted(counted))
        assert advance(state, outcome, has_cost=has_cost, is_lookup=is_lookup) == expected
        assert state.counted == expected_state.counted


RU_MTS = ("RU", "MTS", "range")


@pytest.mark.parametrize(
    ("first_seen", "type_", "counted", "cost", "destination"),
    [
        (1_795_523_405, 0, 0, None, None),
        (1_795_523_405, 255, 127, Decimal("1.50"), RU_MTS),
        (-62_135_596_800, 7, 33, Decimal("0.000000000001"), ("KZ", "Kcell", "hlr")),  # a negative time too
        (0, 256, 1, Decimal("2"), RU_MTS),  # a type beyond 8 bits: kept as a MessageState
        (12, 2**40, 64, None, None),
    ],
)
def test_a_message_state_round_trips_exactly(
    first_seen: int, type_: int, counted: int, cost: Decimal | None, destination: Destination | None
) -> None:
    table = MessageTable()
    table.set("k", first_seen, type_, counted, cost, destination)
    got = table.get("k")
    assert got == (first_seen, type_, counted, cost, destination)
    assert got is not None
    assert str(got[3]) == str(cost)
    rows, destinations = table.rows()
    assert rows == [["k", first_seen, type_, counted, None if cost is None else str(cost), rows[0][5]]]
    assert destination_of(rows[0], destinations) == destination


def destination_of(row: list[object], destinations: list[list[str]]) -> tuple[str, ...] | None:
    """The destination of a snapshot row: its last column indexes the destinations."""
    index = row[5]
    if index is None:
        return None
    assert isinstance(index, int)
    return tuple(destinations[index])


def test_a_full_destination_table_loses_nothing_and_the_rows_index_their_destinations() -> None:
    table = MessageTable()
    table.set("none", 1, 0, 0, None)
    for i in range(66_000):  # beyond the 65,535 interned destinations
        table.set(f"m{i}", i, 0, 0, None, ("RU", f"carrier {i}", "range"))
    table.set("again", 5, 0, 0, None, ("RU", "carrier 3", "range"))
    assert all(table.get(f"m{i}") == (i, 0, 0, None, ("RU", f"carrier {i}", "range")) for i in range(66_000))
    assert table.get("none") == (1, 0, 0, None, None)
    rows, destinations = table.rows()
    assert len(destinations) == 66_000
    for row in rows:
        key = row[0]
        assert isinstance(key, str)
        state = table.get(key)
        assert state is not None
        assert destination_of(row, destinations) == state[4]
    assert rows[-1][5] == rows[4][5] == 3  # "again" and "m3": one destination, indexed once


def test_costs_keep_their_digits_and_a_full_cost_table_loses_nothing() -> None:
    table = MessageTable()
    table.set("a", 1, 0, 32, Decimal("1.5"))
    table.set("b", 1, 0, 32, Decimal("1.50"))
    assert str(table.get("a")[3]) == "1.5"  # type: ignore[index]
    assert str(table.get("b")[3]) == "1.50"  # type: ignore[index]
    for i in range(70_000):  # beyond the 65,535 interned costs
        table.set(f"m{i}", i, 1, 32, Decimal(i) / 100)
    assert all(table.get(f"m{i}") == (i, 1, 32, Decimal(i) / 100, None) for i in range(70_000))
    assert len(table) == 70_002
    assert "m69999" in table
    table.pop("m69999")
    assert table.get("m69999") is None
    assert len(table) == 70_001


def _status(message: str, code: int, ts: int) -> bytes:
    params = {"id": message, "phone": "79990000001", "status": str(code), "ts": str(T0 + ts)}
    return encode_request({**params, "cost": "1.10", "type": "0"}).body


def _feed(processor: PartitionProcessor, bodies: list[bytes], first_offset: int) -> list[Verdict]:
    verdicts = []
    for offset, body in enumerate(bodies, first_offset):
        record = SourceRecord(0, offset, body, b"", None, "acme", (T0 + offset) * NS)
        verdicts.append(processor.process(record).verdict)
    return verdicts


def test_a_snapshot_of_the_earlier_layout_restores_and_still_dedupes() -> None:
    """Snapshots written before the digests: `seen` and `finished` as pairs, identities as text."""
    processor = PartitionProcessor(0, ProcessorConfig())
    _feed(processor, [_status("1", 0, 0), _status("1", 1, 5), _status("2", 0, 6)], 0)
    state = json.loads(json.dumps(processor.to_json()))
    seen = list(processor.seen.items())
    texts = {
        identity_digest(text): text
        for text in (
            f"s|acme|{m}|79990000001|{code}|2026-11-24T12:30:{5 + ts:02d}+00:00"
            for m, code, ts in (("1", 0, 0), ("1", 1, 5), ("2", 0, 6))
        )
    }
    assert set(texts) == {digest for digest, _ in seen}  # the digests are of the identity texts
    state["seen"] = [[texts[digest], expires] for digest, expires in seen]
    state["finished"] = [list(item) for item in processor.finished.items()]
    restored = PartitionProcessor.from_json(state, ProcessorConfig())
    assert restored.to_json() == processor.to_json()
    again = [_status("1", 1, 5), _status("2", 0, 6), _status("2", 1, 9)]
    assert _feed(restored, again, 3) == _feed(processor, again, 3)
    retry = [_status("2", 1, 9)]
    assert _feed(processor, retry, 6) == _feed(restored, retry, 6) == [Verdict.DUPLICATE]
    assert restored.to_json() == processor.to_json()
