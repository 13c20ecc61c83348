"""The monitoring stack on loopback for tests/integration/dashboards: broker topics, a stream worker, ingest,
Prometheus (1 s scrapes) and Alertmanager as subprocesses, a webhook receiver in the test process, and
the helpers that read the committed dashboards, rules and Alertmanager config.

Processes are `smsc_analytics.supervisor.Child`ren (own process group, killed with the test process,
SIGTERM then SIGKILL after a deadline); their logs stay in the test's temporary directory.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from dashboards.build import iter_panels, rendered
from embedded_broker.broker import free_port
from smsc_analytics import monitoring
from smsc_analytics.supervisor import Child, Supervisor
from streams.settings import WorkerSettings
from tests.integration.streams.harness import Topics, worker_env
from tests.unit.dashboards.queries import series_names

LOOPBACK: Final = "127.0.0.1"
COMMITTED_RULES: Final = monitoring.RULES
COMMITTED_ALERTMANAGER: Final = monitoring.ALERTMANAGER_CONFIG
COMMITTED_PROMETHEUS: Final = COMMITTED_RULES.parent / "prometheus.yml"
#: Scrape and rule-evaluation interval of the test's Prometheus, and the shortened `for:`, group
#: `interval:`, `group_wait` and `group_interval`.
TICK: Final = "1s"

Json = dict[str, Any]


# -- the committed configuration, and the copies with a shorter time scale ------------------------------


def without_timing(rules: Json) -> Json:
    """The rule file without what `derived_rules` may change: group `interval` and every rule's `for`."""
    stripped = copy.deepcopy(rules)
    for group in stripped["groups"]:
        group.pop("interval", None)
        for rule in group["rules"]:
            rule.pop("for", None)
    return stripped


def derived_rules(committed: str, tick: str = TICK) -> str:
    """The committed rules with every `for:` and every group `interval:` set to `tick`; nothing else."""
    rules = yaml.safe_load(committed)
    for group in rules["groups"]:
        if "interval" in group:
            group["interval"] = tick
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = tick
    return yaml.safe_dump(rules, sort_keys=False, allow_unicode=True)


def _routes(route: Json) -> Iterator[Json]:
    yield route
    for child in route.get("routes") or []:
        yield from _routes(child)


def without_am_timing(config: Json) -> Json:
    """The Alertmanager config without what `derived_alertmanager` may change."""
    stripped = copy.deepcopy(config)
    for route in _routes(stripped["route"]):
        route.pop("group_wait", None)
        route.pop("group_interval", None)
    for receiver in stripped["receivers"]:
        for webhook in receiver.get("webhook_configs") or []:
            webhook.pop("url", None)
    return stripped


def derived_alertmanager(committed: str, webhook_base: str, tick: str = TICK) -> str:
    """The committed Alertmanager config with `group_wait`/`group_interval` set to `tick` wherever they
    are set, and every webhook URL moved to `webhook_base` (its path kept, so the receiver sees it)."""
    config = yaml.safe_load(committed)
    for route in _routes(config["route"]):
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = tick
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs") or []:
            webhook["url"] = webhook_base.rstrip("/") + urllib.parse.urlsplit(webhook["url"]).path
    return yaml.safe_dump(config, sort_keys=False)


def committed_jobs() -> list[str]:
    config = yaml.safe_load(COMMITTED_PROMETHEUS.read_text(encoding="utf-8"))
    return [job["job_name"] for job in config["scrape_configs"]]


# -- what the dashboards and the rules query ------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    where: str  # "dashboard file / panel title"
    expr: str  # as Grafana stores it (with $variables)
    instant: bool  # a table query: Grafana evaluates it once, at the end of the time range


