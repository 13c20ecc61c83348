"""How fast is a stream worker end to end (raw topic -> every aggregate), beside two anchors on one topic?

    .venv/bin/python -m benchmarks.streams_throughput            # ~2 min; --count, --inflight

Anchors, measured in the same run on the same topic: a naive Faust agent that only counts the records
(what a straightforward implementation gets), and a bare aiokafka consumer that `json.loads` each record
(the limit of the client). The callbacks are SMSC JSON bodies (`fmt=3`) so that both anchors can read
them. Also: the memory of the state per million in-flight messages (lifecycle + dedupe window).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from embedded_broker import EmbeddedBroker
from embedded_broker.broker import free_port
from simulator import WireConfig, generate
from smsc import encode_request
from smsc.wire import BodyFormat
from streams.processor import NS, PartitionProcessor, ProcessorConfig, SourceRecord
from tests.integration.streams.harness import Topics, Worker, processed, produce

ROOT = Path(__file__).resolve().parent.parent


def bare_consumer(bootstrap: str, topic: str, count: int) -> float:
    async def run() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            seen, started = 0, 0.0
            while seen < count:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                for records in batches.values():
                    if not started:
                        started = time.monotonic()
                    for record in records:
                        json.loads(record.value)
                    seen += len(records)
            return count / (time.monotonic() - started)
        finally:
            await consumer.stop()

    return asyncio.run(asyncio.wait_for(run(), 300))


def naive_agent(bootstrap: str, topic: str, count: int) -> float:
    script = str(ROOT / "benchmarks" / "streams_naive_agent.py")
    command = [sys.executable, script, topic, str(count), bootstrap, str(free_port())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    # Faust's worker redirects stdout into its log, so the line may come on either stream.
    found = re.findall(r"(\d+\.\d+) (\d+\.\d+) (\d+)\s*$", result.stdout + result.stderr, re.MULTILINE)
    if result.returncode != 0 or not found:
        raise SystemExit(f"the naive agent failed: {result.stderr[-2000:]}")
    first, last, seen = found[-1]
    return int(seen) / (float(last) - float(first))


def worker(bootstrap: str, topics: Topics, count: int, data_dir: Path) -> float:
    process = Worker(bootstrap, topics, data_dir)
    try:
        started = 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            series = process.try_scrape()
            done = processed(series) if series else 0
            if done and not started:
                started = time.monotonic()
            if done >= count:
                return count / (time.monotonic() - started)
            if process.process.poll() is not None:
                raise SystemExit(f"the worker exited: {process.log_tail()}")
            time.sleep(0.05)
        raise SystemExit("the worker did not finish within 600 s")
    finally:
        process.stop()


def state_memory(inflight: int) -> float:
    """MiB of processor state per million in-flight messages (one pending status each, in the window)."""
    processor = PartitionProcessor(0, ProcessorConfig())
    bodies = [
        encode_request({"id": str(100_000 + i), "phone": f"7999{i:07d}", "status": "0", "ts": "1795523405",
                        "cost": "1.50", "cnt": "1", "type": "0", "sender": "SHOP"}).body
        for i in range(inflight)
    ]  # fmt: skip
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for offset, body in enumerate(bodies):
        processor.process(SourceRecord(0, offset, body, b"", None, "acme", 1_795_523_405 * NS + offset))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(processor.messages) == inflight
    return (after - before) / inflight * 1_000_000 / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000, help="callbacks in the topic (default 100000)")
    parser.add_argument("--inflight", type=int, default=200_000, help="messages for the memory figure")
    args = parser.parse_args(argv)

    print(f"generating {args.count} callbacks (SMSC JSON bodies) ...", flush=True)
    callbacks = generate(
        seed=5, count=args.count, wire=WireConfig(charset="utf-8", body_format=BodyFormat.JSON)
    )
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="streams-bench-") as tmp:
        run = uuid.uuid4().hex[:8]
        topics = Topics(raw=f"bench.raw.{run}", events=f"bench.events.{run}", dead=f"bench.dead.{run}",
                        app_id=f"bench-{run}")  # fmt: skip
        # The worker creates its topics with 4 partitions; start and stop one to have them before filling.
        bootstrap = broker.bootstrap_servers
        print("filling the raw topic ...", flush=True)
        probe = Worker(bootstrap, topics, Path(tmp))
        deadline = time.monotonic() + 60
        while probe.try_scrape() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        probe.stop()
        produce(bootstrap, topics.raw, callbacks)
        bare = bare_consumer(bootstrap, topics.raw, args.count)
        print(f"bare aiokafka consumer + json.loads : {bare:10.0f} ev/s", flush=True)
        naive = naive_agent(bootstrap, topics.raw, args.count)
        print(f"naive Faust counting agent          : {naive:10.0f} ev/s", flush=True)
        ours = worker(bootstrap, topics, args.count, Path(tmp))
        print(f"stream worker (all the work)        : {ours:10.0f} ev/s", flush=True)
    print(
        f"worker / naive agent: {ours / naive:.2f}  (goal >= 1.0)   worker / bare consumer: {ours / bare:.3f}"
    )
    mib = state_memory(args.inflight)
    print(
        f"state per million in-flight messages: {mib:.0f} MiB (measured on {args.inflight}; goal <= 300 MiB)"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
