"""Running real stream workers against the real broker, feeding them, and reading their /metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from embedded_broker.broker import free_port
from simulator import SimulatedCallback, Truth
from smsc.raw_record import RawRecord

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class Topics:
    raw: str
    events: str
    dead: str
    app_id: str
    #: The HLR sharing topic; by default the test's own (`hlr_topic`): no answers leak between tests.
    hlr: str | None = None

    @property
    def hlr_topic(self) -> str:
        return self.hlr if self.hlr is not None else f"hlr.{self.app_id}"


async def _produce(bootstrap: str, topic: str, callbacks: Sequence[SimulatedCallback]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        deliveries = []
        for index, callback in enumerate(callbacks):
            record = RawRecord(
                body=callback.body,
                query_string=callback.query_string.encode("ascii"),
                content_type=callback.content_type,
                account=callback.account,
                received_at_ns=int(callback.sent_at * 1e9),
                remote_addr="127.0.0.1",
                request_id=f"test-{index}",
            )
            deliveries.append(
                await producer.send(
                    topic, record.body, key=callback.key.encode(), headers=record.to_headers()
                )
            )
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, callbacks: Sequence[SimulatedCallback]) -> None:
    asyncio.run(asyncio.wait_for(_produce(bootstrap, topic, callbacks), 120))


def read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, dict[str, str], int]]:
    """(value, headers, partition) of a topic's records, from its beginning until `expected` (or 30 s)."""

    async def run() -> list[tuple[bytes, dict[str, str], int]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        found: list[tuple[bytes, dict[str, str], int]] = []
        try:
            deadline = time.monotonic() + 30
            while len(found) < expected and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        headers = {name: value.decode("utf-8", "replace") for name, value in record.headers}
                        found.append((record.value or b"", headers, record.partition))
        finally:
            await consumer.stop()
        return found

    return asyncio.run(run())


def worker_env(bootstrap: str, topics: Topics, data_dir: Path, port: int) -> dict[str, str]:
    """A test worker's settings: its own topics and group, 1 s snapshots, and an archive under `data_dir`
    (shared by the workers of a test, never the repository's ./data/archive)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SMSC_WORKER_APP_ID": topics.app_id,
        "SMSC_WORKER_RAW_TOPIC": topics.raw,
        "SMSC_WORKER_EVENTS_TOPIC": topics.events,
        "SMSC_WORKER_DEAD_TOPIC": topics.dead,
        "SMSC_WORKER_HLR_TOPIC": topics.hlr_topic,
        "SMSC_WORKER_WEB_PORT": str(port),
        "SMSC_WORKER_DATA_DIR": str(data_dir / f"worker-{port}"),
        "SMSC_WORKER_SNAPSHOT_INTERVAL_SECONDS": "1",
        "SMSC_ARCHIVE_ROOT": str(data_dir / "archive"),
        "SMSC_WORKER_ARCHIVE_FLUSH_SECONDS": "1",
    }


class Worker:
    """`smsc-analytics worker` as a subprocess: stopped with a deadline, killed after it, never left over."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        data_dir: Path,
        extra_env: dict[str, str] | None = None,
        *,
        port: int | None = None,  # one chosen up front: a replacement at the same port is the same target
    ) -> None:
        self.port = free_port() if port is None else port
        env = {**os.environ, **worker_env(bootstrap, topics, data_dir, self.port), **(extra_env or {})}
        self.log = data_dir / f"worker-{self.port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "smsc_analytics.cli", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def scrape_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def scrape(self) -> Series:
        text = self.scrape_text()
        series: Series = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return series

    def try_scrape(self) -> Series | None:
        try:
            return self.scrape()
        except OSError:
            return None

    def stop(self, timeout_seconds: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def suspend(self) -> None:
        """SIGSTOP: the process stops mid-whatever, as in a VM pause or a starved host."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextmanager
def workers(
    count: int, bootstrap: str, topics: Topics, data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[list[Worker]]:
    started = [Worker(bootstrap, topics, data_dir, extra_env) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.resume()  # a stopped process never handles the SIGTERM
            worker.stop()


def processed(series: Series) -> int:
    """Every raw record a worker has applied shows up in exactly one of these counters."""
    counted = ("smsc_status_callbacks_total", "smsc_incoming_messages_total", "smsc_call_confirmations_total",
               "smsc_callbacks_duplicate_total", "smsc_callbacks_dead_total")  # fmt: skip
    return int(sum(value for (name, _), value in series.items() if name in counted))


def remembered(worker: Worker) -> float:
    """The numbers whose HLR network the worker remembers (0 while /metrics does not answer)."""
    series = worker.try_scrape() or {}
    return sum(value for (name, _), value in series.items() if name == "smsc_hlr_numbers_remembered")


def summed(scrapes: Sequence[Series]) -> Series:
    total: Series = {}
    for series in scrapes:
        for key, value in series.items():
            if key[0].startswith("smsc_") and not key[0].startswith("smsc_streams_"):
                total[key] = total.get(key, 0.0) + value
    return total


def wait_for(predicate: object, what: str, timeout_seconds: float, workers_: Sequence[Worker]) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        for worker in workers_:
            assert worker.process.poll() is None, f"worker exited: {worker.log_tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: " + "\n".join(
            w.log_tail() for w in workers_
        )
        time.sleep(0.5)


def over_partitions(series: Series) -> Series:
    """The scrape with the `partition` label of the aggregates' series summed away: what the truth counts
    (its totals know no partition). The progress gauges keep theirs: it is one of their own labels."""
    from streams.contract import METRICS, PARTITION

    per_partition = {spec.name for spec in METRICS if spec.per_partition}
    total: Series = {}
    for (name, labels), value in series.items():
        if name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") in per_partition:
            labels = tuple(pair for pair in labels if pair[0] != PARTITION)
        total[(name, labels)] = total.get((name, labels), 0.0) + value
    return total


def mismatches(truth: Truth, series: Series) -> list[str]:
    """Every counter and histogram of the truth against the scrape, summed over partitions: an empty list
    means exact."""
    series = over_partitions(series)
    problems = []
    for metric, values in truth.values.items():
        spec_labels = _labels_of(metric)
        if metric in ("smsc_cohort_messages", "smsc_cohort_delivered"):
            continue  # relative to the wall clock; the generated workload lies in the past
        sample_name = metric
        for labels, expected in values.items():
            key = (sample_name, tuple(sorted(zip(spec_labels, labels, strict=True))))
            got = Decimal(str(series.get(key, 0.0)))
            if abs(got - expected) > Decimal("0.000001"):
                problems.append(
                    f"{metric}{dict(zip(spec_labels, labels, strict=True))}: expected {expected}, got {got}"
                )
    for metric, observed in truth.observed.items():
        spec_labels = _labels_of(metric)
        for labels, observations in observed.items():
            pairs = tuple(sorted(zip(spec_labels, labels, strict=True)))
            count = series.get((f"{metric}_count", pairs), 0.0)
            total = series.get((f"{metric}_sum", pairs), 0.0)
            if count != len(observations) or abs(total - sum(observations)) > 1e-6:
                problems.append(
                    f"{metric}{pairs}: expected {len(observations)}/{sum(observations)}, got {count}/{total}"
                )
    return problems


def _labels_of(metric: str) -> tuple[str, ...]:
    from streams.contract import BY_NAME

    return BY_NAME[metric].labels


class Scraper:
    """Scrapes workers every `interval` seconds on a thread, as Prometheus would, and keeps every counter
    or histogram series of the aggregates that ever went down (series = name + labels + worker)."""

    def __init__(self, workers_: Sequence[Worker], interval: float = 0.5) -> None:
        from streams.contract import METRICS, MetricType

        self._workers = list(workers_)
        self._interval = interval
        self._monotonic = {spec.name for spec in METRICS if spec.type is not MetricType.GAUGE}
        self._last: dict[tuple[int, str, tuple[tuple[str, str], ...]], float] = {}
        self.decreases: list[str] = []
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def add(self, worker: Worker) -> None:
        self._workers = [*self._workers, worker]

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for worker in self._workers:
                scrape = worker.try_scrape()  # None while it is stopped or gone: no sample, as in Prometheus
                if scrape is None:
                    continue
                self.scrapes += 1
                for (name, labels), value in scrape.items():
                    base = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
                    if base not in self._monotonic:
                        continue
                    key = (worker.port, name, labels)
                    was = self._last.get(key)
                    if was is not None and value < was:
                        self.decreases.append(f"worker {worker.port} {name}{dict(labels)}: {was} -> {value}")
                    self._last[key] = value
