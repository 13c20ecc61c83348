"""Sharing HLR answers between the stream workers through a compacted topic (`smsc.hlr.networks`).

A final HLR look-up answer tells the network a number is on now, whichever range it was issued from
(ported numbers). The worker that processes one publishes it, keyed by the number's digest
(`hlr_memory.phone_digest`: the topic never holds the number itself); every worker reads the whole topic,
all partitions from the beginning and without a consumer group, into its `HlrMemory`. A message first
seen after an answer reached the worker takes the answer's network as its carrier
(docs/streams-design.md, "Destinations and HLR sharing").

Compaction keeps the last record per key; which one is the last does not matter to a reader, which keeps
the newest answer by `answered_at_ns`, so the publisher needs neither ordering nor idempotence: a record
written twice (a replay, a producer retry) changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from streams.hlr_memory import HlrMemory

logger = logging.getLogger(__name__)

#: (phone digest, carrier, answered at in ns): what a final HLR answer contributes.
HlrNetwork = tuple[int, str, int]

#: Records of the topic that could not be read, by reason (per worker: the topic is read by every worker).
_KEY_DIGITS: Final = 16
_KEY: Final = re.compile(rb"[0-9a-fA-F]{%d}" % _KEY_DIGITS)  # not int()'s syntax: no sign, space or _
_FETCH_TIMEOUT_MS: Final = 1000
#: Records applied between two turns of the event loop (~12 µs each: ~60 ms).
_CHUNK_RECORDS: Final = 5000
_RETRY_SECONDS: Final = 5.0


class UnreadableAnswerError(ValueError):
    """A record of the topic that is not an answer this module wrote; `reason` is a bounded label value."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def answer_record(answer: HlrNetwork) -> tuple[bytes, bytes]:
    """(key, value) of an answer: the digest as 16 hex digits, and compact JSON."""
    digest, carrier, answered_at_ns = answer
    value = {"carrier": carrier, "answered_at_ns": answered_at_ns}
    return f"{digest:016x}".encode("ascii"), json.dumps(value, separators=(",", ":")).encode("utf-8")


def read_answer(key: bytes | None, value: bytes | None) -> HlrNetwork:
    """The answer of a record; `UnreadableAnswerError` for anything `answer_record` cannot have made."""
    if value is None:
        raise UnreadableAnswerError("tombstone", "a record without a value")
    if key is None or _KEY.fullmatch(key) is None:
        raise UnreadableAnswerError("key", f"key {key!r} is not {_KEY_DIGITS} hex digits")
    digest = int(key, 16)
    try:
        fields = json.loads(value)
    except (UnicodeDecodeError, ValueError):
        raise UnreadableAnswerError("value", "value is not JSON") from None
    if not isinstance(fields, dict):
        raise UnreadableAnswerError("value", "value is not a JSON object")
    carrier, answered_at_ns = fields.get("carrier"), fields.get("answered_at_ns")
    if not isinstance(carrier, str) or not carrier.strip():
        raise UnreadableAnswerError("value", "value has no carrier text")
    if type(answered_at_ns) is not int or answered_at_ns < 0:
        raise UnreadableAnswerError("value", "value has no non-negative integer answered_at_ns")
    return digest, carrier, answered_at_ns


class HlrSharing:
    """Publishes a worker's HLR answers to the topic, and reads every worker's into its memory. A worker
    that keeps no memory (`memory` None: HLR retention or numbers set to 0) still publishes its answers
    for the others, and reads nothing."""

    def __init__(self, bootstrap_servers: str, topic: str, memory: HlrMemory | None, client_id: str) -> None:
        self.topic = topic
        self.memory = memory
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self.skipped: Counter[str] = Counter()
        #: Set once the reader has reached the end the topic had when it started (or gave up waiting).
        self.loaded = asyncio.Event()

    async def publish(self, producer: AIOKafkaProducer, answers: Sequence[HlrNetwork]) -> list[Any]:
        """Hands the answers to the producer; returns their delivery futures, for the caller to await."""
        deliveries = []
        for answer in answers:
            key, value = answer_record(answer)
            deliveries.append(await producer.send(self.topic, value, key=key))
        return deliveries

    def skipped_counts(self) -> Mapping[str, int]:
        return dict(self.skipped)

    async def run(self) -> None:
        """Reads the topic from its beginning, then follows it, for as long as the worker runs. A broker
        error starts the reading over (from the beginning again: the newest answer wins, so nothing is
        counted twice)."""
        if self.memory is None:
            self.loaded.set()
            return
        try:
            while True:
                try:
                    await self._read()
                except (KafkaError, TimeoutError) as exc:
                    logger.warning("hlr answers: reading %s failed, starting over: %s", self.topic, exc)
                    await asyncio.sleep(_RETRY_SECONDS)
        finally:
            self.loaded.set()  # nobody waits for a reader that stopped

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=None,  # every worker reads every partition
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=self._client_id,
        )
        try:
            await consumer.start()
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                # Chunks, with the loop given back between them: loading millions of answers at start
                # must not stall the worker's other work (heartbeats, the lease, /metrics).
                batch = await consumer.getmany(timeout_ms=_FETCH_TIMEOUT_MS, max_records=_CHUNK_RECORDS)
                for records in batch.values():
                    for record in records:
                        self.apply(record.key, record.value)
                await asyncio.sleep(0)
                if not self.loaded.is_set() and await _at_end(consumer, partitions):
                    logger.info("hlr answers loaded topic=%s numbers=%d", self.topic, len(self))
                    self.loaded.set()
        finally:
            await consumer.stop()

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the topic into the memory; an unreadable one is counted, logged once per reason."""
        try:
            digest, carrier, answered_at_ns = read_answer(key, value)
        except UnreadableAnswerError as exc:
            if not self.skipped[exc.reason]:
                logger.warning(
                    "hlr answer skipped topic=%s reason=%s: %s (further ones are only counted)",
                    self.topic,
                    exc.reason,
                    exc,
                )
            self.skipped[exc.reason] += 1
            return
        if self.memory is not None:
            self.memory.remember(digest, carrier, answered_at_ns)

    def __len__(self) -> int:
        """Numbers remembered (0 without a memory)."""
        return 0 if self.memory is None else len(self.memory)

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the topic (created before the worker starts: `topics.ensure_topics`)."""
        deadline = time.monotonic() + 60
        while True:
            await consumer.topics()  # refreshes the metadata `partitions_for_topic` reads
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, p) for p in sorted(found)]
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {self.topic} has no partitions")
            await asyncio.sleep(1)


async def _at_end(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> bool:
    """Every partition read up to the high watermark of its last fetch response (not ListOffsets: the
    embedded broker under-reports those after batched writes)."""
    for tp in partitions:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True
