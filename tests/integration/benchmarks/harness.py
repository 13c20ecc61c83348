"""A benchmark server run exactly as `benchmarks.ingest_throughput` runs it, fed callbacks over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from benchmarks.ingest_throughput import ANCHORS, free_port, server, server_environment
from smsc.encode import EncodedRequest, encode_request
from smsc.wire import BodyFormat
from tests.integration.ingest.conftest import consume

CHARSETS = ("windows-1251", "koi8-r", "utf-8")


@dataclass(frozen=True)
class Status:
    request: EncodedRequest
    body_format: BodyFormat
    message_id: str
    phone: str


def status_callbacks() -> list[Status]:
    """A status callback in every format × charset, each with its own id and phone."""
    statuses = []
    for n, (body_format, charset) in enumerate(itertools.product(BodyFormat, CHARSETS)):
        message_id, phone = str(1000 + n), f"7999000{n:04d}"
        params = {"id": message_id, "phone": phone, "status": "1", "cmt": "заказ 15023", "charset": charset}
        request = encode_request(params, charset=charset, body_format=body_format)
        statuses.append(Status(request, body_format, message_id, phone))
    return statuses


def call_request() -> EncodedRequest:
    """A call confirmation: a form without `id`."""
    return encode_request({"waitcall": "1", "phone": "79990009999", "ts": "1732518700"})


def post_to(anchor: str, bootstrap: str, topic: str, requests: Sequence[EncodedRequest]) -> list[int]:
    """Start the anchor's server (its own process, stopped by PID), POST each request, one at a time; the
    status of each answer."""
    port = free_port()
    command = ANCHORS[anchor].command(port)
    with (
        server(command, port, server_environment(bootstrap, topic)),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client,
    ):
        return [
            client.post(
                "/smsc/callback", content=request.body, headers={"content-type": request.content_type}
            ).status_code
            for request in requests
        ]


def stored(bootstrap: str, topic: str, count: int) -> Counter[tuple[bytes | None, bytes]]:
    """(key, value) of every record on the topic, once at least `count` arrived (bounded)."""
    records = asyncio.run(consume(bootstrap, topic, count))
    return Counter((record.key, record.value or b"") for record in records)
