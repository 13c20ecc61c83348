"""Ingest under real network faults between it and the broker (a loopback TCP proxy that cuts, stalls and
refuses), with a steady load of realistic callbacks: 200 means stored once, byte for byte, under its key;
a short fault costs no 503; a long one costs 503s only past the deadline; recovery needs nobody."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from smsc.encode import EncodedRequest
from smsc.kinds import CallbackKind
from smsc.raw_record import REQUEST_ID_HEADER
from smsc.wire import BodyFormat
from tests.faultproxy import ProxiedBroker, running_proxied_broker
from tests.integration.ingest.conftest import consume, ingest_settings, running_ingest, wait_until
from tests.unit.ingest.callbacks import CHARSETS, callback

pytestmark = pytest.mark.integration

CONNECTIONS = 8
MAX_REQUESTS = 6000  # the load is bounded in count as well as in time
DEADLINE_SECONDS = 2.0


@dataclass(frozen=True)
class Sent:
    status: int
    request_id: str | None
    key: bytes
    body: bytes
    at: float


def realistic_callbacks() -> Iterator[tuple[bytes, EncodedRequest]]:
    """Delivery statuses of distinct messages in every charset and format, with their expected keys."""
    shapes = itertools.cycle(itertools.product(CHARSETS, tuple(BodyFormat)))
    for n in itertools.count(1):
        charset, body_format = next(shapes)
        message_id, phone = str(100_000 + n), f"7999{n % 10_000_000:07d}"
        request = callback(
            CallbackKind.STATUS,
            charset=charset,
            body_format=body_format,
            extra={"id": message_id, "phone": phone, "status": str(n % 3)},
        )
        yield f"{message_id}:{phone}".encode(), request


@dataclass
class Load:
    """Closed-loop POSTs from a few connections, never resent (so any duplicate would be the producer's)."""

    url: str
    sent: list[Sent] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, status: int, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(1 for s in self.sent if s.status == status and since <= s.at <= until)

    async def run(self) -> None:
        callbacks = realistic_callbacks()
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:

            async def one_connection() -> None:
                while not self.stop.is_set() and len(self.sent) < MAX_REQUESTS:
                    key, request = next(callbacks)
                    started = time.monotonic()
                    response = await client.post(
                        "/smsc/callback",
                        content=request.body,
                        headers={"content-type": request.content_type} if request.content_type else {},
                    )
                    rid = response.headers.get("x-request-id")
                    # Stamped with the request's start: "503 only past the deadline" is about when it came.
                    self.sent.append(Sent(response.status_code, rid, key, request.body, started))

            await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))

    async def until(self, condition: str, predicate: Callable[[], bool], timeout_seconds: float) -> None:
        await wait_until(condition, predicate, timeout_seconds)


def check_stored_once(load: Load, proxied: ProxiedBroker, topic: str) -> None:
    """Every callback answered 200 is in the topic once, byte-identical, under its key; no record twice."""
    ok = {s.request_id: s for s in load.sent if s.status == 200}
    assert None not in ok
    stored = asyncio.run(consume(proxied.bootstrap_servers, topic, len(ok)))
    ids = Counter(dict(r.headers)[REQUEST_ID_HEADER].decode() for r in stored)
    twice = {rid: n for rid, n in ids.items() if n > 1}
    assert twice == {}, f"{len(twice)} records stored more than once"
    by_id = {dict(r.headers)[REQUEST_ID_HEADER].decode(): r for r in stored}
    missing = ok.keys() - by_id.keys()
    assert missing == set(), f"{len(missing)} callbacks answered 200 are not stored"
    for rid, sent in ok.items():
        record = by_id[rid]
        assert (record.key, record.value) == (sent.key, sent.body)


