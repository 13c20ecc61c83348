"""How fast is ingest beside its limit, its floor and its peer? req/s, CPU per request, p99 at 5,000/s.

One command, loopback only, about 4 minutes with the defaults:

    .venv/bin/python -m benchmarks.ingest_throughput            # --seconds, --rounds, --rate, --anchors

It starts the embedded broker, then runs four servers one after the other, each under the same uvicorn
settings (httptools, uvloop, one process, no access log), each storing on a topic of its own:

  bare     the bare ASGI app: reads the body, answers 200 (benchmarks/ingest_bare_app.py): the limit
  floor    bare + publish through ingest's own producer, nothing else (benchmarks/ingest_floor_app.py):
           the floor with a maintained client
  fastapi  FastAPI + aiokafka `send_and_wait`, as a typical user writes it
           (benchmarks/ingest_fastapi_peer.py): the peer
  ingest   `smsc-analytics ingest --workers 1` with its defaults

Each gets a warm-up, a closed-loop wrk run (32 connections, realistic bodies: every kind × format ×
charset, benchmarks/ingest_bodies.py) for req/s and the server's CPU per request, then an open-loop run at
a steady rate (benchmarks/ingest_loadgen.py) for p99. Afterwards the records on its topic are counted:
a server that stored fewer records than it answered 2xx for is reported as LOSING RECORDS, the goals
against it are void and the script exits 1.
With several rounds the order alternates (bare..ingest, then ingest..bare) so that a machine getting
busier or quieter weighs on every server alike; ratios are taken within a round, and the medians judged.

Goals: ingest >= 2.0 x the FastAPI peer's req/s; ingest >= 0.8 x the floor's req/s; ingest's p99 <= 10 ms
at a steady 5,000 req/s (every request answered 200). The machine is shared by the load generators, the
broker and the server: compare figures of one run, and CPU per request across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.ingest_bodies import realistic_requests
from embedded_broker import EmbeddedBroker

ROOT = Path(__file__).resolve().parent.parent
WRK_MISSING = """wrk is not installed. On Debian/Ubuntu:
    apt-get update && apt-get install -y wrk
then run this benchmark again."""
FASTAPI_MISSING = """the FastAPI peer needs fastapi: pip install 'smsc-analytics[bench]'
(or leave it out: --anchors bare floor ingest)"""

#: ingest's req/s at least this many times the FastAPI peer's.
GOAL_PEER: Final = 2.0
#: ingest's req/s at least this fraction of the floor's (bare + the same producer).
GOAL_FLOOR: Final = 0.8
#: ingest's p99 at a steady GOAL_RATE requests/s, in milliseconds.
GOAL_P99_MS: Final = 10.0
GOAL_RATE: Final = 5000

UVICORN_OPTIONS: Final = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
]


@dataclass(frozen=True)
class Anchor:
    key: str
    label: str
    #: the server's command line, given its port
    command: Callable[[int], list[str]]
    #: whether it stores each callback (the bare app stores nothing)
    stores: bool


def _uvicorn(*target: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-m", "uvicorn", *target, "--port", str(port), *UVICORN_OPTIONS]


def _ingest(port: int) -> list[str]:
    return [sys.executable, "-m", "smsc_analytics.cli", "ingest", "--port", str(port), "--workers", "1"]


ANCHORS: Final = {
    anchor.key: anchor
    for anchor in (
        Anchor("bare", "bare ASGI app", _uvicorn("benchmarks.ingest_bare_app:app"), stores=False),
        Anchor("floor", "bare + producer", _uvicorn("benchmarks.ingest_floor_app:create", "--factory"), True),
        Anchor("fastapi", "FastAPI + aiokafka", _uvicorn("benchmarks.ingest_fastapi_peer:app"), True),
        Anchor("ingest", "ingest", _ingest, stores=True),
    )
}

LUA_TEMPLATE = """
local bodies = {%(bodies)s}
local types = {%(types)s}
local prepared = {}
local i = 0
init = function(args)
  -- Formatted once: formatting in request() would make wrk itself the bottleneck.
  for n = 1, #bodies do
    prepared[n] = wrk.format("POST", nil, {["Content-Type"] = types[n]}, bodies[n])
  end
end
request = function()
  i = i %% #prepared + 1
  return prepared[i]
