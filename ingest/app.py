"""The ASGI application: routes, answers, and the raw record of every callback it accepts.

A bare ASGI callable rather than a framework: five fixed routes do not need a router, and measured
here Starlette alone halved the requests per second of the server (docs/ingest.md). Everything the
SMSC protocol decides lives in `admission`; this module only moves bytes and keeps the counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter, time_ns
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ingest.accounts import DEFAULT_ACCOUNT, UNKNOWN_ACCOUNT_LABEL
from ingest.admission import STATUS_OF, Reason, Verdict, admit
from ingest.body_timeout import BodyReads, BodyTimedOut
from ingest.deadline import Deadlines
from ingest.errors import PublishError
from ingest.metrics import UNKNOWN, IngestMetrics
from ingest.publisher import Publisher
from ingest.request_id import request_id_source
from ingest.settings import IngestSettings
from smsc.kinds import CallbackKind
from smsc.raw_record import raw_headers
from smsc.wire import BodyFormat, Limits

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CALLBACK_PATH: Final = "/smsc/callback"
_ACCOUNT_PREFIX: Final = CALLBACK_PATH + "/"

_TEXT_PLAIN: Final = b"text/plain; charset=utf-8"
_REQUEST_ID: Final = b"x-request-id"
_ANSWERS: Final = {
    200: b"OK\n",
    400: b"undecodable body\n",
    403: b"missing or wrong signature\n",
    404: b"not found\n",
    405: b"method not allowed\n",
    408: b"body not received in time\n",
    413: b"body too large\n",
    503: b"not stored, try again later\n",
}
# Built once: a callback's answer only adds its X-Request-Id to these (uvicorn copies the header list
# and never changes a message it is given, so the body messages are shared by every request).
_ANSWER_HEADERS: Final = {
    status: ((b"content-type", _TEXT_PLAIN), (b"content-length", str(len(body)).encode("ascii")))
    for status, body in _ANSWERS.items()
}
_ANSWER_BODIES: Final = {
    status: {"type": "http.response.body", "body": body} for status, body in _ANSWERS.items()
}
# The rest of a stalled body may still arrive: on a kept-alive connection it would be read as the next
# request, so the 408 closes it (uvicorn closes the socket once an answer with this header is sent).
_CLOSE: Final = ((b"connection", b"close"),)
_UNKNOWN_ACCOUNT: Final = Verdict(Reason.UNKNOWN_ACCOUNT, None, None, None)
_TOO_LARGE: Final = Verdict(Reason.TOO_LARGE, None, None, None)


class _Disconnected(Exception):  # noqa: N818 - a signal between two functions, not an error for callers
    """The client went away before its request body was complete: there is nobody to answer."""


class IngestApp:
    """`POST /smsc/callback[/{account}]`, `GET /healthz`, `GET /readyz`, `GET /metrics`."""

    def __init__(
        self,
        settings: IngestSettings,
        publisher: Publisher,
        registry: CollectorRegistry,
        *,
        multiprocess_dir: str | None = None,
    ) -> None:
        accounts = settings.accounts()
        self._secrets = {
            name: account.secret.get_secret_value() if account.secret else None
            for name, account in accounts.items()
        }
        self._publisher = publisher
        self._registry = registry
        self._multiprocess_dir = multiprocess_dir
        self._metrics = IngestMetrics(registry, accounts)
        # labels() hashes and locks on every call; the children are few (bounded labels), so keep them.
        self._request_counters: dict[tuple[str, CallbackKind | None, BodyFormat | None, int], Counter] = {}
        self._observe_duration = self._metrics.request_duration.observe
        self._deadlines = Deadlines(settings.deadline_seconds)
        self._request_id = request_id_source()
        self._limits = Limits(max_body_bytes=settings.max_body_bytes)
        self._body_reads = BodyReads(settings.body_read_timeout_seconds)
        self._raw_topic = settings.raw_topic
        self._rejected_topic = settings.rejected_topic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == CALLBACK_PATH:
                await self._callback(DEFAULT_ACCOUNT, scope, receive, send)
            elif path.startswith(_ACCOUNT_PREFIX):
                await self._callback(path[len(_ACCOUNT_PREFIX) :], scope, receive, send)
            else:
                await self._operations(path, scope, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    # -- callbacks ---------------------------------------------------------------------------------

    async def _callback(self, account: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        received_at_ns = time_ns()
        request_id = self._request_id()
        known = account in self._secrets
        label = account if known else UNKNOWN_ACCOUNT_LABEL
        if scope["method"] != "POST":
            # Not written to the rejected topic: SMSC only POSTs, so this is a scanner or a person.
            await _answer(send, 405, request_id, ((b"allow", b"POST"),))
            self._count(label, None, 405, started)
            return

        content_type, content_length = _content_headers(scope)
        try:
            body, complete = await self._read_body(receive, content_length)
        except _Disconnected:
            return
        except BodyTimedOut as timed_out:
            # Not written to the rejected topic: without its whole body it is no callback (docs/ingest.md).
            await _answer(send, 408, request_id, _CLOSE)
            self._count(label, None, 408, started)
            client = scope.get("client")
            logger.info(
                "callback body not received in time, answered 408 account=%s request_id=%s remote=%s "
                "received_bytes=%d declared_bytes=%s timeout_seconds=%g",
                label,
                request_id,
                client[0] if client else None,
                timed_out.received_bytes,
                content_length,
                self._body_reads.seconds,
            )
            return
        query_string: bytes = scope["query_string"]
        if not known:
            verdict = _UNKNOWN_ACCOUNT
        elif not complete:
            verdict = _TOO_LARGE
        else:
            verdict = admit(
                body, query_string, content_type, secret=self._secrets[account], limits=self._limits
            )
        client = scope.get("client")
        remote_addr = client[0] if client else None
        reason = verdict.reason
        headers = raw_headers(
            query_string,
            content_type,
            account,
            received_at_ns,
            remote_addr,
            request_id,
            verdict.kind,
            reason.value if reason is not None else None,
        )
        if reason is None:
            # Inline rather than a method of its own: this is the path of nearly every request.
            try:
                await self._publish(self._raw_topic, verdict.key, body, headers)
                status = 200
            except PublishError as exc:
                self._metrics.broker_errors.inc()
                logger.warning(
                    "callback not stored, answered 503 account=%s request_id=%s error=%s",
                    account,
                    request_id,
                    exc.reason,
                )
                status = 503
        else:
            status = await self._reject(body, headers, reason, label, request_id, remote_addr)
        await _answer(send, status, request_id)
        self._count(label, verdict, status, started)

    async def _reject(
        self,
        body: bytes,
        headers: list[tuple[str, bytes]],
        reason: Reason,
        label: str,
        request_id: str,
        remote_addr: str | None,
    ) -> int:
        """Keep a copy in the rejected topic (best effort, within the deadline), then refuse."""
        self._metrics.rejected.labels(label, reason.value).inc()
        logger.warning(
            "callback rejected account=%s reason=%s request_id=%s remote=%s",
            label,
            reason.value,
            request_id,
            remote_addr,
        )
        try:
            await self._publish(self._rejected_topic, None, body, headers)
        except PublishError as exc:
            self._metrics.broker_errors.inc()
            logger.error("rejected callback not kept request_id=%s error=%s", request_id, exc.reason)
        return STATUS_OF[reason]

    def _publish(
        self, topic: str, key: bytes | None, body: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        """The broker's ack of the record, failed with PublishError at the deadline if it is late."""
        ack = self._publisher.publish(topic, key, body, headers)
        self._deadlines.watch(ack, topic)
        return ack

    async def _read_body(self, receive: Receive, content_length: int | None) -> tuple[bytes, bool]:
        """The body, and whether it is complete; past the limit, only its first `max_body_bytes`.

        Raises BodyTimedOut when the body is not complete within `body_read_timeout_seconds`."""
        limit = self._limits.max_body_bytes
        if content_length is not None and content_length > limit:
            return b"", False  # refused on its declared size: reading it would only cost us
        body_reads = self._body_reads
        task = body_reads.start()
        cancelling = task.cancelling()
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk: bytes = message.get("body", b"")
                more: bool = message.get("more_body", False)
                if not chunks and not more and len(chunk) <= limit:
                    return chunk, True  # the usual case: one message, no copy
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    return b"".join(chunks)[:limit], False
                if not more:
                    return b"".join(chunks), True
        except asyncio.CancelledError:
            if body_reads.timed_out(task, cancelling):
                raise BodyTimedOut(size) from None
            raise
        finally:
            body_reads.stop(task)

    def _count(self, label: str, verdict: Verdict | None, status: int, started: float) -> None:
        kind = verdict.kind if verdict is not None else None
        body_format = verdict.body_format if verdict is not None else None
        counter = self._request_counters.get((label, kind, body_format, status))
        if counter is None:
            counter = self._metrics.requests.labels(
                label,
                kind.value if kind is not None else UNKNOWN,
                body_format.value if body_format is not None else UNKNOWN,
                str(status),
            )
            self._request_counters[label, kind, body_format, status] = counter
        counter.inc()
        self._observe_duration(perf_counter() - started)

    # -- operations ----------------------------------------------------------------------------------

    async def _operations(self, path: str, scope: Scope, send: Send) -> None:
        if path not in ("/healthz", "/readyz", "/metrics"):
            await _answer(send, 404, None)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, None, ((b"allow", b"GET, HEAD"),))
            return
        if path == "/healthz":
            await _respond(send, 200, b"ok\n")
        elif path == "/readyz":
            ready = await self._publisher.ready()
            await _respond(send, 200 if ready else 503, b"ready\n" if ready else b"broker not reachable\n")
        else:
            await _respond(send, 200, self._exposition(), content_type=CONTENT_TYPE_LATEST.encode("ascii"))

    def _exposition(self) -> bytes:
        if self._multiprocess_dir is None:
            return generate_latest(self._registry)
        # Several worker processes: each writes its own files; a scrape must see the sum of them all.
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._publisher.start()
                except PublishError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # The server has already stopped accepting and waited for in-flight requests.
                await self._publisher.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    settings: IngestSettings,
    publisher: Publisher,
    *,
    registry: CollectorRegistry | None = None,
    multiprocess_dir: str | None = None,
) -> IngestApp:
    """The ingest ASGI app; `registry` defaults to prometheus_client's global one (with process metrics)."""
    return IngestApp(
        settings, publisher, REGISTRY if registry is None else registry, multiprocess_dir=multiprocess_dir
    )


def _content_headers(scope: Scope) -> tuple[str | None, int | None]:
    content_type: str | None = None
    content_length: int | None = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length" and value.isdigit():
            content_length = int(value)
    return content_type, content_length


async def _answer(
    send: Send, status: int, request_id: str | None, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [*_ANSWER_HEADERS[status], *extra]
    if request_id is not None:
        headers.append((_REQUEST_ID, request_id.encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(_ANSWER_BODIES[status])


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _TEXT_PLAIN,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
