"""A second anchor: the bare app plus one acknowledged Kafka record per request, through ingest's own
publisher, and nothing else (no key, no headers, no accounting).

Between the bare app (the HTTP stack) and ingest, this shows what storing a record costs on its own:
`python -m benchmarks.ingest_throughput --floor`. Run by uvicorn as a factory, with the same
environment as ingest (`KAFKA_BOOTSTRAP_SERVERS`).
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
            async with asyncio.timeout(_CONNECT_SECONDS):
                while not await publisher.ready():
                    await asyncio.sleep(0.05)
            await bare_app(scope, receive, send)
            await publisher.close()
            return
        body: bytes = (await receive()).get("body", b"")
        # The body's tail as the key: records spread over the partitions as ingest's do, without the
        # work of finding the real key.
        await publisher.publish(topic, body[-16:], body, [])
        await answer_ok(send)

    return app
