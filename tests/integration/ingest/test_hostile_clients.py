"""Stalled uploads over real sockets: 408 at the body-read timeout, 503 beyond the connection cap."""

from __future__ import annotations

import asyncio
import resource
import select
import selectors
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from ingest.metrics import REQUESTS_TOTAL
from smsc.kinds import CallbackKind
from tests.integration.ingest.conftest import Ingest, ingest_settings, read_records, running_ingest
from tests.unit.ingest.callbacks import callback

pytestmark = pytest.mark.integration

SECRET = "s3cr3t"  # the secret of account `acme` in ingest_settings()
DECLARED = 1000  # the Content-Length every stalled client announces; each sends half of it, or nothing
ANSWER_TIMEOUT = 60.0  # bound on every wait for an answer; the server's own timeouts are far shorter


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def parse(raw: bytes) -> Answer:
    """One HTTP/1.1 answer, read until the server closed the connection."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, f"not an HTTP answer: {raw[:200]!r}"
    status_line, *lines = head.split(b"\r\n")
    headers = {name.lower(): value for name, value in (line.split(b": ", 1) for line in lines)}
    return Answer(int(status_line.split(b" ")[1]), headers, body)


def stall(url: str, *, body_bytes: int = DECLARED // 2, path: str = "/smsc/callback/acme") -> socket.socket:
    """A connection that sends the headers of a 1,000-byte callback and `body_bytes` of it, then nothing."""
    address = urlsplit(url)
    assert address.hostname is not None
    assert address.port is not None
    sock = socket.create_connection((address.hostname, address.port), timeout=ANSWER_TIMEOUT)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {DECLARED}\r\n\r\n"
        ).encode("ascii")
        sock.sendall(head + b"id=1&phone=79990000000&pad=".ljust(body_bytes, b"x")[:body_bytes])
    except BaseException:
        sock.close()
        raise
    return sock


def answered(sock: socket.socket) -> bool:
    """Whether anything of an answer (or the end of the connection) has arrived, without waiting."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the socket's timeout)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_all_to_end(socks: list[socket.socket], timeout_seconds: float) -> list[bytes]:
    """Each socket's answer, read until the server closed it; fails if any is still open at the timeout."""
    received = {sock: bytearray() for sock in socks}
    by_descriptor = {sock.fileno(): sock for sock in socks}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        open_count = len(socks)
        deadline = time.monotonic() + timeout_seconds
        while open_count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{open_count} of {len(socks)} connections neither answered nor closed"
            for key, _ in selector.select(remaining):
                sock = by_descriptor[key.fd]
                chunk = sock.recv(65536)
                if chunk:
                    received[sock] += chunk
                else:
                    selector.unregister(sock)
                    open_count -= 1
    return [bytes(received[sock]) for sock in socks]


