"""The broker stops answering in the middle of a load: 200 means stored, everything else is 503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from embedded_broker import EmbeddedBroker
from ingest.metrics import BROKER_ERRORS_TOTAL
from smsc.kinds import CallbackKind
from tests.integration.ingest.conftest import ingest_settings, read_records, running_ingest, wait_until
from tests.unit.ingest.callbacks import callback

pytestmark = pytest.mark.integration

CONNECTIONS = 8
MAX_REQUESTS = 3000  # the load is bounded in count as well as in time


class Load:
    """Closed-loop POSTs from a few connections; remembers every answer by request id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[int, str | None, float]] = []
        self.stop = asyncio.Event()

    def count(self, status: int, since: float = 0.0) -> int:
        return sum(1 for code, _, at in self.answers if code == status and at >= since)

    async def run(self) -> None:
        request = callback(CallbackKind.STATUS)
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:

            async def one_connection() -> None:
                while not self.stop.is_set() and len(self.answers) < MAX_REQUESTS:
                    response = await client.post("/smsc/callback", content=request.body)
                    self.answers.append(
                        (response.status_code, response.headers.get("x-request-id"), time.monotonic())
                    )

            await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))

    async def until(self, condition: str, predicate: Callable[[], bool], timeout_seconds: float) -> None:
        await wait_until(condition, predicate, timeout_seconds)


def test_pause_mid_load(fresh_broker: EmbeddedBroker, topic_name: str) -> None:
    settings = ingest_settings(fresh_broker.bootstrap_servers, topic_name, deadline_seconds=1.0)
    with running_ingest(settings) as ingest:

        async def scenario() -> tuple[Load, float]:
            load = Load(ingest.url)
            task = asyncio.create_task(load.run())
            await load.until("200s before the pause", lambda: load.count(200) >= 100, 20)
            fresh_broker.pause()
            async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as client:
                assert (await client.get("/readyz")).status_code == 503
            await load.until("503s while paused", lambda: load.count(503) >= 2 * CONNECTIONS, 20)
            fresh_broker.resume()
            resumed = time.monotonic()
            await load.until("200s after the resume", lambda: load.count(200, since=resumed) >= 100, 30)
            load.stop.set()
            await asyncio.wait_for(task, 30)
            return load, resumed

        load, resumed = asyncio.run(asyncio.wait_for(scenario(), 120))
        statuses = {code for code, _, _ in load.answers}
        assert statuses == {200, 503}
        ok_ids = [request_id for code, request_id, _ in load.answers if code == 200 and request_id]
        assert len(ok_ids) == load.count(200)
        stored = read_records(fresh_broker.bootstrap_servers, settings.raw_topic, ok_ids, timeout_seconds=30)
        assert set(ok_ids) - stored.keys() == set()
        assert ingest.registry.get_sample_value(BROKER_ERRORS_TOTAL) == load.count(503)
        assert load.count(200, since=resumed) >= 100
