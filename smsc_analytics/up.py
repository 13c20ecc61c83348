"""`smsc-analytics up`: the whole pipeline on one machine, in the foreground, until Ctrl-C.

Order: the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS names a cluster), a stream worker (it creates
the topics with their partition count, so it comes before anything writes to them), ingest, Prometheus
and Alertmanager when installed, and with --demo the simulator. Stopped in reverse order. While Prometheus
runs, the dashboards are drawn to PNGs in the run directory every few minutes and once at stop.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

from embedded_broker.broker import BrokerError, EmbeddedBroker, free_port, port_in_use
from reports.settings import DEFAULT_ARCHIVE_ROOT
from smsc_analytics import monitoring
from smsc_analytics.summary import Rates, scrape
from smsc_analytics.supervisor import Child, Supervisor

LOOPBACK = "127.0.0.1"
#: Bounds of the start-up: the worker creates topics and starts Faust; ingest asks the broker.
WORKER_START_TIMEOUT_SECONDS = 90.0
INGEST_START_TIMEOUT_SECONDS = 45.0
MONITORING_START_TIMEOUT_SECONDS = 20.0
#: Plain output (not a terminal): one summary line this often.
PLAIN_INTERVAL_SECONDS = 5.0
#: Dashboard PNGs (`smsc-analytics dashboards snapshot`): this often by default, and at stop; the time
#: range drawn is the run so far, within these bounds; one drawing of every dashboard is given this long.
SNAPSHOT_INTERVAL_SECONDS = 300.0
SNAPSHOT_RANGE_SECONDS = (300.0, 3600.0)
SNAPSHOT_TIMEOUT_SECONDS = 60.0

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    refusal = _refuse_taken_ports(args, broker_needed=not external)
    if refusal:
        print(f"smsc-analytics up: {refusal}", file=sys.stderr)
        return EXIT_USAGE

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    run_dir = (
        Path(args.run_dir) if args.run_dir else Path("data/up") / datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _say(f"logs and data of this run: {run_dir}")

    supervisor = Supervisor()
    broker: EmbeddedBroker | None = None
    try:
        if external:
            bootstrap = external
            _say(f"Kafka: using the cluster in KAFKA_BOOTSTRAP_SERVERS={bootstrap} (no embedded broker)")
        else:
            broker = EmbeddedBroker(host=LOOPBACK, port=args.broker_port)
            try:
                broker.start()
            except BrokerError as exc:
                print(f"smsc-analytics up: embedded broker: {exc} (--broker-port)", file=sys.stderr)
                return EXIT_FAILED
            bootstrap = broker.bootstrap_servers
            _say(f"Kafka: embedded broker at {bootstrap} (in memory: data is lost when up stops)")
        return _run(args, bootstrap, run_dir, supervisor, stop)
    finally:
        supervisor.stop_all()
        if broker is not None:
            broker.stop()
        _say("stopped: every child process has exited")


def _run(
    args: argparse.Namespace,
    bootstrap: str,
    run_dir: Path,
    supervisor: Supervisor,
    stop: threading.Event,
) -> int:
    command = [sys.executable, "-m", "smsc_analytics.cli"]
    base_env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PYTHONUNBUFFERED": "1"}
    worker_host = _reachable(os.environ.get("SMSC_WORKER_WEB_HOST", LOOPBACK))
    ingest_host = _reachable(os.environ.get("SMSC_INGEST_HOST", LOOPBACK))
    worker_metrics = f"http://{worker_host}:{args.worker_port}/metrics"
    ingest_base = f"http://{ingest_host}:{args.ingest_port}"

    worker_env = {**base_env, "SMSC_WORKER_WEB_PORT": str(args.worker_port)}
    worker_env.setdefault("SMSC_WORKER_DATA_DIR", str(run_dir / "worker"))
    # Events reach the archive within seconds, so that `smsc-analytics report` shows the demo's messages.
    worker_env.setdefault("SMSC_WORKER_ARCHIVE_FLUSH_SECONDS", "5")
    archive_root = os.environ.get("SMSC_ARCHIVE_ROOT", DEFAULT_ARCHIVE_ROOT)
    worker = supervisor.start(Child("worker", [*command, "worker"], worker_env, run_dir / "worker.log"))
    _say(f"worker started (pid {worker.pid}); waiting for {worker_metrics} ...")
    if not _wait(lambda: _answers(worker_metrics), WORKER_START_TIMEOUT_SECONDS, supervisor, stop):
        return _startup_failed(worker, supervisor, stop, f"{worker_metrics} did not answer")

    ingest_env = {**base_env, "SMSC_INGEST_PORT": str(args.ingest_port)}
    ingest_env.setdefault("SMSC_INGEST_SHUTDOWN_TIMEOUT_SECONDS", "5")
    ingest = supervisor.start(Child("ingest", [*command, "ingest"], ingest_env, run_dir / "ingest.log"))
    _say(f"ingest started (pid {ingest.pid}); waiting for {ingest_base}/readyz ...")
    if not _wait(lambda: _answers(f"{ingest_base}/readyz"), INGEST_START_TIMEOUT_SECONDS, supervisor, stop):
        return _startup_failed(ingest, supervisor, stop, f"{ingest_base}/readyz did not answer 200")

    monitoring_urls = _start_monitoring(args, run_dir, supervisor, stop, ingest_base, worker_metrics)

    snapshots = None
    if "Prometheus" in monitoring_urls and args.snapshot_interval > 0:
        # The config up wrote is JSON (which YAML reads): its scrape interval sizes $__rate_interval.
        scrape = json.loads((run_dir / "prometheus.yml").read_text(encoding="utf-8"))["global"][
            "scrape_interval"
        ]
        snapshots = Snapshots(monitoring_urls["Prometheus"], str(scrape), run_dir, args.snapshot_interval)

    simulator: Child | None = None
    truth = run_dir / "truth.json"
    if args.demo:
        simulate = [*command, "simulate", "--url", f"{ingest_base}/smsc/callback", "--rate", f"{args.rate:g}"]
        simulate += ["--truth", str(truth), "--retry-interval", "2", "--drain-timeout", "30"]
        simulate += ["--progress-interval", "10", "--ported-share", f"{args.ported_share:g}"]
        if args.degrade_carrier:
            simulate += ["--degrade-carrier", args.degrade_carrier]
        if args.duration is not None:
            simulate += ["--duration", str(args.duration)]
        simulator = supervisor.start(Child("simulator", simulate, base_env, run_dir / "simulator.log"))

    _say("")
    _say("the pipeline is up:")
    _say(f"  callback endpoint  {ingest_base}/smsc/callback[/ACCOUNT]   (POST; SMSC's handler URL)")
    _say(f"  ingest metrics     {ingest_base}/metrics")
    _say(f"  worker metrics     {worker_metrics}")
    _say(f"  Kafka bootstrap    {bootstrap}")
    _say(f"  Parquet archive    {archive_root}   (smsc-analytics report delivery|costs|errors|...)")
    for name, url in monitoring_urls.items():
        _say(f"  {name:<18} {url}")
    if snapshots is not None:
        every = f"every {args.snapshot_interval:g} s and at stop"
        _say(f"  dashboard PNGs     {snapshots.directory}/*.png   ({every}; log {snapshots.log_path.name})")
    if simulator is not None:
        how_long = f"for {args.duration} s" if args.duration is not None else "until Ctrl-C"
        _say(f"  simulator          posting {args.rate:g} callbacks/s {how_long} (pid {simulator.pid})")
    _say("Ctrl-C stops everything.")
    _say("")
    if snapshots is None:
        return _watch(supervisor, stop, worker_metrics, simulator, truth)
    snapshots.start()
    try:
        return _watch(supervisor, stop, worker_metrics, simulator, truth)
    finally:
        snapshots.stop()
        # Prometheus still runs here: the children stop after this returns.
        if snapshots.take():
            _say(f"dashboard snapshots of this run: {snapshots.directory}")


class Snapshots:
    """`smsc-analytics dashboards snapshot` every `interval` seconds from a thread, and once more at stop,
    into `<run dir>/dashboards`; each drawing is a subprocess bounded by SNAPSHOT_TIMEOUT_SECONDS."""

    def __init__(
        self, prometheus_url: str, scrape_interval: str, run_dir: Path, interval_seconds: float
    ) -> None:
        self.prometheus_url = prometheus_url
        self.scrape_interval = scrape_interval
        self.directory = run_dir / "dashboards"
        self.log_path = run_dir / "snapshots.log"
        self.interval_seconds = interval_seconds
        self.started = time.monotonic()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dashboard-snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(SNAPSHOT_TIMEOUT_SECONDS + 5)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval_seconds):
            self.take()

    def take(self) -> bool:
        """Draws every dashboard over the run so far; False (and a line naming the log) when it failed."""
        low, high = SNAPSHOT_RANGE_SECONDS
        seconds = min(max(time.monotonic() - self.started, low), high)
        command = [sys.executable, "-m", "smsc_analytics.cli", "dashboards", "snapshot"]
        command += ["--prometheus", self.prometheus_url, "--range", f"{seconds:.0f}s"]
        command += ["--scrape-interval", self.scrape_interval, "--out", str(self.directory)]
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"{datetime.now():%H:%M:%S} {' '.join(command[1:])}\n")
            log.flush()
            try:
                # Its own session: the terminal's Ctrl-C stops `up`, which then takes the last snapshot.
                result = subprocess.run(
                    command,
                    stdout=log,
                    stderr=log,
                    timeout=SNAPSHOT_TIMEOUT_SECONDS,
                    start_new_session=True,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                _say(f"dashboard snapshots: not done in {SNAPSHOT_TIMEOUT_SECONDS:g} s; see {self.log_path}")
                return False
        if result.returncode != 0:
            _say(f"dashboard snapshots failed (exit {result.returncode}); see {self.log_path}")
            return False
        return True


def _watch(
    supervisor: Supervisor, stop: threading.Event, metrics_url: str, simulator: Child | None, truth: Path
) -> int:
    """Show the summary every second until a signal (0) or a child's unexpected exit (1)."""
    rates = Rates()
    finished: list[Child] = []
    interactive = sys.stdout.isatty()
    live = None
    if interactive:
        from rich.live import Live

        live = Live(auto_refresh=False)
        live.start()
    last_line = 0.0
    try:
        while not stop.wait(1.0):
            failed = supervisor.failed(finished_ok=finished)
            if failed is not None and failed is simulator and failed.exit_code() == 0:
                finished.append(failed)
                _say(f"simulator finished: truth of what it posted in {truth}")
                failed = supervisor.failed(finished_ok=finished)
            if failed is not None:
                if live is not None:
                    live.stop()
                    live = None
                _report_death(failed)
                return EXIT_FAILED
            try:
                figures = rates.figures(scrape(metrics_url))
            except (OSError, ValueError):
                continue
            if live is not None:
                live.update(figures.table("smsc-analytics up: live (worker /metrics)"), refresh=True)
            elif time.monotonic() - last_line >= PLAIN_INTERVAL_SECONDS:
                last_line = time.monotonic()
                _say(f"{datetime.now():%H:%M:%S} {figures.line()}")
    finally:
        if live is not None:
            live.stop()
    _say("stopping (signal received) ...")
    return EXIT_OK


