"""How fresh are the numbers: from a callback posted to ingest until /metrics and the archive show it.

    .venv/bin/python -m benchmarks.streams_freshness         # 1,000 callbacks/s for 30 s, twice (~2.5 min)
    .venv/bin/python -m benchmarks.streams_freshness --archive on --seconds 60 --archive-flush-seconds 5

What runs: the embedded broker, one stream worker (`smsc-analytics worker`, its own topics, a temporary
data directory and archive root, the worker's default snapshot and archive-flush settings unless given),
and ingest (`smsc-analytics ingest --workers 1`, accounts `load=` and `fresh=` without secrets), each a
subprocess stopped by its PID at the end (SIGTERM, SIGKILL after a deadline).

The load: status callbacks of distinct messages (every one changes a counter; none is a duplicate),
form bodies, POSTed to `/smsc/callback/load` open loop at a steady rate (request i due at start + i/rate,
over keep-alive connections, as benchmarks/ingest_loadgen.py) by a process of its own (so that the
polling below cannot delay it), after a warm-up.

The markers: every `--marker-ms` one more status callback of a distinct message for the account `fresh`
(a label of its own: nothing else counts there), POSTed on a connection of its own, one at a time, so that
markers of one raw partition are stored in the order they were sent. Marker k's time starts when its
request is written. Included in `--rate` (the load sends the rest).

How visibility is timed, per marker:
  - answered: ingest's 200, i.e. the record is durable in the raw topic (acks=all): the bare path;
  - consumable: a plain aiokafka consumer (no group) tailing the raw topic in this process first returns
    the record; it also gives each marker's raw partition and offset;
  - /metrics: this process GETs the worker's /metrics every `--poll-ms` and keeps
    `smsc_status_callbacks_total{account="fresh"}` summed per `partition` label. Marker k, the r-th marker
    of its raw partition p, is visible at the end of the first scrape whose count for p is >= r (within a
    partition the worker applies records in offset order). Resolution: the poll interval plus a scrape.
    Every 100 ms by default, not faster: a scrape costs the worker several ms of CPU (measured and printed
    in each run), so polling every 20 ms would take a fifth of a core from the thing measured;
  - archive: every `--archive-poll-ms` a thread reads the `id` column of the archive's status rows of
    account `fresh` (`reports.load.load_table`, the reports' own reader, superseded files left out);
    marker k is archived at the end of the first read holding its id.

With `--archive both` (the default) this runs twice, each time with a fresh worker and ingest: the worker
as deployed (archive sink on), then the worker without its archive sink (its own path, an anchor). The goal
is judged on the first.

Anchors printed beside the figures, measured in the same run: ingest's own answer time at that rate (all
load requests, from their due time), the markers' answer and consumable times, the worker's snapshot and
archive-flush settings (the archive is written when a block is full or `archive_flush_seconds` after its
last write, so that bounds the archive's delay), the scrape's own duration, the worker's own lag gauge,
the worker's and ingest's CPU share and the worker's CPU per callback (what share of a core the rate
needs), and the load average. Goal: p99 <= 2 s from the post to /metrics. Each run ends with a line
`RESULT {json}` for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.dataset as ds
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.ingest_throughput import cpu_seconds
from embedded_broker import EmbeddedBroker
from reports.errors import ReportsError
from reports.load import load_table
from streams.settings import WorkerSettings
from tests.integration.streams.harness import Topics, Worker

ROOT = Path(__file__).resolve().parent.parent
#: p99 from the post to the worker's /metrics, seconds.
GOAL_METRICS_P99_SECONDS: Final = 2.0
MARKER_ACCOUNT: Final = "fresh"
LOAD_ACCOUNT: Final = "load"
#: Markers' message ids start with 9, the load's with 1: a record's key tells them apart.
MARKER_ID_BASE: Final = 900_000_000
LOAD_ID_BASE: Final = 100_000_000
WORKER_START_TIMEOUT_SECONDS: Final = 120.0
INGEST_START_TIMEOUT_SECONDS: Final = 45.0
_SERIES: Final = re.compile(rb"^smsc_status_callbacks_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
_LAG: Final = re.compile(rb"^smsc_stream_consumer_lag_records\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)
_PARTITION: Final = re.compile(rb'partition="(\d+)"')
_DEFAULTS: Final = WorkerSettings.model_fields


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_body(message_id: int, now: int) -> bytes:
    """A form status callback (delivered) of one message: `id:phone` is its key, unique per message."""
    return (
        f"id={message_id}&phone=7{message_id % 10**10:010d}&status=1&ts={now}&cost=1.50&cnt=1&type=0"
        "&sender=SHOP"
    ).encode("ascii")


def post_request(port: int, account: str, body: bytes) -> bytes:
    head = (
        f"POST /smsc/callback/{account} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def read_answer(reader: asyncio.StreamReader) -> int:
    """One HTTP/1.1 answer with a Content-Length (ingest's); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return int(head[9:12])


@dataclass
class Marker:
    index: int
    sent: float = 0.0
    answered: float | None = None
    code: int = 0
    consumed: float | None = None
    partition: int | None = None
    offset: int | None = None
    on_metrics: float | None = None
    archived: float | None = None


@dataclass
class Observations:
    markers: dict[int, Marker] = field(default_factory=dict)
    load_latencies: list[float] = field(default_factory=list)
    load_codes: dict[int, int] = field(default_factory=dict)
    load_sent: int = 0
    #: (end of the scrape, count of marker callbacks per raw partition), whenever a count changed
    metrics_history: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    scrape_seconds: list[float] = field(default_factory=list)
    #: the worker's own lag on the raw topic (records, summed over partitions) at each measured scrape
    worker_lag: list[float] = field(default_factory=list)
    scrapes_hidden: int = 0
    #: lines of the worker's log saying its event loop stalled (it then hides its partitions)
    worker_stalls: int = 0
    scrape_errors: int = 0
    archive_reads: list[float] = field(default_factory=list)
    #: reads that failed, by exception type (no archive yet, a file replaced between listing and reading)
    archive_errors: dict[str, int] = field(default_factory=dict)
    measured_from: float = 0.0
    measured_until: float = 0.0
    #: the worker's CPU seconds over [measured_from, measured_until]: its share of a core while loaded
    worker_cpu_loaded: float = 0.0


@dataclass(frozen=True)
class Plan:
    ingest_port: int
    worker_port: int
    bootstrap: str
    raw_topic: str
    partitions: int
    archive_root: str
    rate: float
    seconds: float
    warmup: float
    marker_seconds: float
    poll_seconds: float
    archive_poll_seconds: float
    drain_seconds: float
    connections: int
    #: whether the worker runs its archive sink (and the archive is polled)
    archive: bool
    worker_pid: int

    @property
    def marker_count(self) -> int:
        return max(1, int(self.seconds / self.marker_seconds))


@dataclass
class LoadResult:
    """What the load process reports: latencies (from the due time) and codes of the measured requests."""

    latencies: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    sent: int = 0


async def _load_connection(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    queue: asyncio.Queue[tuple[float, bytes] | None],
    measured_from: float,
    result: LoadResult,
) -> None:
    reader, writer = connection
    try:
        while (item := await queue.get()) is not None:
            due, payload = item
            writer.write(payload)
            code = await read_answer(reader)
            if due >= measured_from:
                result.latencies.append(time.perf_counter() - due)
                result.codes[code] = result.codes.get(code, 0) + 1
    finally:
        writer.close()


async def _send_load(port: int, rate: float, seconds: float, connections: int, pipe: Connection) -> None:
    """Open loop: request i due at start + i/rate whatever happened before (latency from the due time)."""
    opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    pipe.send("ready")
    start, measured_from = await asyncio.to_thread(pipe.recv)
    total = int(rate * seconds)
    result = LoadResult(sent=sum(1 for i in range(total) if start + i / rate >= measured_from))
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    tasks = [asyncio.create_task(_load_connection(c, queue, measured_from, result)) for c in opened]
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    sent = 0
    while sent < total:
        due_now = min(total, int((time.perf_counter() - start) * rate) + 1)
        now = int(time.time())
        for i in range(sent, due_now):
            body = status_body(LOAD_ID_BASE + i, now)
            queue.put_nowait((start + i / rate, post_request(port, LOAD_ACCOUNT, body)))
        sent = due_now
        await asyncio.sleep(0.0005)
    for _ in tasks:
        queue.put_nowait(None)
    # Bounded: whatever is not answered 30 s after the last request is due counts as missing.
    _, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    pipe.send(result)


def run_load(port: int, rate: float, seconds: float, connections: int, pipe: Connection) -> None:
    """The load process's entry: a process of its own, so that this one's polling cannot delay the load
    (time.perf_counter is CLOCK_MONOTONIC: the same clock in both processes)."""
    uvloop.run(_send_load(port, rate, seconds, connections, pipe))


async def send_markers(plan: Plan, obs: Observations) -> None:
    """One marker every `marker_seconds`, one at a time on one connection: a partition's markers are stored
    in the order sent (the next is written only after the previous one is acknowledged)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", plan.ingest_port)
    try:
        for k in range(1, plan.marker_count + 1):
            due = obs.measured_from + (k - 1) * plan.marker_seconds
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            marker = obs.markers[k] = Marker(k)
            payload = post_request(
                plan.ingest_port, MARKER_ACCOUNT, status_body(MARKER_ID_BASE + k, int(time.time()))
            )
            marker.sent = time.perf_counter()
            writer.write(payload)
            marker.code = await asyncio.wait_for(read_answer(reader), 30)
            marker.answered = time.perf_counter()
    finally:
        writer.close()


async def tail_raw(plan: Plan, obs: Observations, ready: asyncio.Event, stop: asyncio.Event) -> None:
    """The raw topic from its end: when each marker is first consumable, its partition and its offset."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=plan.bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(plan.raw_topic, p) for p in range(plan.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # resolved now, before the markers: none is skipped
        ready.set()
        prefix = str(MARKER_ID_BASE // 100_000_000).encode()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.perf_counter()
            for tp, records in batches.items():
                for record in records:
                    key = record.key or b""
                    if key.startswith(prefix):
                        index = int(key.split(b":", 1)[0]) - MARKER_ID_BASE
                        marker = obs.markers.get(index)
                        if marker is not None and marker.consumed is None:
                            marker.consumed, marker.partition, marker.offset = (
                                now,
                                tp.partition,
                                record.offset,
                            )
    finally:
        await consumer.stop()


def marker_counts(body: bytes) -> dict[int, int]:
    """`smsc_status_callbacks_total` of the marker account, summed per `partition` label."""
    counts: dict[int, int] = {}
    needle = f'account="{MARKER_ACCOUNT}"'.encode()
    for match in _SERIES.finditer(body):
        labels = match.group(1)
        if needle in labels and (partition := _PARTITION.search(labels)) is not None:
            p = int(partition.group(1))
            counts[p] = counts.get(p, 0) + int(float(match.group(2)))
    return counts


async def scrape(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode("ascii"))
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head[9:12] != b"200":
        raise OSError(f"/metrics answered {head[:40]!r}")
    return body


async def poll_metrics(plan: Plan, obs: Observations, stop: asyncio.Event) -> None:
    last: dict[int, int] = {}
    next_at = time.perf_counter()
    while not stop.is_set():
        began = time.perf_counter()
        try:
            body = await asyncio.wait_for(scrape(plan.worker_port), 10)
        except (OSError, TimeoutError):
            obs.scrape_errors += 1
        else:
            ended = time.perf_counter()
            obs.scrape_seconds.append(ended - began)
            counts = marker_counts(body)
            if 0 < obs.measured_from <= began and not obs.measured_until:
                lags = _LAG.findall(body)
                if lags:
                    obs.worker_lag.append(sum(float(value) for value in lags))
                else:
                    obs.scrapes_hidden += 1  # no partition exposed: fenced after a stall, or rebalancing
            if counts != last:
                obs.metrics_history.append((ended, counts))
                last = counts
        next_at = max(next_at + plan.poll_seconds, time.perf_counter())
        await asyncio.sleep(next_at - time.perf_counter())


def read_archived_ids(root: str) -> set[int] | str:
    """The marker ids in the archive now, or the name of the error when it cannot be read at this moment (no
    file yet, a file replaced by its longer rewrite between the listing and the read)."""
    try:
        table = load_table("status", columns=["id"], filters=ds.field("account") == MARKER_ACCOUNT, root=root)
    except (ReportsError, OSError, RuntimeError, pa.ArrowException) as exc:
        return type(exc).__name__
    return {int(value) - MARKER_ID_BASE for value in table.column("id").to_pylist() if value}


async def poll_archive(plan: Plan, obs: Observations, stop: asyncio.Event) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        ids = await asyncio.to_thread(read_archived_ids, plan.archive_root)
        ended = time.perf_counter()
        if isinstance(ids, str):
            obs.archive_errors[ids] = obs.archive_errors.get(ids, 0) + 1
        else:
            obs.archive_reads.append(ended - began)
            for index in ids:
                marker = obs.markers.get(index)
                if marker is not None and marker.archived is None:
                    marker.archived = ended
        await asyncio.sleep(max(0.0, plan.archive_poll_seconds - (ended - began)))


def _all_seen(obs: Observations, plan: Plan) -> bool:
    if len(obs.markers) < plan.marker_count:
        return False
    resolve_metrics(obs)
    return all(
        m.on_metrics is not None and (m.archived is not None or not plan.archive)
        for m in obs.markers.values()
    )


def resolve_metrics(obs: Observations) -> None:
    """Marker k, the r-th of its partition p (by offset), is on /metrics at the first scrape counting r."""
    by_partition: dict[int, list[Marker]] = {}
    for marker in obs.markers.values():
        if marker.partition is not None and marker.offset is not None:
            by_partition.setdefault(marker.partition, []).append(marker)
    for partition, markers in by_partition.items():
        markers.sort(key=lambda m: m.offset or 0)
        for rank, marker in enumerate(markers, start=1):
            if marker.on_metrics is None:
                for at, counts in obs.metrics_history:
                    if counts.get(partition, 0) >= rank:
                        marker.on_metrics = at
                        break


async def measure(plan: Plan) -> Observations:
    obs = Observations()
    stop = asyncio.Event()
    ready = asyncio.Event()
    tail = asyncio.create_task(tail_raw(plan, obs, ready, stop))
    await asyncio.wait_for(ready.wait(), 30)
    pollers = [asyncio.create_task(poll_metrics(plan, obs, stop))]
    if plan.archive:
        pollers.append(asyncio.create_task(poll_archive(plan, obs, stop)))
    context = multiprocessing.get_context("spawn")  # no fork of a process with the client's threads
    pipe, child_pipe = context.Pipe()
    rate = max(0.0, plan.rate - 1 / plan.marker_seconds)  # the markers make up the rest of --rate
    load = context.Process(
        target=run_load,
        args=(plan.ingest_port, rate, plan.warmup + plan.seconds, plan.connections, child_pipe),
        daemon=True,
    )
    load.start()
    try:
        if not await asyncio.to_thread(pipe.poll, 60) or pipe.recv() != "ready":
            raise RuntimeError("the load process did not connect to ingest within 60 s")
        start = time.perf_counter() + 0.2
        obs.measured_from = start + plan.warmup
        pipe.send((start, obs.measured_from))
        await asyncio.sleep(max(0.0, obs.measured_from - time.perf_counter()))
        cpu_from = cpu_seconds(plan.worker_pid)
        await send_markers(plan, obs)
        if not await asyncio.to_thread(pipe.poll, 60):
            raise RuntimeError("the load process did not report within 60 s of the markers' end")
        result: LoadResult = pipe.recv()
        obs.load_latencies, obs.load_codes, obs.load_sent = result.latencies, result.codes, result.sent
        obs.measured_until = time.perf_counter()
        obs.worker_cpu_loaded = cpu_seconds(plan.worker_pid) - cpu_from
        deadline = time.perf_counter() + plan.drain_seconds
        while not _all_seen(obs, plan) and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        load.join(10)
        if load.is_alive():
            load.kill()  # by its PID (Process.kill)
            load.join(10)
        _, pending = await asyncio.wait([tail, *pollers], timeout=30)
        for task in pending:
            task.cancel()
    resolve_metrics(obs)
    return obs


def scrape_cost(worker: Worker, interval: float, seconds: float = 3.0) -> float:
    """CPU milliseconds the idle worker spends per /metrics scrape: its CPU while scraped at `interval`,
    less its CPU at rest over as long (the observer's own cost; Prometheus scrapes every 15 s or so)."""
    pid = worker.process.pid
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    rest = (cpu_seconds(pid) - before) / (time.monotonic() - started)
    before, started, scrapes = cpu_seconds(pid), time.monotonic(), 0
    while time.monotonic() - started < seconds:
        worker.scrape_text()
        scrapes += 1
        time.sleep(interval)
    used = cpu_seconds(pid) - before - rest * (time.monotonic() - started)
    return max(0.0, used) / max(1, scrapes) * 1000


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _wait_until(what: str, check: object, timeout_seconds: float, process: subprocess.Popen[bytes]) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with status {process.returncode}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout_seconds:.0f} s")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 30) -> None:
    """SIGTERM by PID, SIGKILL if it is still there after the deadline."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _figures(values: Sequence[float]) -> str:
    return f"p50 {percentile(values, 50) * 1000:8.1f} ms   p99 {percentile(values, 99) * 1000:8.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.streams_freshness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rate", type=float, default=1000, help="callbacks/s into ingest, markers included (1000)"
    )
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds of load (default 30)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before the markers (5)")
    parser.add_argument("--marker-ms", type=float, default=100, help="one marker this often (100 ms)")
    parser.add_argument(
        "--poll-ms", type=float, default=100, help="scrape the worker's /metrics this often (100 ms)"
    )
    parser.add_argument(
        "--archive-poll-ms", type=float, default=250, help="read the archive this often (250 ms)"
    )
    parser.add_argument(
        "--connections", type=int, default=128, help="keep-alive connections of the load (128)"
    )
    parser.add_argument(
        "--snapshot-seconds",
        type=float,
        default=_DEFAULTS["snapshot_interval_seconds"].default,
        help="the worker's SMSC_WORKER_SNAPSHOT_INTERVAL_SECONDS (default: the worker's default)",
    )
    parser.add_argument(
        "--archive-flush-seconds",
        type=float,
        default=_DEFAULTS["archive_flush_seconds"].default,
        help="the worker's SMSC_WORKER_ARCHIVE_FLUSH_SECONDS (default: the worker's default)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=None,
        help="after the load, wait at most this long for every marker (default: 2 x flush + 30 s)",
    )
    parser.add_argument(
        "--archive",
        choices=("on", "off", "both"),
        default="both",
        help="the worker's archive sink: on (as deployed), off (the anchor: the worker's own path), or both "
        "one after the other (default)",
    )
    parser.add_argument("--per-marker", action="store_true", help="also print every marker's times")
    args = parser.parse_args(argv)
    if not 0 < args.rate <= 20_000:
        parser.error("--rate must be in (0, 20000]")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if not 0 <= args.warmup <= 60:
        parser.error("--warmup must be between 0 and 60")
    if not 10 <= args.marker_ms <= args.seconds * 1000 or 1000 / args.marker_ms > args.rate:
        parser.error("--marker-ms must be at least 10, at most --seconds, and markers at most --rate")
    if not 5 <= args.poll_ms <= 1000 or not 20 <= args.archive_poll_ms <= 10_000:
        parser.error("--poll-ms must be in [5, 1000] and --archive-poll-ms in [20, 10000]")
    drain = args.drain_seconds if args.drain_seconds is not None else 2 * args.archive_flush_seconds + 30

    modes = {"on": [True], "off": [False], "both": [True, False]}[args.archive]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    verdicts = []
    with EmbeddedBroker() as broker:
        for archive in modes:
            verdict = run_once(args, broker.bootstrap_servers, archive, drain)
            if verdict is None:
                return 1
            verdicts.append((archive, verdict))
    judged = next((verdict for archive, verdict in verdicts if archive), verdicts[0][1])
    deployed = "the worker as deployed (archive sink on)" if args.archive != "off" else "archive sink off"
    print(f"\ngoal: p99 from the post to /metrics <= {GOAL_METRICS_P99_SECONDS:g} s at {args.rate:g} "
          f"callbacks/s, {deployed}: {judged}")  # fmt: skip
    return 0


def run_once(args: argparse.Namespace, bootstrap: str, archive: bool, drain: float) -> str | None:
    """One worker and one ingest on fresh topics, measured and reported; the goal's verdict (None: a
    process died)."""
    load_start = os.getloadavg()[0]
    print(f"\n=== the worker with its archive sink {'on' if archive else 'off'} "
          f"(load average {load_start:.2f}) ===", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="freshness-bench-") as tmp:
        run = uuid.uuid4().hex[:8]
        topics = Topics(raw=f"fresh.raw.{run}", events=f"fresh.events.{run}", dead=f"fresh.dead.{run}",
                        app_id=f"fresh-{run}")  # fmt: skip
        worker_env = {
            "SMSC_WORKER_SNAPSHOT_INTERVAL_SECONDS": str(args.snapshot_seconds),
            "SMSC_WORKER_ARCHIVE_FLUSH_SECONDS": str(args.archive_flush_seconds),
            "SMSC_WORKER_ARCHIVE": "true" if archive else "false",
        }
        data = Path(tmp)
        worker = Worker(bootstrap, topics, data, extra_env=worker_env)
        ingest: subprocess.Popen[bytes] | None = None
        try:
            # The worker creates the topics with their partition count: it starts before ingest writes.
            _wait_until(
                "worker /metrics",
                lambda: worker.try_scrape() is not None,
                WORKER_START_TIMEOUT_SECONDS,
                worker.process,
            )
            port = free_port()
            ingest_env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "SMSC_INGEST_RAW_TOPIC": topics.raw,
                "SMSC_INGEST_REJECTED_TOPIC": f"{topics.raw}.rejected",
                "SMSC_INGEST_LOG_LEVEL": "warning",
                "SMSC_ACCOUNT_SECRETS": f"{LOAD_ACCOUNT}=,{MARKER_ACCOUNT}=",
            }
            command = [sys.executable, "-m", "smsc_analytics.cli", "ingest", "--port", str(port)]
            with open(data / "ingest.log", "wb") as log:
                ingest = subprocess.Popen(
                    [*command, "--workers", "1"],
                    cwd=ROOT,
                    env=ingest_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            _wait_until(
                "ingest /readyz",
                lambda: _answers(f"http://127.0.0.1:{port}/readyz"),
                INGEST_START_TIMEOUT_SECONDS,
                ingest,
            )
            plan = Plan(
                ingest_port=port,
                worker_port=worker.port,
                bootstrap=bootstrap,
                raw_topic=topics.raw,
                partitions=int(_DEFAULTS["partitions"].default),
                archive_root=str(data / "archive"),
                rate=args.rate,
                seconds=args.seconds,
                warmup=args.warmup,
                marker_seconds=args.marker_ms / 1000,
                poll_seconds=args.poll_ms / 1000,
                archive_poll_seconds=args.archive_poll_ms / 1000,
                drain_seconds=drain if archive else min(drain, 30.0),
                connections=args.connections,
                archive=archive,
                worker_pid=worker.process.pid,
            )
            print(
                f"worker pid {worker.process.pid}, ingest pid {ingest.pid}; {args.warmup:g} s warm-up, then "
                f"{args.seconds:g} s at {args.rate:g} callbacks/s with {plan.marker_count} markers ...",
                flush=True,
            )
            cost_ms = scrape_cost(worker, args.poll_ms / 1000)
            cpu_before = {"worker": cpu_seconds(worker.process.pid), "ingest": cpu_seconds(ingest.pid)}
            started = time.monotonic()
            budget = args.warmup + args.seconds + drain + 120
            obs = uvloop.run(asyncio.wait_for(measure(plan), budget))
            elapsed = time.monotonic() - started
            cpu = {  # CPU seconds over the measurement (warm-up, load and drain)
                "worker": cpu_seconds(worker.process.pid) - cpu_before["worker"],
                "ingest": cpu_seconds(ingest.pid) - cpu_before["ingest"],
                "elapsed": elapsed,
                "scrape_ms": cost_ms,
            }
            alive = worker.process.poll() is None and ingest.poll() is None
        finally:
            if ingest is not None:
                stop_process(ingest)
            worker.stop()
        # Read before the temporary directory goes; the worker warns once per stall (streams/app.py).
        worker_log = worker.log.read_text(errors="replace") if worker.log.exists() else ""
        obs.worker_stalls = worker_log.count("event loop stalled")
    if not alive:
        print(
            f"a process exited during the run; the worker's log ends:\n{worker_log[-3000:]}", file=sys.stderr
        )
        return None
    return report(obs, plan, args, cpu, load_start)


def report(
    obs: Observations, plan: Plan, args: argparse.Namespace, cpu: dict[str, float], load_start: float
) -> str:
    """Prints one run's figures beside its anchors, then its `RESULT` line; returns the goal's verdict."""
    markers = list(obs.markers.values())
    if args.per_marker:
        print(
            "\nmarker  partition  offset   sent(s)  answered  consumed  /metrics  archive   (ms after sent)"
        )
        for m in markers:
            since = [
                f"{(t - m.sent) * 1000:9.0f}" if t is not None else f"{'-':>9}"
                for t in (m.answered, m.consumed, m.on_metrics, m.archived)
            ]
            print(
                f"{m.index:6d}  {m.partition!s:>9}  {m.offset!s:>6}  {m.sent - obs.measured_from:8.2f}",
                *since,
            )
    answered = [m.answered - m.sent for m in markers if m.answered is not None and m.code == 200]
    consumed = [m.consumed - m.sent for m in markers if m.consumed is not None]
    on_metrics = [m.on_metrics - m.sent for m in markers if m.on_metrics is not None]
    archived = [m.archived - m.sent for m in markers if m.archived is not None]
    behind_ack = [m.on_metrics - m.answered for m in markers if m.on_metrics is not None and m.answered]
    measured = max(1e-9, obs.measured_until - obs.measured_from)
    answered_ok = obs.load_codes.get(200, 0)
    load_end = os.getloadavg()[0]
    print(f"\nload: {answered_ok} of {obs.load_sent} answered 200 ({answered_ok / measured:.0f}/s), codes "
          f"{obs.load_codes}; markers: {len(markers)} sent, {len(answered)} answered 200")  # fmt: skip
    print("\nfrom the post (request written) until ...")
    print(f"  ingest answers (durable)     {_figures(answered)}   [markers]")
    print(f"  ingest answers, whole load   {_figures(obs.load_latencies)}   [from each due time]")
    print(f"  a raw consumer returns it    {_figures(consumed)}   seen {len(consumed)}/{len(markers)}")
    print(f"  worker /metrics shows it     {_figures(on_metrics)}   seen {len(on_metrics)}/{len(markers)}")
    if plan.archive:
        print(f"  the archive holds it         {_figures(archived)}   seen {len(archived)}/{len(markers)}")
    else:
        print("  the archive holds it         (the archive sink is off in this run)")
    print(f"  (/metrics after ingest's answer: {_figures(behind_ack)})")
    print("\nanchors:")
    print(f"  worker settings: snapshot every {args.snapshot_seconds:g} s (state writes; /metrics is "
          f"updated as each fetched batch is processed), archive flush {args.archive_flush_seconds:g} s "
          f"(an event reaches the archive when its block of {_DEFAULTS['archive_block_events'].default} "
          f"events is full or this long after the block's last write), fetch batch <= "
          f"{_DEFAULTS['batch_max_records'].default} records")  # fmt: skip
    unreadable = obs.archive_errors or "never"
    print(f"  /metrics polled every {args.poll_ms:g} ms, one scrape {_figures(obs.scrape_seconds)} "
          f"({obs.scrape_errors} failed); archive read every {args.archive_poll_ms:g} ms, one read "
          f"{_figures(obs.archive_reads)}; unreadable at that moment: {unreadable}")  # fmt: skip
    lag = obs.worker_lag
    print(f"  the worker's own lag on the raw topic while loaded (smsc_stream_consumer_lag_records): p50 "
          f"{percentile(lag, 50):.0f}, p99 {percentile(lag, 99):.0f}, max {max(lag, default=0):.0f} records "
          f"(p99 / rate = {percentile(lag, 99) / args.rate:.2f} s); event-loop stalls in its log: "
          f"{obs.worker_stalls}")  # fmt: skip
    loaded = obs.scrapes_hidden + len(lag)
    poll_share = cpu["scrape_ms"] / args.poll_ms
    print(f"  scrapes while loaded: {loaded}, one every {measured / max(1, loaded) * 1000:.0f} ms on average "
          f"(a slow answer delays the next); {obs.scrapes_hidden} of them exposed no partition; one scrape "
          f"costs the idle worker {cpu['scrape_ms']:.1f} ms of CPU (measured before the load), so polling "
          f"every {args.poll_ms:g} ms costs it up to {poll_share:.0%} of a core")  # fmt: skip
    posted = int(max(0.0, args.rate - 1 / plan.marker_seconds) * (plan.warmup + plan.seconds)) + len(markers)
    per_callback = cpu["worker"] / max(1, posted)
    loaded_share = obs.worker_cpu_loaded / measured
    worker_share, ingest_share = cpu["worker"] / cpu["elapsed"], cpu["ingest"] / cpu["elapsed"]
    print(f"  CPU: the worker used {loaded_share:.0%} of a core while loaded; over the whole run (warm-up, "
          f"load, drain) worker {worker_share:.0%}, ingest {ingest_share:.0%}"
          f"; the worker's CPU per callback posted {per_callback * 1e6:.0f} µs (whole run), so "
          f"{args.rate:g}/s needs {per_callback * args.rate:.0%} of a core")  # fmt: skip
    print(f"  machine: load average {load_start:.2f} at the start, {load_end:.2f} at the end "
          f"({os.cpu_count()} CPUs)")  # fmt: skip
    p99 = percentile(on_metrics, 99)
    complete = len(on_metrics) == len(markers) == plan.marker_count
    verdict = "PASS" if complete and p99 <= GOAL_METRICS_P99_SECONDS else "MISS"
    print(f"\np99 from the post to /metrics: {p99:.3f} s (goal <= {GOAL_METRICS_P99_SECONDS:g} s): {verdict}"
          + ("" if complete else "  (not every marker reached /metrics)"))  # fmt: skip
    result = {
        "archive": plan.archive,
        "rate": args.rate,
        "seconds": args.seconds,
        "markers": plan.marker_count,
        "markers_answered": len(answered),
        "markers_consumed": len(consumed),
        "markers_on_metrics": len(on_metrics),
        "markers_archived": len(archived),
        "load_sent": obs.load_sent,
        "load_ok": answered_ok,
        "answer_p50_s": percentile(answered, 50),
        "answer_p99_s": percentile(answered, 99),
        "load_answer_p99_s": percentile(obs.load_latencies, 99),
        "consumed_p50_s": percentile(consumed, 50),
        "consumed_p99_s": percentile(consumed, 99),
        "metrics_p50_s": percentile(on_metrics, 50),
        "metrics_p99_s": p99,
        "archive_p50_s": percentile(archived, 50),
        "archive_p99_s": percentile(archived, 99),
        "worker_lag_p99_records": percentile(obs.worker_lag, 99),
        "worker_stalls": obs.worker_stalls,
        "worker_cpu_us_per_callback": per_callback * 1e6,
        "worker_cpu_share_loaded": loaded_share,
        "scrape_cpu_ms": cpu["scrape_ms"],
        "snapshot_seconds": args.snapshot_seconds,
        "archive_flush_seconds": args.archive_flush_seconds,
        "load_average": [load_start, load_end],
        "goal": verdict,
    }
    print("RESULT " + json.dumps(result), flush=True)
    return verdict


if __name__ == "__main__":
    sys.exit(main())
