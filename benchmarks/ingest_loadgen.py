"""An open-loop HTTP load generator: POSTs at a fixed rate, latency measured from each request's due time.

wrk keeps a fixed number of requests outstanding (closed loop), so a slow answer delays the next request
and hides its own cost (coordinated omission); wrk2, vegeta and oha are not in Debian here. This sends
request i at start + i/rate whatever happened before, over a pool of keep-alive connections; a request
that waits for a free connection counts that wait in its latency. Loopback only, bounded in time.

    python -m benchmarks.ingest_loadgen --port 8080 --rate 5000 --seconds 10   (prints one JSON line)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence

import uvloop

from benchmarks.ingest_bodies import realistic_requests


def _payloads(host: str, port: int, path: str) -> list[bytes]:
    payloads = []
    for request in realistic_requests():
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {request.content_type}\r\n"
            f"Content-Length: {len(request.body)}\r\n\r\n"
        )
        payloads.append(head.encode("ascii") + request.body)
    return payloads


async def _connection(
    host: str,
    port: int,
    queue: asyncio.Queue[tuple[float, bytes] | None],
    latencies: list[float],
    codes: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (item := await queue.get()) is not None:
            due, payload = item
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - due)
            codes[status] = codes.get(status, 0) + 1
    finally:
        writer.close()


async def run(
    host: str, port: int, path: str, rate: float, seconds: float, connections: int
) -> dict[str, object]:
    payloads = _payloads(host, port, path)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    codes: dict[int, int] = {}
    workers = [
        asyncio.create_task(_connection(host, port, queue, latencies, codes)) for _ in range(connections)
    ]
    total = int(rate * seconds)
    start = time.perf_counter()
    sent = 0
    max_backlog = 0
    while sent < total:
        due_now = min(total, int((time.perf_counter() - start) * rate) + 1)
        for i in range(sent, due_now):
            queue.put_nowait((start + i / rate, payloads[i % len(payloads)]))
        sent = due_now
        max_backlog = max(max_backlog, queue.qsize())
        await asyncio.sleep(0.0005)
    for _ in workers:
        queue.put_nowait(None)
    # Bounded: whatever is not answered 30 s after the last request is due counts as missing.
    _, pending = await asyncio.wait(workers, timeout=30)
    for task in pending:
        task.cancel()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def percentile(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "rate": rate,
        "sent": total,
        "answered": len(latencies),
        "codes": codes,
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
        "p999_ms": percentile(99.9),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "max_backlog": max_backlog,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/smsc/callback")
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    if args.seconds > 120:
        parser.error("--seconds is bounded to 120")
    result = uvloop.run(run("127.0.0.1", args.port, args.path, args.rate, args.seconds, args.connections))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