def _start_monitoring(
    args: argparse.Namespace,
    run_dir: Path,
    supervisor: Supervisor,
    stop: threading.Event,
    ingest_base: str,
    worker_metrics: str,
) -> dict[str, str]:
    binaries = monitoring.find_binaries()
    if binaries.prometheus is None or args.no_prometheus:
        if binaries.prometheus is None:
            _say(
                "Prometheus is not on the PATH, so no alert rules run here; "
                f"to get them: {monitoring.HOW_TO_INSTALL}"
            )
        return {}
    urls: dict[str, str] = {}
    alertmanager_address = None
    if binaries.alertmanager is not None:
        alertmanager_address = f"{LOOPBACK}:{free_port()}"
        argv = monitoring.alertmanager_argv(
            binaries.alertmanager, data_dir=run_dir / "alertmanager", listen=alertmanager_address
        )
        supervisor.start(Child("alertmanager", argv, os.environ, run_dir / "alertmanager.log"))
        urls["Alertmanager"] = f"http://{alertmanager_address}"
    else:
        _say(
            "Alertmanager is not on the PATH: alerts are evaluated but not routed "
            f"({monitoring.HOW_TO_INSTALL})"
        )
    prometheus_address = f"{LOOPBACK}:{free_port()}"
    config = run_dir / "prometheus.yml"
    config.write_text(
        monitoring.prometheus_config(
            ingest=ingest_base.removeprefix("http://"),
            worker=worker_metrics.removeprefix("http://").removesuffix("/metrics"),
            prometheus=prometheus_address,
            alertmanager=alertmanager_address,
        ),
        encoding="utf-8",
    )
    argv = monitoring.prometheus_argv(
        binaries.prometheus, config=config, data_dir=run_dir / "prometheus", listen=prometheus_address
    )
    prometheus = supervisor.start(Child("prometheus", argv, os.environ, run_dir / "prometheus.log"))
    urls["Prometheus"] = f"http://{prometheus_address}"
    ready = f"http://{prometheus_address}/-/ready"
    if _wait(lambda: _answers(ready), MONITORING_START_TIMEOUT_SECONDS, supervisor, stop):
        _say(f"Prometheus started with the project's alert rules (pid {prometheus.pid}, config {config})")
    else:
        _say(f"Prometheus did not answer {ready} yet; see {prometheus.log_path}")
    return urls


