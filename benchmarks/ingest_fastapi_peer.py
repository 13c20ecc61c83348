"""The peer ingest is measured against: the SMSC callback endpoint as a typical user writes it in FastAPI.

A plain FastAPI app: one `AIOKafkaProducer(acks="all")` started in the lifespan, and a handler that reads
the body, takes the message key from the form fields and answers 200 "OK" once `send_and_wait` returned,
so that, like ingest, it answers 200 only for a stored callback. Written the way the FastAPI and aiokafka
documentation show it, neither tuned nor crippled: aiokafka's defaults (no linger, no idempotence), the
framework's routing, request object and response class.

The record contract, as far as a typical handler goes: the key is `id:phone` from the form fields
(`urllib.parse.parse_qs`), as ingest keys a status; a callback without both fields, and every XML or JSON
body (SMSC's `fmt=2`/`fmt=3`, which a handler written for the default form format does not parse), is
stored with no key. No record headers, accounts, signatures or metrics: the peer does less per request
than ingest, so a ratio against it does not flatter ingest.

Configured from the environment ingest reads: `KAFKA_BOOTSTRAP_SERVERS`, `SMSC_INGEST_RAW_TOPIC`.

    uvicorn benchmarks.ingest_fastapi_peer:app --loop uvloop --http httptools
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from smsc.raw_record import RAW_TOPIC

FORM = "application/x-www-form-urlencoded"


def create_app(bootstrap_servers: str, topic: str) -> FastAPI:
    """The app, its producer connected to `bootstrap_servers`, every callback stored on `topic`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
        await producer.start()
        app.state.producer = producer
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post("/smsc/callback", response_class=PlainTextResponse)
    async def smsc_callback(request: Request) -> str:
        body = await request.body()
        key = None
        if request.headers.get("content-type", "").startswith(FORM):
            # latin-1 decodes any byte: a percent-encoded form is ASCII whatever charset SMSC used.
            fields = parse_qs(body.decode("latin-1"))
            if "id" in fields and "phone" in fields:
                key = f"{fields['id'][0]}:{fields['phone'][0]}".encode()
        producer: AIOKafkaProducer = request.app.state.producer
        await producer.send_and_wait(topic, body, key=key)
        return "OK"

    return app


app = create_app(
    os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    os.environ.get("SMSC_INGEST_RAW_TOPIC", RAW_TOPIC),
)
