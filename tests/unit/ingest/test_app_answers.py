"""The answer codes against a publisher the test controls: 200 only after the ack, 503 at the deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

from ingest.app import create_app
from ingest.errors import PublishError
from ingest.metrics import BROKER_ERRORS_TOTAL
from ingest.publisher import Headers
from ingest.settings import IngestSettings
from smsc.kinds import CallbackKind
from tests.unit.ingest.callbacks import KEYS, callback


class ControlledPublisher:
    """Every publish waits for the test: `ack()` acknowledges, `refuse()` fails, nothing means no ack."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes | None, bytes]] = []
        self.waiting: list[asyncio.Future[None]] = []

    async def start(self) -> None:
        pass

    def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> asyncio.Future[None]:
        self.published.append((topic, key, value))
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        return waiter

    def ack(self) -> None:
        for waiter in self.waiting:
            if not waiter.done():
                waiter.set_result(None)

    def refuse(self) -> None:
        for waiter in self.waiting:
            if not waiter.done():
                waiter.set_exception(PublishError("the broker refused", topic="t"))

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        pass


async def post(app: Any, path: str, body: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("192.0.2.1", 1234),
    }
    await app(scope, receive, send)
    return sent


def make_app(deadline: float = 5.0) -> tuple[Any, ControlledPublisher, CollectorRegistry]:
    settings = IngestSettings.model_validate({"deadline_seconds": deadline, "account_secrets": "acme=s3cr3t"})
    publisher = ControlledPublisher()
    registry = CollectorRegistry()
    return create_app(settings, publisher, registry=registry), publisher, registry


def test_200_only_once_the_broker_acknowledged() -> None:
    async def scenario() -> None:
        app, publisher, _ = make_app()
        request = callback(CallbackKind.STATUS)
        answer = asyncio.create_task(post(app, "/smsc/callback", request.body))
        await asyncio.sleep(0.02)
        assert not answer.done()  # stored but not acknowledged: no answer yet
        assert publisher.published == [("smsc.callbacks.raw", KEYS[CallbackKind.STATUS], request.body)]
        publisher.ack()
        sent = await answer
        assert sent[0]["status"] == 200
        assert sent[1]["body"] == b"OK\n"
        headers = dict(sent[0]["headers"])
        assert len(headers[b"x-request-id"]) == 32
        assert headers[b"content-length"] == b"3"

    asyncio.run(scenario())


def test_503_at_the_deadline_without_an_ack() -> None:
    async def scenario() -> None:
        app, _, registry = make_app(deadline=0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = await post(app, "/smsc/callback", callback(CallbackKind.INCOMING).body)
        assert sent[0]["status"] == 503
        assert loop.time() - started >= 0.05
        assert registry.get_sample_value(BROKER_ERRORS_TOTAL) == 1

    asyncio.run(scenario())


def test_503_when_the_broker_refuses() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app()
        answer = asyncio.create_task(post(app, "/smsc/callback", callback(CallbackKind.STATUS).body))
        await asyncio.sleep(0.01)
        publisher.refuse()
        assert (await answer)[0]["status"] == 503
        assert registry.get_sample_value(BROKER_ERRORS_TOTAL) == 1

    asyncio.run(scenario())


def test_a_refused_request_is_answered_even_when_the_rejected_topic_cannot_take_it() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app(deadline=0.05)
        sent = await post(app, "/smsc/callback/stranger", b"phone=1")
        assert sent[0]["status"] == 404
        assert publisher.published[0][0] == "smsc.callbacks.rejected"
        assert registry.get_sample_value(BROKER_ERRORS_TOTAL) == 1

    asyncio.run(scenario())


def test_many_concurrent_requests_each_get_their_own_answer() -> None:
    async def scenario() -> None:
        app, publisher, registry = make_app(deadline=0.2)
        answers = [
            asyncio.create_task(post(app, "/smsc/callback", callback(CallbackKind.STATUS).body))
            for _ in range(20)
        ]
        await asyncio.sleep(0.02)
        for waiter in publisher.waiting[::2]:
            waiter.set_result(None)
        codes = [(await answer)[0]["status"] for answer in answers]
        assert codes == [200, 503] * 10
        assert registry.get_sample_value(BROKER_ERRORS_TOTAL) == 10
        assert (
            registry.get_sample_value(
                "smsc_ingest_requests_total",
                {"account": "default", "kind": "status", "format": "form", "code": "200"},
            )
            == 10
        )

    asyncio.run(scenario())