def _refuse_taken_ports(args: argparse.Namespace, *, broker_needed: bool) -> str | None:
    wanted = {"--ingest-port": args.ingest_port, "--worker-port": args.worker_port}
    if broker_needed:
        wanted["--broker-port"] = args.broker_port
    seen: dict[int, str] = {}
    for option, port in wanted.items():
        if not 1 <= port <= 65535:
            return f"{option} {port} is not a port number (1-65535)"
        if port in seen:
            return f"{option} and {seen[port]} are both {port}: give each its own port"
        seen[port] = option
        if port_in_use(LOOPBACK, port):
            return f"port {port} is already in use on {LOOPBACK}; choose another one with {option} N"
    return None


def _wait(
    ready: Callable[[], bool], timeout_seconds: float, supervisor: Supervisor, stop: threading.Event
) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while not stop.is_set() and supervisor.failed() is None and time.monotonic() < deadline:
        if ready():
            return True
        stop.wait(0.25)
    return False


def _startup_failed(child: Child, supervisor: Supervisor, stop: threading.Event, what: str) -> int:
    if stop.is_set():
        _say("stopping (signal received during start-up) ...")
        return EXIT_OK
    failed = supervisor.failed()
    if failed is not None:
        _report_death(failed)
    else:
        print(
            f"smsc-analytics up: {child.name}: {what} in time; last lines of {child.log_path}:",
            file=sys.stderr,
        )
        print(child.log_tail(), file=sys.stderr)
    return EXIT_FAILED


