"""The workload: deterministic by seed, plausible status walks, every product and field the pipeline meets."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from simulator import DEFAULT_START, ConfigError, Fault, Faults, Mix, Product, SimulatedCallback, generate
from smsc import (
    Balance,
    CallbackKind,
    IncomingSms,
    Outcome,
    StatusCallback,
    TemplateKind,
    VoiceOutcome,
    decode_request,
    parse_callback,
    status_outcome,
)


def parsed(callback: SimulatedCallback) -> StatusCallback | IncomingSms:
    result = parse_callback(
        decode_request(callback.body, callback.query_string, callback.content_type).params
    )
    assert isinstance(result, StatusCallback | IncomingSms)
    return result


@pytest.fixture(scope="module")
def workload() -> list[SimulatedCallback]:
    return generate(seed=42, count=8000)


@pytest.fixture(scope="module")
def statuses(workload: list[SimulatedCallback]) -> dict[str, list[StatusCallback]]:
    """Every message's statuses in the order they happened (by ts)."""
    by_message: dict[str, list[StatusCallback]] = defaultdict(list)
    for callback in workload:
        if callback.kind is CallbackKind.STATUS:
            status = parsed(callback)
            assert isinstance(status, StatusCallback)
            by_message[status.message_key].append(status)
    return {
        key: sorted(walk, key=lambda status: status.ts or DEFAULT_START) for key, walk in by_message.items()
    }


def test_the_same_seed_gives_the_same_bytes() -> None:
    first, second = generate(seed=9, count=1500), generate(seed=9, count=1500)
    assert first == second
    assert [callback.seq for callback in first] == list(range(1500))


def test_another_seed_gives_another_workload() -> None:
    assert [c.body for c in generate(seed=1, count=50)] != [c.body for c in generate(seed=2, count=50)]


def test_the_start_time_shifts_the_timestamps_and_nothing_else() -> None:
    later = DEFAULT_START + timedelta(days=3, hours=2)
    base, shifted = generate(seed=4, count=300), generate(seed=4, count=300, start=later)
    shift = (later - DEFAULT_START).total_seconds()
    for a, b in zip(base, shifted, strict=True):
        assert b.sent_at == pytest.approx(a.sent_at + shift)
        assert a.key == b.key
        for name in ("ts", "sent"):
            if name in a.params:
                assert int(b.params[name]) == int(a.params[name]) + shift


def test_callbacks_come_in_sending_order(workload: list[SimulatedCallback]) -> None:
    sent = [callback.sent_at for callback in workload]
    assert sent == sorted(sent)
    assert sent[0] >= DEFAULT_START.timestamp()


def test_a_clean_message_is_sent_in_the_order_it_happened(workload: list[SimulatedCallback]) -> None:
    last_ts: dict[str, int] = {}
    for callback in workload:
        if callback.kind is CallbackKind.STATUS:
            ts = int(callback.params["ts"])
            assert ts > last_ts.get(callback.key, 0)
            last_ts[callback.key] = ts


def test_every_product_appears(workload: list[SimulatedCallback]) -> None:
    types = {callback.params.get("type") for callback in workload if callback.kind is CallbackKind.STATUS}
    assert types == {"0", "1", "4", "7", "10"}
    incoming = [callback for callback in workload if callback.kind is CallbackKind.INCOMING]
    assert any("sms_id" in callback.params for callback in incoming)
    assert any("sms_id" not in callback.params for callback in incoming)
    assert any(callback.kind is CallbackKind.CALL_CONFIRMATION for callback in workload)


def test_status_walks_are_plausible(statuses: dict[str, list[StatusCallback]]) -> None:
    outcomes: dict[Outcome, int] = defaultdict(int)
    for walk in statuses.values():
        codes = [status.status for status in walk]
        finals = [code for code in codes if status_outcome(code).is_final]
        assert len(finals) <= 1, codes  # a clean workload ends a message once
        if finals:
            final_index = codes.index(finals[0])
            assert all(status_outcome(code) is Outcome.PENDING for code in codes[:final_index]), codes
            assert all(code in (2, 4) for code in codes[final_index + 1 :]), codes
            outcomes[status_outcome(finals[0])] += 1
        times = [status.ts for status in walk]
        assert len(set(times)) == len(times)  # ts is part of a status's identity
        for status in walk:
            if status.outcome is Outcome.FAILED and status.message_type != 4:
                assert status.status in (20, 22, 23, 24, 25)
    assert outcomes[Outcome.DELIVERED] > outcomes[Outcome.FAILED] > outcomes[Outcome.EXPIRED] > 0


def test_cost_cnt_type_flag_and_sender_repeat_on_every_status(
    statuses: dict[str, list[StatusCallback]],
) -> None:
    for walk in statuses.values():
        assert len({(s.cost, s.cnt, s.type, s.flag, s.sender) for s in walk}) == 1
        assert walk[0].cost is not None
        assert walk[0].cnt is not None


