"""Faults: exactly the damage asked for, marked, and nothing else."""

from __future__ import annotations

from collections import defaultdict
from random import Random

import pytest

from simulator import (
    ConfigError,
    ErrorBurst,
    Fault,
    Faults,
    Malformation,
    Mix,
    SimulatedCallback,
    WireConfig,
    generate,
)
from simulator.faults import MAX_LATENESS_SECONDS, malform, reorder
from smsc import (
    BodyFormat,
    CallbackKind,
    Outcome,
    SignatureAlgorithm,
    SignatureError,
    SmscError,
    StatusCallback,
    decode_request,
    parse_callback,
    status_outcome,
    verify_signature,
)

SECRET = "topsecret"


def parses(body: bytes, query: str, content_type: str) -> bool:
    try:
        parse_callback(decode_request(body, query, content_type).params)
    except SmscError:
        return False
    return True


def status_of(callback: SimulatedCallback) -> StatusCallback:
    status = parse_callback(callback.params)
    assert isinstance(status, StatusCallback)
    return status


# -- error bursts ---------------------------------------------------------------------------------


def test_error_burst_specs() -> None:
    assert ErrorBurst.parse("60:30") == ErrorBurst(60.0, 30.0, 255, 0.8)
    assert ErrorBurst.parse("0:5.5:248", ratio=1.0) == ErrorBurst(0.0, 5.5, 248, 1.0)
    burst = ErrorBurst(10, 5)
    assert [burst.covers(t) for t in (9.9, 10, 14.9, 15)] == [False, True, True, False]


@pytest.mark.parametrize("spec", ["60", "a:b", "1:2:3:4", "-1:5", "5:0", "1:2:x"])
def test_bad_error_burst_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigError) as error:
        ErrorBurst.parse(spec)
    assert error.value.field == "error_burst"


def test_messages_created_during_a_burst_fail_with_its_error() -> None:
    burst = ErrorBurst(30.0, 20.0, err=248, ratio=1.0)
    callbacks = generate(seed=3, count=4000, mix=Mix.parse("sms=1"), faults=Faults(error_bursts=(burst,)))
    start = callbacks[0].sent_at
    firsts: dict[str, float] = {}
    finals: dict[str, StatusCallback] = {}
    for callback in callbacks:
        status = status_of(callback)
        assert status.ts is not None
        firsts.setdefault(callback.key, status.ts.timestamp())
        if status.outcome.is_final:
            finals[callback.key] = status
    during = [key for key, first in firsts.items() if 31 <= first - start < 49 and key in finals]
    after = [key for key, first in firsts.items() if first - start >= 51 and key in finals]
    assert len(during) > 100
    assert all((finals[key].status, finals[key].err) == (20, 248) for key in during)
    assert sum((finals[key].status, finals[key].err) == (20, 248) for key in after) < 0.05 * len(after)


@pytest.mark.parametrize("field", ["duplicate_ratio", "malformed_ratio", "late_ratio", "out_of_order_ratio"])
@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_ratios_must_be_shares(field: str, value: float) -> None:
    with pytest.raises(ConfigError) as error:
        Faults(**{field: value})  # type: ignore[arg-type]
    assert error.value.field == field


# -- moving statuses in time -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_out_of_order_swaps_two_adjacent_statuses(seed: int) -> None:
    sent_at = [1.0, 2.0, 3.0, 4.0]
    applied = reorder([-1, 0, 1, 4], sent_at, Random(seed), Faults(out_of_order_ratio=1.0))
    ((index, fault),) = applied.items()
    assert fault is Fault.OUT_OF_ORDER
    assert sent_at[index] == index
    assert sent_at[index - 1] == index + 1
    assert sorted(sent_at) == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("seed", range(20))
def test_a_late_status_is_a_pending_one_sent_after_the_final(seed: int) -> None:
    sent_at = [1.0, 2.0, 3.0, 9.0]
    applied = reorder([-1, 0, 1, 4], sent_at, Random(seed), Faults(late_ratio=1.0))
    ((index, fault),) = applied.items()
    assert fault is Fault.LATE
    assert index in (0, 1)
    assert 9.0 < sent_at[index] <= 9.0 + MAX_LATENESS_SECONDS


@pytest.mark.parametrize("statuses", [[1], [-1, 0], [0, 6], [20]])
def test_no_late_status_without_a_pending_one_before_a_final(statuses: list[int]) -> None:
    sent_at = [float(i) for i in range(len(statuses))]
    assert reorder(statuses, sent_at, Random(1), Faults(late_ratio=1.0)) == {}
    assert sent_at == [float(i) for i in range(len(statuses))]