def _report_death(child: Child) -> None:
    print(
        f"smsc-analytics up: {child.name} exited unexpectedly with code {child.exit_code()}; "
        f"last lines of {child.log_path}:",
        file=sys.stderr,
    )
    print(child.log_tail(), file=sys.stderr, flush=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http:// URLs
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _reachable(host: str) -> str:
    """The address to reach a server bound to `host` from this machine."""
    return LOOPBACK if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, not bound


def _say(text: str) -> None:
    print(text, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsc-analytics up",
        description="Run the whole pipeline on this machine in the foreground: the embedded Kafka broker "
        "(or the cluster in KAFKA_BOOTSTRAP_SERVERS), ingest, a stream worker, Prometheus and Alertmanager "
        "when installed, and with --demo the SMSC simulator feeding it. Ctrl-C stops everything. The "
        "children read their usual settings (SMSC_INGEST_*, SMSC_WORKER_*, SMSC_ACCOUNT_SECRETS ...).",
    )
    parser.add_argument("--demo", action="store_true", help="also run the simulator posting to ingest")
    parser.add_argument("--ingest-port", type=int, default=8080, help="ingest HTTP port (default 8080)")
    parser.add_argument("--worker-port", type=int, default=6066, help="worker /metrics port (default 6066)")
    parser.add_argument("--broker-port", type=int, default=9092, help="embedded broker port (default 9092)")
    parser.add_argument("--rate", type=float, default=50, help="--demo: callbacks per second (default 50)")
    parser.add_argument(
        "--duration", type=float, help="--demo: the simulator stops after this many seconds (default: never)"
    )
    parser.add_argument(
        "--degrade-carrier",
        metavar="NAME",
        help="--demo: messages to this carrier (e.g. MegaFon, or RU:MTS) mostly fail, so that "
        "SmscCarrierFailureSpike fires after ~11 minutes (default: none)",
    )
    parser.add_argument(
        "--ported-share",
        type=float,
        default=0.05,
        help="--demo: share of messages to ported numbers, looked up first (default %(default)g)",
    )
    parser.add_argument(
        "--run-dir", help="where the children's logs and data go (default data/up/<date-time>)"
    )
    parser.add_argument(
        "--no-prometheus", action="store_true", help="do not start Prometheus/Alertmanager even if installed"
    )
    parser.add_argument(
        "--snapshot-interval",
        type=float,
        default=SNAPSHOT_INTERVAL_SECONDS,
        metavar="SECONDS",
        help="with Prometheus: draw the dashboards to PNGs in the run directory this often, and at stop "
        "(default %(default)g; 0: never)",
    )
    return parser
