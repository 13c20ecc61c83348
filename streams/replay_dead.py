"""`smsc-analytics replay-dead`: put dead-lettered callbacks back on the raw topic, after a parser fix.

Each dead letter goes back with its original key and headers (minus the dead letter's own), so the
workers parse it again; one that still cannot be parsed is dead-lettered again with its new reason.
Replaying the same letters twice is harmless for the numbers: a callback that now parses is counted
once, the second copy being a duplicate within the dedupe window.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from smsc_analytics.config import settings_or_exit
from streams.app import RAW_OFFSET_HEADER, REASON_HEADER
from streams.settings import WorkerSettings

_DEAD_ONLY_HEADERS = frozenset({RAW_OFFSET_HEADER, REASON_HEADER})


@dataclass(frozen=True, slots=True)
class ReplayReport:
    read: int
    replayed: int
    reasons: dict[str, int]


async def replay_dead(
    settings: WorkerSettings, *, dry_run: bool = False, limit: int | None = None
) -> ReplayReport:
    """Copy every record of the dead-letter topic (from its beginning to its current end) to the raw topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await consumer.start()
    await producer.start()
    read = replayed = 0
    reasons: dict[str, int] = {}
    try:
        await consumer.topics()  # fetches the cluster's metadata
        partitions = consumer.partitions_for_topic(settings.dead_topic) or set()
        tps = [TopicPartition(settings.dead_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # The end of each partition is fixed when the replay starts, so that letters that die again
        # are not replayed in a loop. ListOffsets gives it on Apache Kafka; the embedded broker
        # under-reports it after batched writes, so the first fetch's high watermark counts too.
        listed = await consumer.end_offsets(tps)
        ends: dict[TopicPartition, int] = {}
        remaining = {tp for tp in tps if listed[tp] > 0}
        deliveries = []
        while remaining and (limit is None or read < limit):
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                end = ends.setdefault(tp, max(listed[tp], consumer.highwater(tp) or 0))
                for record in records:
                    if record.offset >= end or (limit is not None and read >= limit):
                        break
                    read += 1
                    headers = dict(record.headers)
                    reason = headers.get(REASON_HEADER, b"?").decode("utf-8", "replace")
                    field = reason.split(":", 1)[0]
                    reasons[field] = reasons.get(field, 0) + 1
                    if not dry_run:
                        kept = [
                            (name, value) for name, value in record.headers if name not in _DEAD_ONLY_HEADERS
                        ]
                        deliveries.append(
                            await producer.send(
                                settings.raw_topic, record.value, key=record.key, headers=kept
                            )
                        )
                        replayed += 1
                if records and (records[-1].offset + 1 >= end or records[-1].offset >= end):
                    remaining.discard(tp)
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
        await consumer.stop()
    return ReplayReport(read, replayed, reasons)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="smsc-analytics replay-dead",
        description="Copy the dead-lettered callbacks back to the raw topic so the workers parse them again "
        "(after a parser fix). Reads the dead-letter topic from its beginning to its current end. "
        "Configuration: SMSC_WORKER_DEAD_TOPIC, SMSC_WORKER_RAW_TOPIC, KAFKA_BOOTSTRAP_SERVERS.",
    )
    parser.add_argument("--dry-run", action="store_true", help="only count the dead letters by reason")
    parser.add_argument("--limit", type=int, help="replay at most this many")
    args = parser.parse_args(argv)
    settings = settings_or_exit(WorkerSettings)
    try:
        report = asyncio.run(
            asyncio.wait_for(replay_dead(settings, dry_run=args.dry_run, limit=args.limit), 600)
        )
    except (KafkaError, TimeoutError) as exc:
        print(
            f"smsc-analytics replay-dead: cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}",
            file=sys.stderr,
        )
        return 1
    for field, letters in sorted(report.reasons.items(), key=lambda item: -item[1]):
        print(f"{letters:8d}  {field}")
    verb, count = ("would replay", report.read) if args.dry_run else ("replayed", report.replayed)
    print(
        f"read {report.read} dead letters from {settings.dead_topic}; {verb} {count} to {settings.raw_topic}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
