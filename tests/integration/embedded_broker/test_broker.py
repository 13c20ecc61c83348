"""The embedded broker is a real Kafka-protocol broker: records go in and come back out, with headers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from embedded_broker import BrokerError, EmbeddedBroker, kafka_api_versions_ok

pytestmark = pytest.mark.integration


async def _produce_then_consume(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes, int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(
                topic, f"value-{i}".encode(), key=f"key-{i % 3}".encode(), headers=[("n", str(i).encode())]
            )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    received: list[tuple[bytes, bytes, int]] = []
    try:
        deadline = time.monotonic() + 20
        while len(received) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    received.append((record.key, record.value, int(headers["n"])))
    finally:
        await consumer.stop()
    return received


def test_produces_and_consumes_through_the_real_broker(kafka_bootstrap: str, topic_name: str) -> None:
    received = asyncio.run(asyncio.wait_for(_produce_then_consume(kafka_bootstrap, topic_name, 50), 60))
    assert sorted(received, key=lambda r: r[2]) == [
        (f"key-{i % 3}".encode(), f"value-{i}".encode(), i) for i in range(50)
    ]


def test_answers_the_kafka_protocol_and_not_a_closed_port(broker: EmbeddedBroker) -> None:
    assert kafka_api_versions_ok(broker.host, broker.port)
    with EmbeddedBroker() as other:
        port = other.port
    assert not kafka_api_versions_ok("127.0.0.1", port, timeout=0.2)


def test_refuses_a_port_that_is_taken(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match=f"port {broker.port} .* already in use"):
        EmbeddedBroker(port=broker.port).start()


def test_pause_freezes_and_resume_restores(fresh_broker: EmbeddedBroker) -> None:
    fresh_broker.pause()
    assert not kafka_api_versions_ok(fresh_broker.host, fresh_broker.port, timeout=0.3)
    fresh_broker.resume()
    assert kafka_api_versions_ok(fresh_broker.host, fresh_broker.port, timeout=2)


def test_stop_leaves_no_process() -> None:
    broker = EmbeddedBroker().start()
    pid = broker.pid
    assert pid is not None
    broker.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_broker_command_runs_until_sigterm_and_cleans_up() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "smsc_analytics.cli", "broker", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:" in line
        port = int(line.split("127.0.0.1:")[1].split()[0])
        assert kafka_api_versions_ok("127.0.0.1", port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not kafka_api_versions_ok("127.0.0.1", port, timeout=0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def test_a_log_file_is_written_and_readable_on_stop(tmp_path: Path) -> None:
    log = tmp_path / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        assert kafka_api_versions_ok(broker.host, broker.port)
    assert "listening on" in log.read_text()
