"""The floor with a maintained client: the bare app plus one record per request through ingest's publisher.

`ingest.publisher.KafkaPublisher` with ingest's settings (acks=all; the same producer configuration),
the body's tail as the key so that records spread over the partitions as ingest's do, no headers, no
key scan, no accounts, signatures, deadline or metrics: what storing a record costs on its own. Run by
`python -m benchmarks.ingest_throughput` as a uvicorn factory (`benchmarks.ingest_floor_app:create`),
with the environment ingest reads (`KAFKA_BOOTSTRAP_SERVERS`, `SMSC_INGEST_RAW_TOPIC`, ...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

from benchmarks.ingest_bare_app import Message, answer_ok
from benchmarks.ingest_bare_app import app as bare_app
from ingest.publisher import KafkaPublisher
from ingest.settings import IngestSettings

App = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Coroutine[Any, Any, None],
]

_CONNECT_SECONDS = 15.0


def create() -> App:
    """The floor app, configured from the environment as ingest is."""
    settings = IngestSettings()
    publisher = KafkaPublisher(settings)
    topic = settings.raw_topic

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            await publisher.start()
            # Ready before the port opens (uvicorn binds after the lifespan's startup): no warm-up 503s.
            async with asyncio.timeout(_CONNECT_SECONDS):
                while not await publisher.ready():
                    await asyncio.sleep(0.05)
            await bare_app(scope, receive, send)
            await publisher.close()
            return
        # One receive: a body that arrives in one segment (these do) reaches the app as one message;
        # the tests check that the stored bodies are whole.
        body: bytes = (await receive()).get("body", b"")
        await publisher.publish(topic, body[-16:], body, [])
        await answer_ok(send)

    return app
