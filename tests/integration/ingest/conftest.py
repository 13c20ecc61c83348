"""Running the real ingest server on a loopback socket and reading back what it stored."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry

from ingest.app import create_app
from ingest.publisher import KafkaPublisher
from ingest.server import uvicorn_config
from ingest.settings import IngestSettings
from smsc.raw_record import REQUEST_ID_HEADER


@dataclass(frozen=True)
class StoredRecord:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


@dataclass(frozen=True)
class Ingest:
    url: str
    settings: IngestSettings
    registry: CollectorRegistry


def ingest_settings(bootstrap: str, topic: str, **overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        "kafka_bootstrap_servers": bootstrap,
        "raw_topic": f"{topic}.raw",
        "rejected_topic": f"{topic}.rejected",
        "account_secrets": "acme=s3cr3t,beta=",
        "readiness_timeout_seconds": 1.0,
        "shutdown_timeout_seconds": 10.0,
    }
    values.update(overrides)
    return IngestSettings.model_validate(values)


@contextmanager
def running_ingest(settings: IngestSettings) -> Iterator[Ingest]:
    """The app under the real uvicorn config, in a thread, on a socket bound before the server starts."""
    registry = CollectorRegistry()
    app = create_app(settings, KafkaPublisher(settings), registry=registry)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(settings, app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive(), "the ingest server did not start"
            assert time.monotonic() < deadline, "the ingest server did not start within 15 s"
            time.sleep(0.02)
        yield Ingest(f"http://127.0.0.1:{port}", settings, registry)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive(), "the ingest server did not stop"


def read_records(
    bootstrap: str, topic: str, request_ids: Iterable[str], *, timeout_seconds: float = 20.0
) -> dict[str, StoredRecord]:
    """The records of these requests (by request id), read from the beginning of the topic."""
    return asyncio.run(_read_records(bootstrap, topic, set(request_ids), timeout_seconds))


async def _read_records(
    bootstrap: str, topic: str, wanted: set[str], timeout_seconds: float
) -> dict[str, StoredRecord]:
    found: dict[str, StoredRecord] = {}
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_seconds
        while not wanted <= found.keys() and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for message in (message for messages in batches.values() for message in messages):
                headers = dict(message.headers)
                request_id = headers[REQUEST_ID_HEADER].decode()
                if request_id in found:
                    continue  # a redelivery by the producer would show up here; the test decides
                found[request_id] = StoredRecord(message.key, message.value or b"", headers)
    finally:
        await consumer.stop()
    return {request_id: found[request_id] for request_id in wanted if request_id in found}


async def consume(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord[Any, Any]]:
    """The topic's records from its beginning (in offset order within a partition); waits, bounded, until
    at least `count` arrived."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        stored: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + 20
        while len(stored) < count:
            assert time.monotonic() < deadline, f"only {len(stored)} of {count} records"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                stored.extend(records)
        return stored
    finally:
        await consumer.stop()


def post(
    client: httpx.Client, path: str, body: bytes, query_string: str = "", content_type: str | None = None
) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return client.post(path + (f"?{query_string}" if query_string else ""), content=body, headers=headers)


async def wait_until(condition: str, predicate: Callable[[], bool], timeout_seconds: float) -> None:
    """Poll `predicate` on the event loop until it holds; fail naming `condition` after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await asyncio.sleep(0.05)