end
done = function(summary, latency, requests)
  io.write(string.format("PERCENTILES_US p50=%%d p99=%%d\\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("STATUS_ERRORS %%d\\n", summary.errors.status))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str


@dataclass(frozen=True)
class SteadyResult:
    """The open-loop run (benchmarks/ingest_loadgen.py)."""

    sent: int
    answered: int
    ok: int
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    codes: dict[str, int]


@dataclass(frozen=True)
class Run:
    """One server, one round."""

    closed: WrkResult
    cpu_us_per_request: float
    steady: SteadyResult
    #: share of one core the server used at the steady rate
    steady_cpu: float
    #: answered 2xx/200 over the warm-up and both runs
    ok_answers: int
    #: records on its topic afterwards; None when it stores nothing
    stored: int | None

    @property
    def losing(self) -> bool:
        return self.stored is not None and self.stored < self.ok_answers


def _lua_string(data: bytes) -> str:
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'\\"' else f"\\{b:03d}" for b in data) + '"'


def write_lua_script(directory: Path) -> Path:
    requests = realistic_requests()
    path = directory / "ingest_post.lua"
    path.write_text(
        LUA_TEMPLATE
        % {
            "bodies": ", ".join(_lua_string(request.body) for request in requests),
            "types": ", ".join(_lua_string(request.content_type.encode()) for request in requests),
        },
        encoding="ascii",
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_seconds} s")


@contextmanager
def server(
    command: list[str], port: int, env: dict[str, str], start_timeout_seconds: float = 30
) -> Iterator[int]:
    """Runs the server until the block ends; yields its process id (one process: the one that serves).
    Stopped by its PID: SIGTERM (a graceful shutdown), SIGKILL if it is not gone 30 s later."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, start_timeout_seconds)
        yield process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wrk(port: int, lua: Path, connections: int, seconds: int) -> WrkResult:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}/smsc/callback",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"wrk's output has no {pattern!r}:\n{out}")
        return match

    p50, p99 = find(r"PERCENTILES_US p50=(\d+) p99=(\d+)").groups()
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        int(find(r"(\d+) requests in").group(1)),
        float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
        int(p50) / 1000,
        int(p99) / 1000,
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(1) if errors else "",
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far (Linux /proc; 0 elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_loop(port: int, rate: int, seconds: int) -> SteadyResult:
    command = [sys.executable, "-m", "benchmarks.ingest_loadgen", "--port", str(port)]
    command += ["--rate", str(rate), "--seconds", str(seconds)]
    # The load generator gives up 30 s after the last request is due; this bounds it if it hangs.
    out = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    codes = {str(code): int(count) for code, count in result["codes"].items()}
    return SteadyResult(
        sent=int(result["sent"]),
        answered=int(result["answered"]),
        ok=codes.get("200", 0),
        achieved_rps=float(result["achieved_rps"]),
        p50_ms=float(result["p50_ms"]),
        p99_ms=float(result["p99_ms"]),
        max_ms=float(result["max_ms"]),
        codes=codes,
    )


def stored_records(bootstrap: str, topic: str, timeout_seconds: float = 30) -> int:
    """How many records the topic holds (end minus beginning offsets over its partitions)."""

    async def count() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        async with asyncio.timeout(timeout_seconds):
            await producer.start()
            try:
                await consumer.start()
                try:
                    partitions = [TopicPartition(topic, p) for p in await producer.partitions_for(topic)]
                    ends = await consumer.end_offsets(partitions)
                    beginnings = await consumer.beginning_offsets(partitions)
                    return sum(ends[p] - beginnings[p] for p in partitions)
                finally:
                    await consumer.stop()
            finally:
                await producer.stop()

    return asyncio.run(count())


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {system}"


@dataclass(frozen=True)
class Setup:
    bootstrap: str
    lua: Path
    connections: int
    seconds: int
    warmup: int
    rate: int


def server_environment(bootstrap: str, topic: str) -> dict[str, str]:
    """Every server reads the environment ingest reads: the broker, the topic it stores on, no accounts."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SMSC_INGEST_RAW_TOPIC": topic,
        "SMSC_INGEST_REJECTED_TOPIC": f"{topic}.rejected",
        "SMSC_INGEST_LOG_LEVEL": "warning",
        "SMSC_ACCOUNT_SECRETS": "",
    }