def test_reordered_callbacks_in_the_stream() -> None:
    callbacks = generate(seed=8, count=5000, faults=Faults(out_of_order_ratio=0.2))
    by_key: dict[str, list[SimulatedCallback]] = defaultdict(list)
    for callback in callbacks:
        by_key[callback.key].append(callback)
    swapped = [callback for callback in callbacks if callback.fault is Fault.OUT_OF_ORDER]
    assert len(swapped) > 50
    end = callbacks[-1].sent_at
    checked = 0
    for callback in swapped:
        happened = int(callback.params["ts"])
        if happened + 1 >= end:
            continue  # the status it overtook now goes when it would have gone: maybe after the window
        earlier = [other for other in by_key[callback.key] if int(other.params["ts"]) < happened]
        partner = max(earlier, key=lambda other: int(other.params["ts"]))
        assert partner.seq > callback.seq
        assert partner.sent_at >= happened
        checked += 1
    assert checked > 0.8 * len(swapped)

    late = generate(seed=8, count=5000, faults=Faults(late_ratio=0.3))
    marked = [callback for callback in late if callback.fault is Fault.LATE]
    assert len(marked) > 50
    for callback in marked:
        assert status_outcome(int(callback.params["status"])) is Outcome.PENDING
        finals = [
            other
            for other in late
            if other.key == callback.key and status_outcome(int(other.params["status"])).is_final
        ]
        assert finals
        assert all(final.seq < callback.seq for final in finals)


# -- copies -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy() -> list[SimulatedCallback]:
    faults = Faults(duplicate_ratio=0.1, malformed_ratio=0.1, unsigned_ratio=0.05, bad_signature_ratio=0.05)
    return generate(seed=12, count=4000, faults=faults, wire=WireConfig(secret=SECRET))


def test_copies_follow_their_original(noisy: list[SimulatedCallback]) -> None:
    by_seq = {callback.seq: callback for callback in noisy}
    assert [callback.seq for callback in noisy] == list(range(len(noisy)))
    faults: dict[Fault | None, int] = defaultdict(int)
    for callback in noisy:
        faults[callback.fault] += 1
        if callback.is_copy:
            assert callback.original_seq is not None
            original = by_seq[callback.original_seq]
            assert original.fault is None or not original.is_copy
            assert original.seq < callback.seq
            assert callback.key == original.key
            assert callback.sent_at >= original.sent_at
        else:
            assert callback.original_seq is None
    for fault in (Fault.DUPLICATE, Fault.MALFORMED, Fault.UNSIGNED, Fault.BAD_SIGNATURE):
        assert faults[fault] > 50, fault


def test_a_duplicate_is_its_original_byte_for_byte(noisy: list[SimulatedCallback]) -> None:
    by_seq = {callback.seq: callback for callback in noisy}
    for callback in noisy:
        if callback.is_duplicate:
            assert callback.original_seq is not None
            original = by_seq[callback.original_seq]
            assert (callback.body, callback.query_string, callback.content_type, callback.params) == (
                original.body,
                original.query_string,
                original.content_type,
                original.params,
            )


def test_signature_faults_fail_verification_and_change_nothing_else(noisy: list[SimulatedCallback]) -> None:
    by_seq = {callback.seq: callback for callback in noisy}
    for callback in noisy:
        if callback.is_malformed:
            continue
        request = decode_request(callback.body, callback.query_string, callback.content_type)
        if not callback.signature_fault:
            verify_signature(callback.kind, request.params, SECRET, charset=request.charset)
            continue
        with pytest.raises(SignatureError):
            verify_signature(callback.kind, request.params, SECRET, charset=request.charset)
        assert callback.original_seq is not None
        original = dict(by_seq[callback.original_seq].params)
        signature = original.pop("md5")
        assert dict(request.params) == original | (
            {} if callback.fault is Fault.UNSIGNED else {"md5": request.params["md5"]}
        )
        assert request.params.get("md5") != signature


def test_signature_faults_need_a_secret() -> None:
    callbacks = generate(seed=1, count=500, faults=Faults(unsigned_ratio=1.0, bad_signature_ratio=1.0))
    assert not any(callback.signature_fault for callback in callbacks)


def test_malformed_copies_never_parse(noisy: list[SimulatedCallback]) -> None:
    malformed = [callback for callback in noisy if callback.is_malformed]
    for callback in malformed:
        assert not parses(callback.body, callback.query_string, callback.content_type)
    assert {callback.kind for callback in malformed} == set(CallbackKind)


@pytest.mark.parametrize("how", list(Malformation))
@pytest.mark.parametrize("body_format", list(BodyFormat))
def test_every_malformation_breaks_every_kind(how: Malformation, body_format: BodyFormat) -> None:
    wire = WireConfig(charset="utf-8", body_format=body_format, query_keys=("id", "phone"), secret=SECRET)
    callbacks = generate(seed=2, count=400, wire=wire)
    for kind in CallbackKind:
        callback = next(callback for callback in callbacks if callback.kind is kind)
        assert not parses(*malform(callback, how))


@pytest.mark.parametrize(
    "how", [Malformation.BAD_STATUS, Malformation.BAD_TIMESTAMP, Malformation.MISSING_PHONE]
)
@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_a_copy_with_a_bad_field_is_signed_over_what_it_carries(
    how: Malformation, algorithm: SignatureAlgorithm
) -> None:
    """So an endpoint that checks signatures stores it, and the stream processors dead-letter it."""
    wire = WireConfig(secret=SECRET, algorithm=algorithm)
    for callback in generate(seed=4, count=60, wire=wire):
        body, query, content_type = malform(callback, how, secret=SECRET, algorithm=algorithm)
        request = decode_request(body, query, content_type)
        if set(request.params) & {"phone", "status", "ts", "time"} == set():
            continue  # fell back to an empty body: nothing left to sign
        verify_signature(callback.kind, request.params, SECRET, charset=request.charset)
        with pytest.raises(SmscError):
            parse_callback(request.params)
