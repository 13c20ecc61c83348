"""Two more anchors between the bare app (the HTTP stack) and ingest, run by
`python -m benchmarks.ingest_throughput --floor`:

- `create`: the bare app plus one acknowledged Kafka record per request, through ingest's own publisher,
  and nothing else (the body's tail as the key, no headers, no accounting): what storing a record costs
  on its own;
- `create_keyed`: that, plus what the issue requires of every record: the message key found in the body
  (`ingest.admission.admit`, as ingest does for an account without a secret) and the record headers
  (`smsc.raw_record.raw_headers`, with ingest's request ids). No routes, signatures, deadline or
  metrics: the least an ingest that meets the record contract can do per request.

Both are run by uvicorn as factories, with the same environment as ingest (`KAFKA_BOOTSTRAP_SERVERS`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from time import time_ns
from typing import Any

from benchmarks.ingest_bare_app import Message, answer_ok
from benchmarks.ingest_bare_app import app as bare_app
from ingest.accounts import DEFAULT_ACCOUNT
from ingest.admission import admit
from ingest.publisher import KafkaPublisher
from ingest.request_id import request_id_source
from ingest.settings import IngestSettings
from smsc.raw_record import raw_headers
from smsc.wire import Limits

App = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Coroutine[Any, Any, None],
]

_CONNECT_SECONDS = 15.0


def create() -> App:
    """Bare + publish: the body's tail as the key, so that records spread over the partitions as
    ingest's do, without the work of finding the real key."""
    return _create(keyed=False)


def create_keyed() -> App:
    """Bare + key + headers + publish."""
    return _create(keyed=True)


def _create(*, keyed: bool) -> App:
    settings = IngestSettings()
    publisher = KafkaPublisher(settings)
    topic = settings.raw_topic
    limits = Limits(max_body_bytes=settings.max_body_bytes)
    request_id = request_id_source()

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
        if not keyed:
            await publisher.publish(topic, body[-16:], body, [])
            await answer_ok(send)
            return
        received_at_ns = time_ns()
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        query_string: bytes = scope["query_string"]
        verdict = admit(body, query_string, content_type, secret=None, limits=limits)
        client = scope.get("client")
        headers = raw_headers(
            query_string,
            content_type,
            DEFAULT_ACCOUNT,
            received_at_ns,
            client[0] if client else None,
            request_id(),
            verdict.kind,
        )
        await publisher.publish(topic, verdict.key, body, headers)
        await answer_ok(send)

    return app
