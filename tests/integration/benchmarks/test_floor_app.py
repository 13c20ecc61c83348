"""The benchmark's second anchor really stores what it answers 200 for (else its ratio means nothing)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from benchmarks.ingest_bare_app import Message
from benchmarks.ingest_floor_app import create
from tests.integration.ingest.test_publisher import read_all

pytestmark = pytest.mark.integration


def test_the_floor_app_answers_200_after_storing_the_body(
    kafka_bootstrap: str, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SMSC_INGEST_RAW_TOPIC", f"{topic_name}.raw")
    monkeypatch.setenv("SMSC_ACCOUNT_SECRETS", "")
    bodies = [f"id={n}&phone=79990000{n:03d}&status=1".encode() for n in range(20)]

    async def scenario() -> list[int]:
        app = create()
        lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan_out: asyncio.Queue[Message] = asyncio.Queue()
        lifespan = asyncio.create_task(app({"type": "lifespan"}, lifespan_in.get, lifespan_out.put))
        await lifespan_in.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(lifespan_out.get(), 20))["type"] == "lifespan.startup.complete"
        statuses = []
        for body in bodies:
            sent: list[Message] = []

            async def receive(body: bytes = body) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: Message, sent: list[Message] = sent) -> None:
                sent.append(message)

            await asyncio.wait_for(app({"type": "http"}, receive, send), 10)
            statuses.append(sent[0]["status"])
        await lifespan_in.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 20)
        return statuses

    assert asyncio.run(scenario()) == [200] * len(bodies)
    stored = asyncio.run(read_all(kafka_bootstrap, f"{topic_name}.raw", len(bodies)))
    assert sorted(value for records in stored.values() for _, value in records) == sorted(bodies)