def test_short_cuts_cost_no_503(topic_name: str) -> None:
    with running_proxied_broker() as proxied:
        settings = ingest_settings(proxied.bootstrap_servers, topic_name, deadline_seconds=DEADLINE_SECONDS)
        with running_ingest(settings) as ingest:

            async def scenario() -> Load:
                load = Load(ingest.url)
                task = asyncio.create_task(load.run())
                await load.until("200s before the cuts", lambda: load.count(200) >= 200, 20)
                for _ in range(3):
                    # Connections reset mid-request: librdkafka reconnects and resends within the deadline.
                    assert proxied.proxy.cut() > 0
                    target = len(load.sent) + 200

                    def answered_after_the_cut(n: int = target) -> bool:
                        return len(load.sent) >= n

                    await load.until("answers after the cut", answered_after_the_cut, 20)
                load.stop.set()
                await asyncio.wait_for(task, 30)
                return load

            load = asyncio.run(asyncio.wait_for(scenario(), 120))
            assert proxied.proxy.stats().cut >= 3
            assert {s.status for s in load.sent} == {200}
            check_stored_once(load, proxied, settings.raw_topic)


def test_a_long_stall_costs_503_only_past_the_deadline_and_heals(topic_name: str) -> None:
    with running_proxied_broker() as proxied:
        settings = ingest_settings(proxied.bootstrap_servers, topic_name, deadline_seconds=DEADLINE_SECONDS)
        with running_ingest(settings) as ingest:

            async def scenario() -> tuple[Load, float, float]:
                load = Load(ingest.url)
                task = asyncio.create_task(load.run())
                await load.until("200s before the stall", lambda: load.count(200) >= 200, 20)
                # Requests reach the broker, acks are held: writes of unknown outcome.
                proxied.proxy.stall(to_upstream=False)
                stalled = time.monotonic()
                await load.until("503s during the stall", lambda: load.count(503) >= 2 * CONNECTIONS, 20)
                await asyncio.sleep(DEADLINE_SECONDS)
                proxied.proxy.heal()
                healed = time.monotonic()
                await load.until("200s after healing", lambda: load.count(200, since=healed) >= 200, 30)
                load.stop.set()
                await asyncio.wait_for(task, 30)
                return load, stalled, healed

            load, stalled, healed = asyncio.run(asyncio.wait_for(scenario(), 120))
            assert {s.status for s in load.sent} == {200, 503}
            # A 503 is only ever the deadline's: no request that started long before the stall got one.
            early = [s for s in load.sent if s.status == 503 and s.at < stalled - DEADLINE_SECONDS]
            assert early == []
            assert load.count(200, since=healed) >= 200  # healed by itself
            check_stored_once(load, proxied, settings.raw_topic)


def test_ingest_started_while_the_broker_is_unreachable_heals_when_it_is_back(
    topic_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ingest.publisher")
    with running_proxied_broker() as proxied:
        proxied.proxy.refuse()
        settings = ingest_settings(proxied.bootstrap_servers, topic_name, deadline_seconds=0.5)
        with running_ingest(settings) as ingest, httpx.Client(base_url=ingest.url, timeout=30) as client:
            _, request = next(realistic_callbacks())
            assert client.get("/readyz").status_code == 503
            refused = [client.post("/smsc/callback", content=request.body).status_code for _ in range(10)]
            assert refused == [503] * 10
            assert client.get("/readyz").status_code == 503
            proxied.proxy.heal()
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "/readyz not 200 within 30 s of the broker's return"
                time.sleep(0.1)
            deadline = time.monotonic() + 30
            while (answer := client.post("/smsc/callback", content=request.body)).status_code != 200:
                assert answer.status_code == 503
                assert time.monotonic() < deadline, "callbacks not stored within 30 s of the broker's return"
            assert proxied.proxy.stats().refused > 0
    # One line per change of the broker's state, not one per request or per reconnect attempt.
    lines = [r.getMessage() for r in caplog.records if r.name == "ingest.publisher"]
    errors = [line for line in lines if line.startswith("kafka producer error=")]
    assert 1 <= len(errors) <= 3, lines
    assert lines.count("kafka producer delivering again") == 1, lines
