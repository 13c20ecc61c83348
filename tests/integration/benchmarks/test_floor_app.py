"""The benchmark's anchors between the bare app and ingest really store what they answer 200 for (else
their ratios mean nothing); the keyed one under the message key and with the record contract's headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from benchmarks.ingest_bare_app import Message
from benchmarks.ingest_floor_app import App, create, create_keyed
from smsc.kinds import CallbackKind
from smsc.raw_record import RawRecord
from tests.integration.ingest.conftest import consume

pytestmark = pytest.mark.integration

BODIES = [f"id={n}&phone=79990000{n:03d}&status=1".encode() for n in range(20)]
FORM = "application/x-www-form-urlencoded"


async def _serve(app: App, bodies: list[bytes]) -> list[int]:
    """Start the app (lifespan), post each body to it, stop it; the status of each answer."""
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

        scope = {
            "type": "http",
            "headers": [(b"content-type", FORM.encode())],
            "query_string": b"",
            "client": ("127.0.0.1", 40000),
        }
        await asyncio.wait_for(app(scope, receive, send), 10)
        statuses.append(sent[0]["status"])
    await lifespan_in.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(lifespan, 20)
    return statuses


async def _read(bootstrap: str, topic: str, count: int) -> list[tuple[bytes | None, RawRecord | bytes]]:
    """(key, record) of every record, the record read back as a RawRecord when it has headers."""
    stored: list[tuple[bytes | None, RawRecord | bytes]] = []
    for record in await consume(bootstrap, topic, count):
        value = record.value or b""
        headers = list(record.headers)
        stored.append((record.key, RawRecord.from_headers(value, headers) if headers else value))
    return stored


def _environment(monkeypatch: pytest.MonkeyPatch, bootstrap: str, topic: str) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("SMSC_INGEST_RAW_TOPIC", topic)
    monkeypatch.setenv("SMSC_ACCOUNT_SECRETS", "")


def test_the_floor_app_answers_200_after_storing_the_body(
    kafka_bootstrap: str, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(monkeypatch, kafka_bootstrap, f"{topic_name}.raw")
    assert asyncio.run(_serve(create(), BODIES)) == [200] * len(BODIES)
    stored = asyncio.run(_read(kafka_bootstrap, f"{topic_name}.raw", len(BODIES)))
    assert sorted(value for _, value in stored if isinstance(value, bytes)) == sorted(BODIES)


def test_the_keyed_app_stores_each_body_under_its_message_key_with_the_record_headers(
    kafka_bootstrap: str, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(monkeypatch, kafka_bootstrap, f"{topic_name}.raw")
    assert asyncio.run(_serve(create_keyed(), BODIES)) == [200] * len(BODIES)
    stored = asyncio.run(_read(kafka_bootstrap, f"{topic_name}.raw", len(BODIES)))
    expected = {f"{n}:79990000{n:03d}".encode(): body for n, body in enumerate(BODIES)}
    records = {key: record for key, record in stored if isinstance(record, RawRecord)}
    assert {key: record.body for key, record in records.items()} == expected
    assert {(r.account, r.kind, r.content_type, r.remote_addr) for r in records.values()} == {
        ("default", CallbackKind.STATUS, FORM, "127.0.0.1")
    }
    assert len({record.request_id for record in records.values()}) == len(BODIES)