def measure(anchor: Anchor, setup: Setup, round_number: int) -> Run:
    """One server: start it on its own topic, warm it up, the closed- then the open-loop run, stop it,
    count what it stored."""
    port = free_port()
    topic = f"bench.ingest.{anchor.key}.r{round_number}.{uuid.uuid4().hex[:8]}"
    ok_answers = 0
    with server(anchor.command(port), port, server_environment(setup.bootstrap, topic)) as pid:
        if setup.warmup:
            # Connections, topic metadata, the producer's first batches, the interpreter's caches.
            warm = wrk(port, setup.lua, setup.connections, setup.warmup)
            ok_answers += warm.requests - warm.non_2xx
        cpu_before = cpu_seconds(pid)
        closed = wrk(port, setup.lua, setup.connections, setup.seconds)
        cpu = cpu_seconds(pid) - cpu_before
        ok_answers += closed.requests - closed.non_2xx
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        steady = open_loop(port, setup.rate, setup.seconds)
        steady_cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
        ok_answers += steady.ok
    stored = stored_records(setup.bootstrap, topic) if anchor.stores else None
    return Run(
        closed,
        cpu / max(1, closed.requests) * 1e6,
        steady,
        steady_cpu,
        ok_answers,
        stored,
    )


def _print_run(anchor: Anchor, run: Run, setup: Setup) -> None:
    closed, steady = run.closed, run.steady
    stored = "" if run.stored is None else f"  stored {run.stored} for {run.ok_answers} answered 2xx"
    print(
        f"  {anchor.label:19} {closed.requests_per_second:8.0f} req/s"
        f"  {run.cpu_us_per_request:6.1f} µs CPU/req"
        f"  wrk p50 {closed.p50_ms:.2f} p99 {closed.p99_ms:.2f} ms  non-2xx {closed.non_2xx}"
        f"  {closed.socket_errors}"
    )
    print(
        f"  {'':19} at {setup.rate}/s: achieved {steady.achieved_rps:.0f}, p50 {steady.p50_ms:.2f} ms,"
        f" p99 {steady.p99_ms:.2f} ms, max {steady.max_ms:.1f} ms, answered {steady.answered}/{steady.sent},"
        f" codes {steady.codes}, server CPU {run.steady_cpu:.0%} of a core{stored}"
        + ("  LOSING RECORDS" if run.losing else "")
    )


def _steady_complete(run: Run) -> bool:
    return run.steady.ok == run.steady.sent


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _figures(values: Sequence[float], spec: str) -> str:
    """The median, and each round's figure when there are several."""
    median = format(_median(values), spec)
    return median if len(values) == 1 else f"{median} ({', '.join(format(v, spec) for v in values)})"


def _ratios(runs: Sequence[Run], others: Sequence[Run]) -> list[float]:
    """req/s of `runs` over `others`, round by round."""
    return [
        r.closed.requests_per_second / o.closed.requests_per_second for r, o in zip(runs, others, strict=True)
    ]