def panel_targets() -> list[Target]:
    return [
        Target(f"{name} / {panel.get('title')}", str(target["expr"]), bool(target.get("instant")))
        for name, text in rendered().items()
        for panel in iter_panels(json.loads(text)["panels"])
        for target in panel.get("targets") or []
    ]


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard, metric selector, label) of every `label_values(selector, label)` variable."""
    found = []
    for name, text in rendered().items():
        for variable in json.loads(text)["templating"]["list"]:
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
            assert match, (name, variable["query"])
            found.append((name, match.group(1), match.group(2)))
    return found


_SELECTOR: Final = re.compile(r'(?<![\w.:"])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(?!\s*\()')


def selectors(expr: str) -> set[str]:
    """Every instant vector selector of an expression (`name{matchers}`), without range or offset."""
    names = series_names(expr)
    return {
        f"{match.group(1)}{match.group(2) or ''}"
        for match in _SELECTOR.finditer(expr)
        if match.group(1) in names
    }


def normalised(expr: str) -> str:
    return " ".join(expr.split()).replace("( ", "(").replace(" )", ")")


# -- the baseline history -------------------------------------------------------------------------------


def baseline_openmetrics(
    values: Mapping[str, float], labels: Mapping[str, str], *, start: float, end: float, step: float
) -> str:
    """OpenMetrics text: each series of `values` (name -> value) constant from `start` to `end`."""
    label_text = ",".join(f'{name}="{value}"' for name, value in labels.items())
    lines = []
    for name, value in values.items():
        lines.append(f"# TYPE {name} gauge")
        at = start
        while at <= end:
            lines.append(f"{name}{{{label_text}}} {value} {at:.3f}")
            at += step
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill(openmetrics: str, data_dir: Path) -> None:
    """TSDB blocks of the samples in `data_dir`, before Prometheus opens it (`promtool tsdb
    create-blocks-from openmetrics`; one block per 10 days instead of 96 two-hour blocks)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make alert-rules` installs Debian's prometheus package"
    source = data_dir.parent / "baseline.om"
    source.write_text(openmetrics, encoding="utf-8")
    command = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=240h"]
    result = subprocess.run(
        [*command, str(source), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the webhook receiver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    received: float  # time.monotonic() at arrival
    received_wall: float  # time.time() at arrival
    path: str
    body: Json


class WebhookReceiver:
    """A real HTTP server on loopback that records every POST (Alertmanager's webhook JSON)."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                notification = Notification(time.monotonic(), time.time(), self.path, body)
                with receiver._lock:
                    receiver.notifications.append(notification)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1})

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)

    def received(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)

    def alerts(self) -> Iterator[tuple[Notification, Json]]:
        for notification in self.received():
            for alert in notification.body.get("alerts", []):
                yield notification, alert


# -- Prometheus' HTTP API -------------------------------------------------------------------------------


class PrometheusError(AssertionError):
    pass


class PrometheusApi:
    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=10)

    def _get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        document = response.json()
        if document.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {document.get('errorType')}: {document.get('error')}")
        return document["data"]

    def query(self, expr: str, at: float | None = None) -> list[Json]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", **params)
        result: list[Json] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[Json]:
        data = self._get(
            "/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step:g}"
        )
        result: list[Json] = data["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        values: list[str] = self._get(f"/api/v1/label/{label}/values", **{"match[]": match})
        return values

    def alerts(self) -> list[Json]:
        alerts: list[Json] = self._get("/api/v1/alerts")["alerts"]
        return alerts

    def rules(self) -> list[Json]:
        return [rule for group in self._get("/api/v1/rules")["groups"] for rule in group["rules"]]

    def targets(self) -> list[Json]:
        targets: list[Json] = self._get("/api/v1/targets")["activeTargets"]
        return targets

    def close(self) -> None:
        self.client.close()

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, None when it returns nothing."""
        result = self.query(expr)
        assert len(result) <= 1, (expr, result)
        return float(result[0]["value"][1]) if result else None


def unix_seconds(rfc3339: str) -> float:
    """Prometheus' and Alertmanager's timestamps (nanosecond fractions, `Z`) as Unix seconds."""
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", rfc3339)
    assert match, rfc3339
    whole, fraction, zone = match.groups()
    seconds = datetime.fromisoformat(whole + zone.replace("Z", "+00:00")).timestamp()
    return seconds + float(f"0.{fraction or 0}")


def finite_values(result: Iterable[Json]) -> list[float]:
    """Every finite value of an instant (`value`) or range (`values`) result."""
    found = []
    for series in result:
        points = series["values"] if "values" in series else [series["value"]]
        found += [float(value) for _, value in points if math.isfinite(float(value))]
    return found


# -- the stack ------------------------------------------------------------------------------------------


@dataclass
class Stack:
    directory: Path
    supervisor: Supervisor
    receiver: WebhookReceiver
    callback_base: str  # POST {callback_base}/{account}
    worker_metrics: str
    prometheus: PrometheusApi
    alertmanager: str
    raw_topic: str
    rules_file: Path
    alertmanager_file: Path
    start_seconds: float = 0.0  # from the call of live_stack() until Prometheus scraped every target
    external_labels: dict[str, str] | None = None  # Prometheus adds them to every alert it sends

    def check_alive(self) -> None:
        failed = self.supervisor.failed()
        assert failed is None, f"{failed.name} exited with {failed.exit_code()}:\n{failed.log_tail(60)}"

    def wait(self, predicate: Callable[[], bool], what: str, timeout_seconds: float) -> float:
        """Polls `predicate` every 0.2 s; the seconds it took. Fails naming `what` (and any dead child)."""
        began = time.monotonic()
        while not predicate():
            self.check_alive()
            if time.monotonic() - began > timeout_seconds:
                tails = "\n".join(f"--- {c.name}:\n{c.log_tail(15)}" for c in self.supervisor.children)
                raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}\n{tails}")
            time.sleep(0.2)
        return time.monotonic() - began


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def live_stack(
    bootstrap: str,
    directory: Path,
    *,
    account_secrets: str,
    baseline: str,
    start_timeout_seconds: float = 60.0,
) -> Iterator[Stack]:
    """Everything started and answering, Prometheus scraping every target; stopped in reverse order.

    `baseline` (OpenMetrics text) is backfilled into Prometheus' data directory before it starts.
    """
    began = time.monotonic()
    binaries = monitoring.find_binaries()
    prometheus_bin, alertmanager_bin = binaries.prometheus, binaries.alertmanager
    assert prometheus_bin, f"Prometheus missing: {monitoring.HOW_TO_INSTALL}"
    assert alertmanager_bin, f"Alertmanager missing: {monitoring.HOW_TO_INSTALL}"
    suffix = uuid.uuid4().hex[:8]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "smsc_analytics.cli"]
    ports = set[int]()
    while len(ports) < 4:
        ports.add(free_port())
    worker_port, ingest_port, alertmanager_port, prometheus_port = ports
    alertmanager = f"{LOOPBACK}:{alertmanager_port}"
    prometheus = f"{LOOPBACK}:{prometheus_port}"
    ingest_base = f"http://{LOOPBACK}:{ingest_port}"
    prometheus_data = directory / "prometheus"
    # The baseline history goes in before Prometheus opens its data directory.
    backfill(baseline, prometheus_data)

    with WebhookReceiver() as receiver:
        stack = Stack(
            directory=directory,
            supervisor=Supervisor(stop_timeout_seconds=10),
            receiver=receiver,
            callback_base=f"{ingest_base}/smsc/callback",
            worker_metrics=f"http://{LOOPBACK}:{worker_port}/metrics",
            prometheus=PrometheusApi(f"http://{prometheus}"),
            alertmanager=f"http://{alertmanager}",
            raw_topic=f"test.live.raw.{suffix}",
            rules_file=directory / "rules.yml",
            alertmanager_file=directory / "alertmanager.yml",
        )
        start = stack.supervisor.start
        try:
            topics = Topics(
                raw=stack.raw_topic,
                events=f"test.live.events.{suffix}",
                dead=f"test.live.dead.{suffix}",
                app_id=f"test-live-{suffix}",
            )
            environment = {**env, **worker_env(bootstrap, topics, directory, worker_port)}
            start(Child("worker", [*command, "worker"], environment, directory / "worker.log"))

            # Alertmanager starts while the worker joins its group.
            rules = derived_rules(COMMITTED_RULES.read_text(encoding="utf-8"))
            stack.rules_file.write_text(rules, encoding="utf-8")
            am = derived_alertmanager(COMMITTED_ALERTMANAGER.read_text(encoding="utf-8"), receiver.url)
            stack.alertmanager_file.write_text(am, encoding="utf-8")
            argv = monitoring.alertmanager_argv(
                alertmanager_bin,
                data_dir=directory / "alertmanager",
                listen=alertmanager,
                config=stack.alertmanager_file,
            )
            start(Child("alertmanager", argv, os.environ, directory / "alertmanager.log"))
            stack.wait(functools.partial(_answers, stack.worker_metrics), "the worker", start_timeout_seconds)

            # Ingest after the worker, which creates the raw topic with its partition count.
            ingest_env = {
                **env,
                "SMSC_INGEST_PORT": str(ingest_port),
                "SMSC_INGEST_RAW_TOPIC": stack.raw_topic,
                "SMSC_INGEST_REJECTED_TOPIC": f"test.live.rejected.{suffix}",
                "SMSC_INGEST_SHUTDOWN_TIMEOUT_SECONDS": "5",
                "SMSC_ACCOUNT_SECRETS": account_secrets,
            }
            start(Child("ingest", [*command, "ingest"], ingest_env, directory / "ingest.log"))
            for url in (f"{ingest_base}/readyz", f"{stack.alertmanager}/-/ready"):
                stack.wait(functools.partial(_answers, url), f"{url} to answer 200", start_timeout_seconds)

            # Prometheus last: a target that is not up yet would page (SmscTargetDown, `for` shortened).
            config = json.loads(
                monitoring.prometheus_config(
                    ingest=f"{LOOPBACK}:{ingest_port}",
                    worker=f"{LOOPBACK}:{worker_port}",
                    prometheus=prometheus,
                    alertmanager=alertmanager,
                    rules=stack.rules_file,
                )
            )
            config["global"].update(scrape_interval=TICK, evaluation_interval=TICK)
            stack.external_labels = dict(config["global"].get("external_labels", {}))
            prometheus_file = directory / "prometheus.yml"
            prometheus_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
            argv = monitoring.prometheus_argv(
                prometheus_bin, config=prometheus_file, data_dir=prometheus_data, listen=prometheus
            )
            start(Child("prometheus", argv, os.environ, directory / "prometheus.log"))
            stack.wait(functools.partial(_answers, f"http://{prometheus}/-/ready"), "Prometheus", 30)

            def scraped() -> bool:
                targets = stack.prometheus.targets()
                return len(targets) == len(config["scrape_configs"]) and all(
                    target["health"] == "up" for target in targets
                )

            stack.wait(scraped, "Prometheus to scrape every target", 30)

            # Callbacks processed before the worker has its partitions would be counted in one batch, and
            # a series born with a large value hides that value from increase() and rate().
            partitions = int(WorkerSettings.model_fields["partitions"].default)

            def assigned() -> bool:
                owned = stack.prometheus.value("count(smsc_stream_consumer_offset)")
                return owned == partitions

            stack.wait(assigned, f"the worker to own all {partitions} raw partitions", start_timeout_seconds)
            stack.start_seconds = time.monotonic() - began
            yield stack
        finally:
            stack.supervisor.stop_all()
            stack.prometheus.close()