def test_multi_part_sms_bulk_sends_balances_and_template_kinds(
    statuses: dict[str, list[StatusCallback]],
) -> None:
    firsts = [walk[0] for walk in statuses.values()]
    assert {status.cnt for status in firsts if status.message_type == 0} >= {1, 2, 3}
    ids = defaultdict(set)
    for status in firsts:
        ids[status.id].add(status.phone)
    assert any(len(phones) > 1 for phones in ids.values())
    flags = [status.flag for status in firsts if status.flag is not None]
    assert {flag.balance for flag in flags} == set(Balance)
    assert {flag.template_kind for flag in flags} == {None, *TemplateKind}
    assert len({status.sender for status in firsts}) >= 5


def test_error_codes_come_with_failures_and_with_pending_statuses(
    statuses: dict[str, list[StatusCallback]],
) -> None:
    errs = {(status.outcome, status.err) for walk in statuses.values() for status in walk if status.err}
    assert (Outcome.PENDING, 6) in errs  # subscriber offline while SMSC keeps trying
    assert {err for outcome, err in errs if outcome is Outcome.FAILED} >= {1, 237, 240, 248, 249}


def test_voice_calls_carry_menus_keys_ring_time_and_overtime(
    statuses: dict[str, list[StatusCallback]],
) -> None:
    finals = [walk[-1] for walk in statuses.values() if walk[-1].message_type == 7]
    assert {call.voice_outcome for call in finals} >= {
        VoiceOutcome.ANSWERED,
        VoiceOutcome.NOT_ANSWERED,
        VoiceOutcome.BUSY,
        VoiceOutcome.ANSWERING_MACHINE,
    }
    answered = [call for call in finals if call.voice_outcome is VoiceOutcome.ANSWERED]
    assert all(call.voice_menu and call.voice_menu.ringtime_seconds for call in answered)
    assert all(call.cnt and call.cnt > 0 for call in answered)
    assert any(call.voice_menu and call.voice_menu.callmenu for call in answered)
    assert any(call.dtmf for call in answered)
    overtime = [call for call in answered if call.overtime_seconds]
    assert overtime
    assert all(call.cmt and "overtime: " in call.cmt for call in overtime)


def test_hlr_lookups_carry_network_and_roaming(statuses: dict[str, list[StatusCallback]]) -> None:
    results = [
        walk[-1].hlr for walk in statuses.values() if walk[-1].message_type == 4 and walk[-1].status == 1
    ]
    assert results
    assert all(hlr and hlr.mcc and hlr.mnc and hlr.country and hlr.network and hlr.imsi for hlr in results)
    assert any(hlr and hlr.roaming for hlr in results)
    assert any(hlr and not hlr.roaming for hlr in results)


def test_status_time_is_moscow_time_of_ts(workload: list[SimulatedCallback]) -> None:
    for callback in workload[:500]:
        if callback.kind is CallbackKind.STATUS:
            status = parsed(callback)
            assert isinstance(status, StatusCallback)
            assert status.time == status.ts


def test_the_mix_decides_the_products() -> None:
    callbacks = generate(seed=1, count=300, mix=Mix.parse("voice=1"))
    assert {callback.params.get("type") for callback in callbacks} == {"7"}
    assert Mix.parse("sms=2, incoming=1").table() == [
        (Product.SMS, 2.0),
        *((product, 0.0) for product in list(Product)[1:5]),
        (Product.INCOMING, 1.0),
        (Product.CALL_CONFIRMATION, 0.0),
    ]


@pytest.mark.parametrize("spec", ["sms=-1", "mms=3", "sms=x", "sms=0"])
def test_a_bad_mix_is_refused(spec: str) -> None:
    with pytest.raises(ConfigError) as error:
        Mix.parse(spec)
    assert error.value.field == "mix"


def test_copies_leave_the_clean_workload_alone() -> None:
    clean = generate(seed=6, count=2000)
    faults = Faults(duplicate_ratio=0.2, malformed_ratio=0.1)
    noisy = generate(seed=6, count=3000, faults=faults)
    originals = [callback for callback in noisy if not callback.is_copy][:2000]
    assert [(c.key, c.body, c.query_string) for c in originals] == [
        (c.key, c.body, c.query_string) for c in clean
    ]
    assert all(callback.original_seq is None for callback in originals)


def test_reordering_moves_callbacks_and_changes_nothing_else() -> None:
    """The wire is drawn in sending order, so compare what SMSC says, not how it is written."""

    def said(callbacks: list[SimulatedCallback]) -> list[tuple[tuple[str, str], ...]]:
        return [
            tuple(sorted((k, v) for k, v in c.params.items() if k not in ("charset", "fmt")))
            for c in callbacks
        ]

    clean = generate(seed=6, count=6000)
    noisy = generate(seed=6, count=6000, faults=Faults(out_of_order_ratio=0.3, late_ratio=0.3))
    assert {c.fault for c in noisy} == {None, Fault.OUT_OF_ORDER, Fault.LATE}
    assert said(noisy) != said(clean)
    # Moved callbacks leave or enter the window at its end (a late status follows its message's final,
    # which may be far ahead); everything else is the same. Exact moves: tests/unit/simulator/test_faults.py.
    assert len(set(said(clean)) & set(said(noisy))) > 0.9 * len(clean)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ConfigError):
        generate(seed=1, count=1, start=datetime(2025, 1, 1))
    assert generate(seed=1, count=1, start=datetime(2025, 1, 1, tzinfo=UTC))
