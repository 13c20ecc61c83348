"""The truth file equals a recount of what the real ingest service stored in the real broker.

The simulator's half of "the truth file equals what the pipeline reports": `smsc-analytics simulate`
posts (with signatures, signature faults, malformed copies, duplicates, reordering) to
`smsc-analytics ingest`, which answers 403/400 to what it refuses; the raw topic read back and recounted
gives exactly the aggregates of the truth file. The stream processors must then report the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from simulator import Truth
from smsc.raw_record import RawRecord

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = "s3cr3t"


@pytest.fixture
def ingest(
    kafka_bootstrap: str, topic_name: str, closed_port: int, tmp_path: Path
) -> Iterator[tuple[str, str, str]]:
    """(callback URL, account, raw topic) of a real ingest process with a fresh account and topics."""
    account = f"sim-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SMSC_ACCOUNT_SECRETS": f"{account}={SECRET}",
        "SMSC_INGEST_PORT": str(closed_port),
        "SMSC_INGEST_RAW_TOPIC": f"{topic_name}.raw",
        "SMSC_INGEST_REJECTED_TOPIC": f"{topic_name}.rejected",
    }
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server's logging
        process = subprocess.Popen(
            [sys.executable, "-m", "smsc_analytics.cli", "ingest"], env=env, stdout=log, stderr=log
        )
    try:
        base = f"http://127.0.0.1:{closed_port}"
        deadline = time.monotonic() + 30
        while not _ready(f"{base}/readyz"):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "ingest did not become ready within 30 s"
            time.sleep(0.1)
        # The first record of a topic waits for the topic to be created: do that before the run, so that
        # no callback is answered late (a request that timed out may still be stored: a duplicate the
        # simulator cannot know of).
        for path, code in ((f"{base}/smsc/callback", 200), (f"{base}/smsc/callback/{account}", 403)):
            while _post(path, b"waitcall=1&phone=79000000000&ts=1740000000") != code:
                assert time.monotonic() < deadline, f"ingest did not answer {code} within 30 s"
                time.sleep(0.2)
        yield f"{base}/smsc/callback", account, f"{topic_name}.raw"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def _read_back(bootstrap: str, topic: str, expected: int) -> list[RawRecord]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[RawRecord] = []
    try:
        deadline = time.monotonic() + 30
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += [RawRecord.from_headers(message.value, message.headers) for message in batch]
    finally:
        await consumer.stop()
    return records


def test_the_truth_file_is_the_recount_of_the_raw_topic(
    ingest: tuple[str, str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    url, account, topic = ingest
    truth_path = tmp_path / "truth.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "smsc_analytics.cli", "simulate", "--url", url, "--account", account),
            *("--secret", SECRET, "--signature", "sha1", "--count", "1500", "--rate", "0", "--seed", "3"),
            *("--retry-interval", "0.2", "--drain-timeout", "1", "--progress-interval", "0"),
            *("--duplicate-ratio", "0.05", "--malformed-ratio", "0.05", "--unsigned-ratio", "0.02"),
            *("--bad-signature-ratio", "0.02", "--out-of-order-ratio", "0.1", "--late-ratio", "0.1"),
            *("--truth", str(truth_path)),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "403: " in result.stdout  # the signature faults were refused, and SMSC-like retried
    document = json.loads(truth_path.read_text(encoding="utf-8"))
    accepted = document["run"]["outcomes"]["accepted"]
    assert document["inputs"]["callbacks"] == accepted
    assert document["inputs"]["dead"] > 0  # malformed copies signed over what they carry were stored

    records = [r for r in asyncio.run(_read_back(kafka_bootstrap, topic, accepted)) if r.account == account]
    assert len(records) == accepted
    recount = Truth.from_callbacks(records).to_json()
    assert recount["metrics"] == document["metrics"]
    assert recount["inputs"] == document["inputs"]
