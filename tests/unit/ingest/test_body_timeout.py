"""The body-read timeout in-process: a stalled body is answered 408, any other cancellation is left alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ingest.app import IngestApp, Message, create_app
from ingest.metrics import REQUESTS_TOTAL
from ingest.settings import IngestSettings
from smsc.kinds import CallbackKind
from tests.unit.ingest.callbacks import callback
from tests.unit.ingest.test_app_answers import ControlledPublisher

TIMEOUT = 0.05

Receive = Callable[[], Awaitable[dict[str, Any]]]


def make_app(*, deadline: float = 5.0) -> tuple[IngestApp, ControlledPublisher, CollectorRegistry]:
    settings = IngestSettings.model_validate(
        {"deadline_seconds": deadline, "body_read_timeout_seconds": TIMEOUT, "account_secrets": "beta="}
    )
    publisher = ControlledPublisher()
    registry = CollectorRegistry()
    return create_app(settings, publisher, registry=registry), publisher, registry


def receiving(*parts: bytes, then: asyncio.Future[None] | None = None) -> Receive:
    """The body in these messages; after the last one (if it says more_body) the client stalls on `then`."""
    messages = [{"type": "http.request", "body": part, "more_body": True} for part in parts]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        stall = then if then is not None else asyncio.get_running_loop().create_future()
        await stall
        raise AssertionError("a stalled client sent nothing more")

    return receive


def complete(*parts: bytes) -> Receive:
    """The body in these messages, the last one complete."""
    messages = [{"type": "http.request", "body": part, "more_body": True} for part in parts]
    messages[-1]["more_body"] = False

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


async def call(app: IngestApp, receive: Receive, *, path: str = "/smsc/callback/beta") -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-length", b"1000")],
        "client": ("192.0.2.1", 1234),
    }
    await app(scope, receive, send)
    return sent


def code_count(registry: CollectorRegistry, code: str, account: str = "beta") -> float | None:
    labels = {"account": account, "kind": "unknown", "format": "unknown", "code": code}
    return registry.get_sample_value(REQUESTS_TOTAL, labels)


def test_headers_without_a_body_get_408_at_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        assert code_count(registry, "408") == 0  # the series exists from the start
        loop = asyncio.get_running_loop()
        started = loop.time()
        with caplog.at_level(logging.INFO, logger="ingest.app"):
            sent = await call(app, receiving())
        assert loop.time() - started >= TIMEOUT
        assert sent[0]["status"] == 408
        headers = dict(sent[0]["headers"])
        assert headers[b"connection"] == b"close"
        assert len(headers[b"x-request-id"]) == 32
        assert headers[b"content-length"] == str(len(sent[1]["body"])).encode()
        assert sent[1]["body"] == b"body not received in time\n"
        assert publisher.published == []  # neither stored nor kept in the rejected topic
        assert code_count(registry, "408") == 1
        assert len(app._body_reads) == 0
        lines = [record.getMessage() for record in caplog.records if "408" in record.getMessage()]
        assert len(lines) == 1
        assert "account=beta" in lines[0]
        assert "received_bytes=0 declared_bytes=1000" in lines[0]
        assert headers[b"x-request-id"].decode() in lines[0]

    asyncio.run(scenario())


def test_part_of_a_body_then_silence_gets_408() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        sent = await call(app, receiving(b"id=1&phone=7999", b"0000000&sta"))
        assert sent[0]["status"] == 408
        assert publisher.published == []
        assert code_count(registry, "408") == 1

    asyncio.run(scenario())


def test_an_unknown_account_stalling_is_counted_as_unknown() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        sent = await call(app, receiving(b"id=1"), path="/smsc/callback/stranger")
        assert sent[0]["status"] == 408
        assert publisher.published == []  # not even the rejected topic: there is no whole request
        assert code_count(registry, "408", account="unknown") == 1

    asyncio.run(scenario())


def test_a_body_in_several_messages_within_the_timeout_is_stored() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        body = callback(CallbackKind.STATUS).body
        answer = asyncio.create_task(call(app, complete(body[:10], body[10:20], body[20:])))
        while not publisher.waiting:
            await asyncio.sleep(0.001)
        publisher.ack()
        sent = await answer
        assert sent[0]["status"] == 200
        assert publisher.published[0][2] == body
        assert code_count(registry, "408") == 0

    asyncio.run(scenario())


def test_the_timeout_ends_with_the_body_a_slow_ack_is_not_cut_short() -> None:
    async def scenario() -> None:
        app, publisher, _ = make_app(deadline=5.0)
        answer = asyncio.create_task(call(app, complete(b"id=1&phone=79990000000&status=1")))
        await asyncio.sleep(TIMEOUT * 4)  # well past the body timeout, waiting for the broker
        assert not answer.done()
        publisher.ack()
        assert (await answer)[0]["status"] == 200
        assert len(app._body_reads) == 0

    asyncio.run(scenario())


def test_only_the_stalled_requests_get_408_among_many() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        body = b"id=1&phone=79990000000&status=1"
        stalling = [n % 3 == 0 for n in range(30)]
        requests = [
            asyncio.create_task(call(app, receiving(body[:5]) if stalls else complete(body[:5], body[5:])))
            for stalls in stalling
        ]
        while len(publisher.waiting) < 20:
            await asyncio.sleep(0.001)
        publisher.ack()
        codes = [(await request)[0]["status"] for request in requests]
        assert codes == [408 if stalls else 200 for stalls in stalling]
        assert code_count(registry, "408") == 10
        assert len(app._body_reads) == 0

    asyncio.run(scenario())


def test_a_shutdown_cancelling_a_read_is_not_turned_into_408() -> None:
    async def scenario() -> None:
        app, _, registry = make_app()
        request = asyncio.create_task(call(app, receiving(b"id=1")))
        await asyncio.sleep(TIMEOUT / 5)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        assert code_count(registry, "408") == 0
        assert len(app._body_reads) == 0

    asyncio.run(scenario())


def test_a_cancellation_arriving_with_the_timeout_still_cancels() -> None:
    async def scenario() -> None:
        app, _, registry = make_app()
        stall: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request = asyncio.create_task(call(app, receiving(b"id=1", then=stall)))
        # Registered before the request waits on it, so it runs first once the timeout cancels the wait:
        # a second cancellation is then pending when the read sees its CancelledError.
        stall.add_done_callback(lambda _: request.cancel())
        with pytest.raises(asyncio.CancelledError):
            await request
        assert stall.cancelled()  # it was the timeout that woke the request
        assert code_count(registry, "408") == 0
        assert len(app._body_reads) == 0

    asyncio.run(scenario())


def test_a_client_gone_while_reading_gets_no_answer() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": b"id=1", "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        assert await call(app, receive) == []
        assert publisher.published == []
        assert code_count(registry, "408") == 0
        assert len(app._body_reads) == 0

    asyncio.run(scenario())