@contextmanager
def closing_all(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def post_callback(ingest: Ingest) -> httpx.Response:
    """A real, signed callback on a connection of its own (closed after: an idle kept-alive connection
    would count towards the cap too)."""
    request = callback(CallbackKind.STATUS, secret=SECRET)
    with httpx.Client(base_url=ingest.url, timeout=ANSWER_TIMEOUT) as client:
        return client.post(
            "/smsc/callback/acme", content=request.body, headers={"content-type": request.content_type}
        )


def requests_counted(ingest: Ingest, code: str) -> float:
    """`smsc_ingest_requests_total` of this code, summed over every label."""
    return sum(
        sample.value
        for metric in ingest.registry.collect()
        for sample in metric.samples
        if sample.name == REQUESTS_TOTAL and sample.labels["code"] == code
    )


def records_in(bootstrap: str, topic: str) -> int:
    """How many records the topic holds: the sum over its partitions of end minus beginning offsets."""

    async def count() -> int:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            deadline = time.monotonic() + 20
            while not (partition_ids := consumer.partitions_for_topic(topic)):
                assert time.monotonic() < deadline, f"no metadata for topic {topic} within 20 s"
                await asyncio.sleep(0.1)
            partitions = [TopicPartition(topic, partition) for partition in partition_ids]
            ends = await consumer.end_offsets(partitions)
            beginnings = await consumer.beginning_offsets(partitions)
            return sum(ends[partition] - beginnings[partition] for partition in partitions)
        finally:
            await consumer.stop()

    return asyncio.run(count())


def test_a_stalled_upload_gets_408_at_the_timeout_and_its_connection_is_closed(
    kafka_bootstrap: str, topic_name: str
) -> None:
    timeout = 1.0
    settings = ingest_settings(kafka_bootstrap, topic_name, body_read_timeout_seconds=timeout)
    with running_ingest(settings) as ingest:
        with closing_all([stall(ingest.url), stall(ingest.url, body_bytes=0)]) as (half, headers_only):
            # Not answered before half the timeout: the stall is what is being timed, not the request.
            readable, _, _ = select.select([half, headers_only], [], [], timeout / 2)
            assert readable == [], "answered before half the body-read timeout"
            answers = [parse(read_to_end(sock)) for sock in (half, headers_only)]  # to the end: closed
        for answer in answers:
            assert answer.status == 408
            assert answer.body == b"body not received in time\n"
            assert answer.headers[b"connection"] == b"close"
            assert len(answer.headers[b"x-request-id"]) == 32
        labels = {"account": "acme", "kind": "unknown", "format": "unknown", "code": "408"}
        assert ingest.registry.get_sample_value(REQUESTS_TOTAL, labels) == 2

        # The server is unharmed, and a 408 is neither stored nor kept in the rejected topic.
        stored = post_callback(ingest)
        assert stored.status_code == 200
        with httpx.Client(base_url=ingest.url, timeout=ANSWER_TIMEOUT) as client:
            refused = client.post("/smsc/callback/acme", content=b"id=1&phone=79990000000&status=1")
        assert refused.status_code == 403
        # Both answers come after the broker's ack: the topics hold all they will ever hold of these.
        assert records_in(kafka_bootstrap, settings.raw_topic) == 1
        assert records_in(kafka_bootstrap, settings.rejected_topic) == 1
        kept = read_records(kafka_bootstrap, settings.rejected_topic, [refused.headers["x-request-id"]])
        assert list(kept) == [refused.headers["x-request-id"]]


def test_the_connection_cap_answers_503_at_once_and_stalled_uploads_give_their_place_back(
    kafka_bootstrap: str,
) -> None:
    cap = 100
    held_first = 60  # well under the cap: these are all taken in
    stalled = 300
    # Server and clients share this process: two descriptors per connection, plus the broker's clients.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * stalled + 200
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    # Long enough that opening the connections and a callback fit well inside it on a busy machine.
    timeout = 5.0
    topic = f"test.ingest.hostile.{uuid.uuid4().hex[:8]}"
    settings = ingest_settings(
        kafka_bootstrap, topic, body_read_timeout_seconds=timeout, max_concurrent_requests=cap
    )
    with running_ingest(settings) as ingest, closing_all([]) as socks:
        socks.extend(stall(ingest.url) for _ in range(held_first))
        # Below the cap, stalled uploads cost a normal callback nothing: it is stored at once.
        stored = post_callback(ingest)
        assert stored.status_code == 200
        assert not any(answered(sock) for sock in socks), "the stalled uploads were answered too soon"

        socks.extend(stall(ingest.url) for _ in range(stalled - held_first))
        # uvicorn takes a request in while open connections (its own included) and requests in flight are
        # both under the cap: at most cap - 1 stalled uploads are held, every other one is refused at once.
        least_refused = stalled - (cap - 1)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while sum(answered(sock) for sock in socks[held_first:]) < least_refused:
            assert time.monotonic() < deadline, "the connections beyond the cap were not answered"
            time.sleep(0.05)
        assert not any(answered(sock) for sock in socks[:held_first]), (
            "the first stalled uploads were answered before the refusals beyond the cap: the machine "
            f"took longer than the {timeout:g} s body-read timeout to open {stalled} connections"
        )
        # Those held are answered 408 at the timeout; every connection is closed after its answer.
        answers = [parse(raw) for raw in read_all_to_end(socks, ANSWER_TIMEOUT)]

        codes = [answer.status for answer in answers]
        assert set(codes) <= {408, 503}, codes
        assert codes[:held_first] == [408] * held_first
        assert codes.count(503) >= least_refused
        assert codes.count(408) <= cap - 1
        refusal = next(answer for answer in answers if answer.status == 503)
        assert refusal.body == b"Service Unavailable"
        assert refusal.headers[b"connection"] == b"close"
        assert b"x-request-id" not in refusal.headers  # uvicorn answers it: the app never sees it
        # ... so neither do the app's metrics; the 408s are all counted.
        assert requests_counted(ingest, "503") == 0
        assert requests_counted(ingest, "408") == codes.count(408)

        # The capacity is back.
        after = post_callback(ingest)
        assert after.status_code == 200
    request_ids = [stored.headers["x-request-id"], after.headers["x-request-id"]]
    assert read_records(kafka_bootstrap, settings.raw_topic, request_ids).keys() == set(request_ids)
