"""The poster against a real HTTP server on loopback: SMSC's retries, 404, give-up, drain, stop, timeouts."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from simulator import (
    EndpointUnreachableError,
    Faults,
    Poster,
    PostPolicy,
    PostReport,
    Scenario,
    SimulatedCallback,
    Truth,
    WireConfig,
    check_reachable,
    generate,
    simulate,
)
from tests.integration.simulator.tiny_server import StartServer, fail_first

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FAST = PostPolicy(concurrency=8, retry_interval_seconds=0.05, timeout_seconds=5.0)


def post(
    url: str, callbacks: list[SimulatedCallback], policy: PostPolicy = FAST
) -> tuple[PostReport, list[SimulatedCallback]]:
    accepted: list[SimulatedCallback] = []
    poster = Poster(url, policy, on_accepted=accepted.append)
    return asyncio.run(poster.run(callbacks)), accepted


def test_503_then_200_is_retried_until_stored(tiny_server: StartServer) -> None:
    server = tiny_server(fail_first(7))
    faults = Faults(duplicate_ratio=0.1, out_of_order_ratio=0.2, late_ratio=0.2)
    callbacks = generate(seed=21, count=300, faults=faults, wire=WireConfig(secret="abc"))
    policy = PostPolicy(concurrency=16, retry_interval_seconds=0.05)
    accepted: list[SimulatedCallback] = []
    report = asyncio.run(Poster(server.url, policy, on_accepted=accepted.append).run(callbacks))

    assert report.answers == {"200": 300, "503": 7}
    assert report.outcomes == {"accepted": 300}
    assert (report.posted, report.attempts) == (300, 307)
    assert not report.stopped
    stored = server.answered(200)
    assert sorted(request.body for request in stored) == sorted(callback.body for callback in callbacks)
    assert {request.path for request in server.received} == {"/smsc/callback/default"}
    sent = {(c.body, c.query_string, c.content_type) for c in callbacks}
    assert {(r.body, r.query_string, r.content_type) for r in server.received} <= sent

    # Never two callbacks of one message in flight: the order in which the poster saw a message's 200s
    # is the order the endpoint stored them in, so the recount of what was accepted is the endpoint's.
    # (A retried callback is stored after later statuses of its message: that is SMSC's own reordering.)
    key_of = {callback.body: callback.key for callback in callbacks}
    for key in keys(callbacks):
        assert [c.body for c in accepted if c.key == key] == [r.body for r in stored if key_of[r.body] == key]
    assert Truth.from_callbacks(accepted).to_json() == Truth.from_callbacks(stored).to_json()


def test_without_retries_every_message_is_stored_in_sending_order(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 200)
    faults = Faults(duplicate_ratio=0.1, malformed_ratio=0.05, out_of_order_ratio=0.2, late_ratio=0.2)
    callbacks = generate(seed=22, count=600, faults=faults)
    report, accepted = post(server.url, callbacks, PostPolicy(concurrency=16))
    assert report.answers == {"200": 600}
    for key in keys(callbacks):
        seqs = key_seqs(accepted, key)
        assert seqs == sorted(seqs)
    expected = Truth.from_callbacks(callbacks).to_json()
    assert Truth.from_callbacks(accepted).to_json() == expected
    assert Truth.from_callbacks(server.answered(200)).to_json() == expected


def keys(callbacks: list[SimulatedCallback]) -> list[str]:
    return sorted({callback.key for callback in callbacks})


def key_seqs(callbacks: list[SimulatedCallback], key: str) -> list[int]:
    return [callback.seq for callback in callbacks if callback.key == key]


def test_404_is_final_and_never_retried(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 404)
    report, accepted = post(server.url, generate(seed=2, count=20))
    assert report.answers == {"404": 20}
    assert report.outcomes == {"not_found": 20}
    assert len(server.received) == 20
    assert accepted == []


def test_gives_up_after_max_attempts(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 500)
    callbacks = generate(seed=3, count=10)
    report, _ = post(
        server.url, callbacks, PostPolicy(concurrency=4, retry_interval_seconds=0.01, max_attempts=3)
    )
    assert report.answers == {"500": 30}
    assert report.outcomes == {"gave_up": 10}
    attempts: dict[bytes, int] = defaultdict(int)
    for request in server.received:
        attempts[request.body] += 1
    assert sorted(attempts.values()) == [3] * 10


def test_the_drain_timeout_leaves_retries_unfinished(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 503)
    policy = PostPolicy(concurrency=4, retry_interval_seconds=30.0, drain_timeout_seconds=0.2)
    report, accepted = post(server.url, generate(seed=4, count=12), policy)
    assert report.outcomes == {"unfinished": 12}
    assert report.answers == {"503": 12}
    assert accepted == []


def test_count_limits_an_endless_stream(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 200)
    accepted: list[SimulatedCallback] = []
    poster = Poster(server.url, PostPolicy(count=25), on_accepted=accepted.append)
    report = asyncio.run(poster.run(simulate(Scenario(seed=5))))
    assert report.posted == 25
    assert sorted(callback.seq for callback in accepted) == list(range(25))
    assert len(server.received) == 25


def test_stop_ends_an_endless_run(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 200)

    async def run() -> PostReport:
        stop = asyncio.Event()
        accepted: list[SimulatedCallback] = []

        def on_accepted(callback: SimulatedCallback) -> None:
            accepted.append(callback)
            if len(accepted) == 40:
                stop.set()

        poster = Poster(server.url, PostPolicy(rate_per_second=500.0, concurrency=4), on_accepted=on_accepted)
        return await poster.run(simulate(Scenario(seed=6)), stop=stop)

    report = asyncio.run(run())
    assert report.stopped
    assert report.outcomes["accepted"] >= 40
    assert report.outcomes["accepted"] == len(server.received)
    assert report.outcomes.get("unfinished", 0) == 0  # what was in flight finished; nothing was retrying


def test_a_timeout_is_retried(tiny_server: StartServer) -> None:
    server = tiny_server(lambda _: 200, delay_first_seconds=2.0)
    policy = PostPolicy(concurrency=2, retry_interval_seconds=0.05, timeout_seconds=0.5)
    report, accepted = post(server.url, generate(seed=7, count=5), policy)
    assert report.answers == {"200": 5, "timeout": 1}
    assert report.outcomes == {"accepted": 5}
    # The server kept the timed-out request too: the endpoint sees that callback twice (a duplicate).
    assert len(server.received) == 6
    assert len(accepted) == 5


def test_an_unreachable_endpoint(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/smsc/callback"
    with pytest.raises(EndpointUnreachableError) as error:
        asyncio.run(check_reachable(url, timeout_seconds=2.0))
    assert error.value.url == url
    policy = PostPolicy(concurrency=2, retry_interval_seconds=0.01, max_attempts=2)
    report, _ = post(url, generate(seed=8, count=5), policy)
    assert report.answers == {"connection_error": 10}
    assert report.outcomes == {"gave_up": 5}
    assert not report.reached_endpoint
