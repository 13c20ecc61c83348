"""How fast is a stream worker end to end (raw topic -> every aggregate), beside two anchors on one topic?

    .venv/bin/python -m benchmarks.streams_throughput --runs 3   # ~15 min; --count, --inflight, --archive
    .venv/bin/python -m benchmarks.streams_throughput --runs 3 --archive off   # destinations off vs on
    .venv/bin/python -m benchmarks.streams_throughput --memory-only --inflight 1000000

Anchors, measured in the same run on the same topic: a naive Faust agent that only counts the records
(what a straightforward implementation gets), and a bare aiokafka consumer that `json.loads` each record
(the limit of the client). The callbacks are SMSC JSON bodies (`fmt=3`) so that both anchors can read
them. Also: the memory of the state per million in-flight messages (lifecycle + dedupe window).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import itertools
import json
import os
import re
import statistics
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
from streams.settings import WorkerSettings
from tests.integration.streams.harness import Topics, Worker, processed, produce

ROOT = Path(__file__).resolve().parent.parent


def bare_consumer(bootstrap: str, topic: str, count: int) -> float:
    async def run() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer.topics()  # public: fetches the cluster's metadata
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


def worker(
    bootstrap: str,
    topics: Topics,
    count: int,
    data_dir: Path,
    *,
    archive: bool,
    snapshot_seconds: float,
    destinations: bool = True,
) -> float:
    # Fresh app id and output topics per run: each run reads the raw topic from its start, with no state
    # and no emitted events of an earlier run (which it would rightly not emit again).
    run = uuid.uuid4().hex[:6]
    topics = dataclasses.replace(
        topics, events=f"{topics.events}.{run}", dead=f"{topics.dead}.{run}", app_id=f"{topics.app_id}-{run}"
    )
    env = {
        "SMSC_WORKER_ARCHIVE": "true" if archive else "false",
        # The harness writes state every second (fast tests after kill -9); measure the configured one.
        "SMSC_WORKER_SNAPSHOT_INTERVAL_SECONDS": str(snapshot_seconds),
        "SMSC_WORKER_DESTINATIONS": "true" if destinations else "false",
    }
    process = Worker(bootstrap, topics, data_dir, extra_env=env)
    try:
        timed = _timed(process, bootstrap, topics.raw, (topics.events, topics.dead), count)
        return asyncio.run(asyncio.wait_for(timed, 660))
    finally:
        process.stop()


async def _timed(
    process: Worker, bootstrap: str, raw_topic: str, output_topics: tuple[str, ...], count: int
) -> float:
    """Records applied per second, from the first record the worker wrote to the last.

    Not from /metrics: a worker hides a partition there until it has caught up with the topic (so that
    nobody graphs a replay's partial numbers), which is the whole run here; and rendering its series
    several times a second would cost it more than Prometheus does every 15 s (with destinations on, most
    of its CPU). Its output topics show progress instead, from the broker: what they held when first seen
    (about one batch) is not counted, and /metrics is read only once they stop growing, to confirm that
    every record was applied.
    """
    deadline = time.monotonic() + 600
    while process.try_scrape() is None:  # up: its topics exist (created before it serves)
        if process.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start: {process.log_tail()}")
        await asyncio.sleep(0.2)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # A worker's topics all have the raw topic's partition count (it refuses to start otherwise).
        partitions = sorted(consumer.partitions_for_topic(raw_topic) or ())
        outputs = [TopicPartition(topic, p) for topic in output_topics for p in partitions]
        started, written_at_start, last_written, last_change, last_scrape = 0.0, 0, 0, 0.0, 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            written = sum((await consumer.end_offsets(outputs)).values())
            if written != last_written:
                last_written, last_change = written, now
                if not started:
                    started, written_at_start = now, written
            elif started and now - last_change >= 0.4 and now - last_scrape >= 1.0:
                last_scrape = now
                series = process.try_scrape()
                if series and processed(series) >= count:
                    return (count - written_at_start) / (last_change - started)
            if process.process.poll() is not None:
                raise SystemExit(f"the worker exited: {process.log_tail()}")
            await asyncio.sleep(0.2)  # bounds the timing error to ~2 % of a ~10 s run
        raise SystemExit("the worker did not finish within 600 s")
    finally:
        await consumer.stop()


def state_memory(inflight: int, *, destinations: bool = True) -> tuple[float, float]:
    """MiB of processor state per million in-flight messages (one pending status each, in the window):
    (Python allocations by tracemalloc, resident set growth). Two passes: tracemalloc inflates the RSS.
    The numbers are spread over a few ranges of several carriers, so each message carries a destination."""
    ranges = ("7903", "7926", "7950", "7916", "7701")
    bodies = [
        encode_request({"id": str(100_000 + i), "phone": f"{ranges[i % 5]}{i:07d}", "status": "0",
                        "ts": "1795523405", "cost": "1.50", "cnt": "1", "type": "0", "sender": "SHOP"}).body
        for i in range(inflight)
    ]  # fmt: skip
    config = ProcessorConfig(destinations=destinations)

    def fill() -> PartitionProcessor:
        processor = PartitionProcessor(0, config)
        for offset, body in enumerate(bodies):
            processor.process(SourceRecord(0, offset, body, b"", None, "acme", 1_795_523_405 * NS + offset))
        assert len(processor.messages) == inflight
        return processor

    fill()  # warm: the parser's caches, interned labels and costs are not state
    gc.collect()
    rss_before = _rss_bytes()
    kept = fill()
    rss = (_rss_bytes() - rss_before) / inflight * 1_000_000 / 2**20
    del kept
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = fill()
    traced = (tracemalloc.get_traced_memory()[0] - before) / inflight * 1_000_000 / 2**20
    tracemalloc.stop()
    del kept
    return traced, rss


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _row(round_: int, what: str, rate: float, naive: float | None) -> None:
    ratio = f"   {rate / naive:.2f} × naive" if naive else ""
    print(f"round {round_}: {what:38s}: {rate:10.0f} ev/s{ratio}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000, help="callbacks in the topic (default 100000)")
    parser.add_argument("--inflight", type=int, default=200_000, help="messages for the memory figure")
    parser.add_argument("--runs", type=int, default=1, help="rounds of anchors and workers (default 1)")
    parser.add_argument(
        "--archive", choices=("on", "off", "both"), default="both", help="the worker's archive sink"
    )
    parser.add_argument(
        "--snapshot-seconds",
        type=float,
        default=WorkerSettings.model_fields["snapshot_interval_seconds"].default,
        help="the worker's snapshot interval (default: the worker's default)",
    )
    parser.add_argument(
        "--destinations",
        choices=("on", "off", "both"),
        default="both",
        help="the worker's destinations (country, carrier); both: each worker run twice, off then on",
    )
    parser.add_argument("--no-anchors", action="store_true", help="workers only (diagnosis, no ratio)")
    parser.add_argument("--memory-only", action="store_true", help="only the state memory figure")
    args = parser.parse_args(argv)
    if args.memory_only:
        _print_memory(args.inflight)
        return 0

    print(f"generating {args.count} callbacks (SMSC JSON bodies) ...", flush=True)
    callbacks = generate(
        seed=5, count=args.count, wire=WireConfig(charset="utf-8", body_format=BodyFormat.JSON)
    )
    archives = {"on": [True], "off": [False], "both": [False, True]}[args.archive]
    destinations = {"on": [True], "off": [False], "both": [False, True]}[args.destinations]
    rows: list[tuple[str, float, float | None]] = []  # (what, ev/s, the naive agent of its round)
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
        for round_ in range(1, args.runs + 1):
            naive: float | None = None
            if not args.no_anchors:
                bare = bare_consumer(bootstrap, topics.raw, args.count)
                rows.append(("bare aiokafka consumer + json.loads", bare, None))
                _row(round_, *rows[-1])
                naive = naive_agent(bootstrap, topics.raw, args.count)
                rows.append(("naive Faust counting agent", naive, None))
                _row(round_, *rows[-1])
            data = Path(tmp)
            for archive, dest in itertools.product(archives, destinations):
                seconds = args.snapshot_seconds
                ours = worker(
                    bootstrap,
                    topics,
                    args.count,
                    data,
                    archive=archive,
                    snapshot_seconds=seconds,
                    destinations=dest,
                )
                what = f"worker, archive {'on' if archive else 'off'}, destinations {'on' if dest else 'off'}"
                rows.append((what, ours, naive))
                _row(round_, *rows[-1])
    print("\nsummary (min / median / max over rounds):")
    for what in dict.fromkeys(what for what, _, _ in rows):
        values = sorted(value for w, value, _ in rows if w == what)
        ratios = sorted(value / naive for w, value, naive in rows if w == what and naive)
        ratio = ""
        if ratios:
            ratio = f"   × naive {ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}"
        print(
            f"  {what:38s} {values[0]:8.0f} / {statistics.median(values):8.0f} / {values[-1]:8.0f} ev/s"
            + ratio
        )
    print("goal: worker >= 1.0 × the naive agent (each round's worker against that round's naive agent)")
    if len(destinations) == 2:
        _print_destinations_cost(rows, archives)
    _print_memory(args.inflight)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    return 0


def _print_destinations_cost(rows: list[tuple[str, float, float | None]], archives: list[bool]) -> None:
    """Destinations on against off, per archive setting: the median of each round's on/off ratio (each
    round ran both one after the other on the same topic)."""
    for archive in archives:
        state = "on" if archive else "off"
        off = [value for what, value, _ in rows if what == f"worker, archive {state}, destinations off"]
        on = [value for what, value, _ in rows if what == f"worker, archive {state}, destinations on"]
        ratios = sorted(o / f for o, f in zip(on, off, strict=True))
        print(
            f"destinations on / off, archive {state}: {' '.join(f'{r:.3f}' for r in ratios)}"
            f" (median {statistics.median(ratios):.3f}; goal >= 0.90, i.e. at most 10 % slower)"
        )


def _print_memory(inflight: int) -> None:
    for destinations in (False, True):
        traced, rss = state_memory(inflight, destinations=destinations)
        print(
            f"state per million in-flight messages, destinations {'on' if destinations else 'off'}: "
            f"{traced:.0f} MiB by tracemalloc, {rss:.0f} MiB of RSS (measured on {inflight}; goal <= 300 MiB)"
        )


if __name__ == "__main__":
    sys.exit(main())
