"""How fast is ingest beside the bare stack? requests/s, p50/p99, and p99 at a steady 5,000 req/s.

One command, about a minute, loopback only:

    .venv/bin/python -m benchmarks.ingest_throughput

It starts the embedded broker, then, one after the other on the same server settings (uvicorn,
httptools, uvloop, one worker process): a bare ASGI app that only answers 200 (the anchor: the
physical limit of the stack), and `smsc-analytics ingest` storing every callback with acks=all. With
`--floor`, two anchors in between (benchmarks/ingest_floor_app.py): the bare app storing each body, and
that plus the message key and the record headers.
Each gets the same closed-loop wrk run with realistic bodies (every kind × format × charset), then
an open-loop run at a fixed rate (benchmarks/ingest_loadgen.py). Goals (issue 3): ingest ≥ 0.5 × the
bare app's requests/s, and p99 ≤ 10 ms at 5,000 req/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.ingest_bodies import realistic_requests
from embedded_broker import EmbeddedBroker

ROOT = Path(__file__).resolve().parent.parent
WRK_MISSING = """wrk is not installed. On Debian/Ubuntu:
    apt-get update && apt-get install -y wrk
then run this benchmark again."""

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
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_seconds: float = 20) -> None:
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
def server(command: list[str], port: int, env: dict[str, str]) -> Iterator[int]:
    """Runs the server; yields its process id (one worker: the process that serves)."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield process.pid
    finally:
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
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50, p99 = re.search(r"PERCENTILES_US p50=(\d+) p99=(\d+)", out).groups()  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        rps,
        int(p50) / 1000,
        int(p99) / 1000,
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(1) if errors else "",
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_loop(port: int, rate: int, seconds: int) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ingest_loadgen",
            "--port",
            str(port),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run (max 30)")
    parser.add_argument("--rate", type=int, default=5000, help="requests/s of the open-loop run")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run two anchors between the bare app and ingest (benchmarks/ingest_floor_app.py): "
        "the bare app storing each body through ingest's publisher (what the record costs alone), and "
        "that plus the message key and the record headers (the least the record contract needs)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 30:
        parser.error("--seconds must be between 1 and 30 (the whole benchmark stays within ~3 minutes)")
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2

    print(f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.2f}")
    results: dict[str, tuple[WrkResult, dict[str, object]]] = {}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        lua = write_lua_script(Path(tmp))
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "SMSC_INGEST_LOG_LEVEL": "warning",
            "SMSC_ACCOUNT_SECRETS": "",
        }
        uvicorn_options = [
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        anchors = {
            "bare ASGI app": ["benchmarks.ingest_bare_app:app"],
            "bare + publish": ["benchmarks.ingest_floor_app:create", "--factory"],
            "+ key, headers": ["benchmarks.ingest_floor_app:create_keyed", "--factory"],
        }
        names = (*anchors, "ingest") if args.floor else ("bare ASGI app", "ingest")
        for name in names:
            port = _free_port()
            if name == "ingest":
                command = [
                    sys.executable,
                    "-m",
                    "smsc_analytics.cli",
                    "ingest",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                ]
            else:
                target = anchors[name]
                command = [sys.executable, "-m", "uvicorn", *target, "--port", str(port), *uvicorn_options]
            with server(command, port, env) as pid:
                wrk(port, lua, args.connections, 2)  # warm-up: connections, topic metadata, caches
                cpu_before = cpu_seconds(pid)
                closed = wrk(port, lua, args.connections, args.seconds)
                cpu = cpu_seconds(pid) - cpu_before
                steady = open_loop(port, args.rate, args.seconds)
            results[name] = (closed, steady)
            # CPU per request of the server process: steadier than req/s when the machine is shared.
            cpu_us = cpu / max(1.0, closed.requests_per_second * args.seconds) * 1e6
            print(
                f"{name:14} wrk -c{args.connections}: {closed.requests_per_second:9.0f} req/s  "
                f"p50 {closed.p50_ms:6.2f} ms  p99 {closed.p99_ms:6.2f} ms  non-2xx {closed.non_2xx}  "
                f"server CPU {cpu_us:5.1f} µs/request  {closed.socket_errors}"
            )
            print(
                f"{'':14} open loop {args.rate}/s: achieved {steady['achieved_rps']:.0f} req/s  "
                f"p50 {steady['p50_ms']:.2f} ms  p99 {steady['p99_ms']:.2f} ms  "
                f"p99.9 {steady['p999_ms']:.2f} ms  "
                f"max {steady['max_ms']:.2f} ms  codes {steady['codes']}"
            )

    bare, ingest = results["bare ASGI app"][0], results["ingest"][0]
    ratio = ingest.requests_per_second / bare.requests_per_second
    p99 = float(str(results["ingest"][1]["p99_ms"]))
    if args.floor:
        floor = results["bare + publish"][0].requests_per_second / bare.requests_per_second
        keyed = results["+ key, headers"][0].requests_per_second / bare.requests_per_second
        print(f"ratio bare + publish / bare app: {floor:.2f}  (what storing the record alone costs)")
        print(f"ratio + key, headers / bare app: {keyed:.2f}  (the least the record contract needs)")
    print(f"ratio ingest / bare app: {ratio:.2f}  (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
    print(f"ingest p99 at {args.rate}/s: {p99:.2f} ms  (goal <= 10 ms: {'met' if p99 <= 10 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