def summarize(results: dict[str, list[Run]], rate: int) -> None:
    """The table of medians, then the goals with PASS or MISS."""
    rounds = len(next(iter(results.values())))
    print(f"\nmedians over {rounds} round{'s' * (rounds > 1)} (ratios taken within each round):\n")
    print(
        f"  {'':19} {'req/s':>8}  {'x bare':>6}  {'µs CPU/req':>10}  {'wrk p99':>8}  "
        f"{f'p99 @{rate}/s':>12}  {f'CPU @{rate}/s':>12}  stored"
    )
    bare = results.get("bare")
    for key, runs in results.items():
        anchor = ANCHORS[key]
        x_bare = f"{_median(_ratios(runs, bare)):6.2f}" if bare else f"{'-':>6}"
        incomplete = "" if all(_steady_complete(run) for run in runs) else "*"
        stored = "-"
        if anchor.stores:
            stored = "LOSING RECORDS" if any(run.losing for run in runs) else "all it answered 2xx for"
        print(
            f"  {anchor.label:19} {_median([run.closed.requests_per_second for run in runs]):8.0f}  {x_bare}"
            f"  {_median([run.cpu_us_per_request for run in runs]):10.1f}"
            f"  {_median([run.closed.p99_ms for run in runs]):5.2f} ms"
            f"  {_median([run.steady.p99_ms for run in runs]):8.2f} ms{incomplete:1}"
            f"  {_median([run.steady_cpu for run in runs]):12.0%}  {stored}"
        )
    if any(not _steady_complete(run) for runs in results.values() for run in runs):
        print(f"  * not every request at {rate}/s was answered 200 in every round (see the runs above)")

    print("\ngoals:")
    ingest = results.get("ingest")
    for key, goal, what in (
        ("fastapi", GOAL_PEER, "the FastAPI peer"),
        ("floor", GOAL_FLOOR, "the floor (bare + producer)"),
    ):
        other = results.get(key)
        if ingest is None or other is None:
            print(f"  ingest / {what}: not measured (--anchors)")
            continue
        ratios = _ratios(ingest, other)
        cpu_ratios = [o.cpu_us_per_request / i.cpu_us_per_request for i, o in zip(ingest, other, strict=True)]
        void = any(run.losing for run in (*ingest, *other))
        verdict = "PASS" if _median(ratios) >= goal and not void else "MISS"
        print(
            f"  ingest / {what}: {_figures(ratios, '.2f')} x its req/s, goal >= {goal:.1f}: {verdict}"
            + ("  (void: a server lost records)" if void else "")
            + f"   [the same ratio by server CPU per request: {_figures(cpu_ratios, '.2f')}]"
        )
    if ingest is None:
        print(f"  ingest p99 at {rate}/s: not measured (--anchors)")
        return
    p99s = [run.steady.p99_ms for run in ingest]
    complete = all(_steady_complete(run) for run in ingest)
    verdict = "PASS" if rate >= GOAL_RATE and _median(p99s) <= GOAL_P99_MS and complete else "MISS"
    print(
        f"  ingest p99 at {rate}/s: {_figures(p99s, '.2f')} ms, goal <= {GOAL_P99_MS:.0f} ms: {verdict}"
        + ("" if complete else "  (not every request answered 200)")
        + ("" if rate >= GOAL_RATE else f"  (the goal is at {GOAL_RATE}/s)")
    )
    anchors = [
        f"{ANCHORS[key].label} {_figures([run.steady.p99_ms for run in runs], '.2f')} ms"
        for key, runs in results.items()
        if key != "ingest"
    ]
    if anchors:
        print(f"  the anchors' p99 at {rate}/s, for reference: {'; '.join(anchors)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of each measured run, closed and open loop (1-30; 10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of all servers, order alternating (1-5; 2)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before measuring (0-10; 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--rate", type=int, default=GOAL_RATE, help=f"requests/s of the open-loop run (default {GOAL_RATE})"
    )
    parser.add_argument(
        "--anchors",
        nargs="+",
        choices=list(ANCHORS),
        default=list(ANCHORS),
        metavar="NAME",
        help=f"servers to run, among {', '.join(ANCHORS)} (default: all; goals need theirs)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 30:
        parser.error("--seconds must be between 1 and 30")
    if not 1 <= args.rounds <= 5:
        parser.error("--rounds must be between 1 and 5")
    if not 0 <= args.warmup <= 10:
        parser.error("--warmup must be between 0 and 10")
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    if "fastapi" in args.anchors and find_spec("fastapi") is None:
        print(FASTAPI_MISSING, file=sys.stderr)
        return 2
    keys = [key for key in ANCHORS if key in args.anchors]

    estimate = args.rounds * len(keys) * (args.warmup + 2 * args.seconds + 4)
    print(f"machine: {machine()}")
    print(f"about {estimate // 60} min {estimate % 60} s: {args.rounds} round(s) of {', '.join(keys)}")
    results: dict[str, list[Run]] = {key: [] for key in keys}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        setup = Setup(
            broker.bootstrap_servers,
            write_lua_script(Path(tmp)),
            args.connections,
            args.seconds,
            args.warmup,
            args.rate,
        )
        for round_number in range(1, args.rounds + 1):
            print(f"\nround {round_number} (load average {os.getloadavg()[0]:.2f}):")
            for key in keys if round_number % 2 else reversed(keys):
                run = measure(ANCHORS[key], setup, round_number)
                results[key].append(run)
                _print_run(ANCHORS[key], run, setup)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    summarize(results, args.rate)
    # A server that lost records makes every ratio with it meaningless: fail loudly, not just in the table.
    return 1 if any(run.losing for runs in results.values() for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
