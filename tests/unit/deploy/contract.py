"""What docker-compose.yml must agree with: the Compose Specification and the repository's own config.

Each check takes the parsed compose file and returns a list of problems (empty when it holds), so the tests
run every check on the real file and on broken copies of it: a check that cannot fail proves nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final, TypeVar
from unittest import mock
from urllib.parse import urlsplit

import jsonschema
import yaml
from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings

from ingest.settings import IngestSettings
from reports.settings import ArchiveSettings
from streams.settings import WorkerSettings

ROOT: Final = Path(__file__).resolve().parents[3]
COMPOSE_FILE: Final = ROOT / "docker-compose.yml"
#: The Compose Specification's JSON schema, vendored (README.md beside it says from where).
SCHEMA_FILE: Final = Path(__file__).with_name("compose-spec.json")
PROMETHEUS_CONFIG: Final = ROOT / "dashboards" / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG: Final = ROOT / "dashboards" / "alertmanager" / "alertmanager.yml"
GRAFANA_PROVISIONING: Final = ROOT / "dashboards" / "provisioning"

Compose = dict[str, Any]
Service = dict[str, Any]
S = TypeVar("S", bound=BaseSettings)

#: The deployables of this project and the settings classes each one reads its environment with.
DEPLOYABLES: Final[dict[str, tuple[type[BaseSettings], ...]]] = {
    "ingest": (IngestSettings,),
    # SMSC_ARCHIVE_ROOT: the Parquet archive the worker writes and `report` reads (reports/settings.py).
    "worker": (WorkerSettings, ArchiveSettings),
}

#: Ports the third-party servers listen on unless their command says otherwise.
DEFAULT_PORTS: Final = {"prom/prometheus": 9090, "prom/alertmanager": 9093, "grafana/grafana": 3000}

_INTERPOLATION: Final = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)
_LOCAL_ADDRESS: Final = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)")


# --- reading the file -------------------------------------------------------------------------------------


def load_compose(text: str | None = None) -> Compose:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8") if text is None else text)
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path} is not a mapping"
    return loaded


@cache
def compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def interpolate(value: str) -> str:
    """Compose's `${NAME}`, `${NAME:-default}`, `$$` with every variable unset: what a bare checkout gets."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op, arg = match.group("op"), match.group("arg") or ""
        return arg if op in (":-", "-") else ""

    return _INTERPOLATION.sub(replace, value)


def services(compose: Compose) -> dict[str, Service]:
    found: dict[str, Service] = compose.get("services") or {}
    return found


def environment(service: Service) -> dict[str, str]:
    """The container's environment as strings (compose accepts a mapping or a list of NAME=value)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    values: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        else:
            values[name] = interpolate("" if value is None else str(value))
    return values


def command(service: Service) -> list[str]:
    raw = service.get("command") or []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def flag(service: Service, name: str) -> str | None:
    """The value of `--name=value` in the service's command."""
    prefix = f"--{name}="
    return next((part[len(prefix) :] for part in command(service) if part.startswith(prefix)), None)


def mounts(service: Service) -> Iterator[tuple[str, str, str]]:
    """(type, source, target) of each volume entry: `bind` or `volume` (named)."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            yield entry["type"], str(entry.get("source", "")), str(entry["target"])
            continue
        source, target = entry.split(":")[:2]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        yield kind, source, target


def host_path(service: Service, container_path: str) -> Path | None:
    """The repository path a container path comes from through the service's bind mounts."""
    best: tuple[int, Path] | None = None
    for kind, source, target in mounts(service):
        if kind != "bind":
            continue
        target = target.rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            candidate = (ROOT / source / container_path[len(target) :].lstrip("/")).resolve()
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    return None if best is None else best[1]


def image_name_and_tag(image: str) -> tuple[str, str | None]:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, None if not digest else f"@{digest}"


def image_of(compose: Compose, prefix: str) -> tuple[str, Service] | None:
    """The service running an image whose repository is `prefix` (e.g. `prom/prometheus`)."""
    for name, service in services(compose).items():
        if image_name_and_tag(str(service.get("image", "")))[0] == prefix:
            return name, service
    return None


def env_names(settings_class: type[BaseSettings]) -> set[str]:
    """Every environment variable a pydantic-settings class reads (upper case: it is case-insensitive)."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        elif field.alias:
            names.add(field.alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def settings_of(settings_class: type[S], service: Service) -> S:
    """The settings the deployable builds at start from exactly this service's environment."""
    with mock.patch.dict(os.environ, environment(service), clear=True):
        return settings_class()


def listen_ports(name: str, service: Service) -> set[int]:
    """The ports the service's process listens on, from its own configuration."""
    env = environment(service)
    if name == "ingest":
        return {settings_of(IngestSettings, service).port}
    if name == "worker":
        return {settings_of(WorkerSettings, service).web_port}
    if "KAFKA_LISTENERS" in env:
        return {int(port) for port in re.findall(r"://[^:,]*:(\d+)", env["KAFKA_LISTENERS"])}
    if "ALERT_RECEIVER_PORT" in env:
        return {int(env["ALERT_RECEIVER_PORT"])}
    repository = image_name_and_tag(str(service.get("image", "")))[0]
    if repository == "grafana/grafana":
        return {int(env.get("GF_SERVER_HTTP_PORT", DEFAULT_PORTS[repository]))}
    if repository in DEFAULT_PORTS:
        address = flag(service, "web.listen-address")
        return {int(address.rsplit(":", 1)[1]) if address else DEFAULT_PORTS[repository]}
    return {int(str(port).split("/")[0]) for port in service.get("expose") or []}


def container_ports(service: Service) -> Iterator[tuple[int, bool]]:
    """(container port, published on a fixed host port) of each `ports` entry."""
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            yield int(entry["target"]), bool(entry.get("published"))
            continue
        parts = interpolate(str(entry)).split("/")[0].split(":")
        yield int(parts[-1]), len(parts) > 1


def _endpoint(compose: Compose, address: str, what: str, local_service: str | None = None) -> list[str]:
    """`host:port` must name a compose service and a port that service listens on."""
    host, _, port = address.rpartition(":")
    if host in ("localhost", "127.0.0.1") and local_service is not None:
        host = local_service
    service = services(compose).get(host)
    if service is None:
        return [f"{what}: {address} names no compose service"]
    ports = listen_ports(host, service)
    if int(port) not in ports:
        return [f"{what}: {address}, but {host} listens on {sorted(ports)}"]
    return []


# --- the checks -------------------------------------------------------------------------------------------


def schema_problems(compose: Compose) -> list[str]:
    validator = jsonschema.Draft7Validator(compose_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(compose)
    ]


def prometheus_target_problems(compose: Compose, config: dict[str, Any] | None = None) -> list[str]:
    """Scrape targets (static and DNS) and Alertmanager targets are compose services on their ports."""
    config = load_yaml(PROMETHEUS_CONFIG) if config is None else config
    own = image_of(compose, "prom/prometheus")
    if own is None:
        return ["no service runs prom/prometheus"]
    problems: list[str] = []
    for job in config.get("scrape_configs", []):
        what = f"prometheus job {job['job_name']}"
        for static in job.get("static_configs", []):
            for target in static.get("targets", []):
                problems += _endpoint(compose, target, what, local_service=own[0])
        for dns in job.get("dns_sd_configs", []):
            for dns_name in dns.get("names", []):
                problems += _endpoint(compose, f"{dns_name}:{dns['port']}", what)
    for alerting in config.get("alerting", {}).get("alertmanagers", []):
        for static in alerting.get("static_configs", []):
            for target in static.get("targets", []):
                problems += _endpoint(compose, target, "prometheus alerting")
    return problems


def alertmanager_receiver_problems(compose: Compose, config: dict[str, Any] | None = None) -> list[str]:
    """Every webhook Alertmanager calls is a compose service listening on the URL's port."""
    config = load_yaml(ALERTMANAGER_CONFIG) if config is None else config
    problems: list[str] = []
    urls = [
        hook["url"]
        for receiver in config.get("receivers", [])
        for hook in receiver.get("webhook_configs", [])
    ]
    if not urls:
        problems.append("alertmanager.yml has no webhook receiver")
    for url in urls:
        parts = urlsplit(url)
        problems += _endpoint(compose, f"{parts.hostname}:{parts.port or 80}", f"alertmanager webhook {url}")
    return problems


def grafana_problems(compose: Compose) -> list[str]:
    """Provisioning is mounted where Grafana reads it; every path it names resolves to repository files."""
    found = image_of(compose, "grafana/grafana")
    if found is None:
        return ["no service runs grafana/grafana"]
    name, grafana = found
    env = environment(grafana)
    problems: list[str] = []
    provisioning = env.get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
    if host_path(grafana, provisioning) != GRAFANA_PROVISIONING.resolve():
        problems.append(f"{name}: {provisioning} is not the bind mount of dashboards/provisioning")
    for path in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml")):
        for source in load_yaml(path).get("datasources", []):
            parts = urlsplit(source["url"])
            problems += _endpoint(
                compose, f"{parts.hostname}:{parts.port or 80}", f"grafana datasource {path.name}"
            )
    for path in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml")):
        for provider in load_yaml(path).get("providers", []):
            folder = provider["options"]["path"]
            source = host_path(grafana, folder)
            if source is None or not sorted(source.glob("*.json")):
                problems.append(
                    f"{name}: provider {provider['name']} reads {folder}, no dashboard JSON mounted there"
                )
    home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home is not None and ((source := host_path(grafana, home)) is None or not source.is_file()):
        problems.append(f"{name}: home dashboard {home} is not a mounted file")
    return problems


def config_file_problems(compose: Compose) -> list[str]:
    """Prometheus and Alertmanager read their config (and the rules) from the mounted repository files."""
    problems: list[str] = []
    for repository, expected in (
        ("prom/prometheus", PROMETHEUS_CONFIG),
        ("prom/alertmanager", ALERTMANAGER_CONFIG),
    ):
        found = image_of(compose, repository)
        if found is None:
            problems.append(f"no service runs {repository}")
            continue
        name, service = found
        config_file = flag(service, "config.file")
        source = None if config_file is None else host_path(service, config_file)
        if source != expected.resolve():
            problems.append(f"{name}: --config.file={config_file} is not {expected.relative_to(ROOT)}")
            continue
        for rule_file in load_yaml(source).get("rule_files", []):
            if not (source.parent / rule_file).is_file():
                problems.append(f"{name}: rule file {rule_file} is not mounted beside {config_file}")
    return problems


def mount_problems(compose: Compose) -> list[str]:
    """Bind mounts come from existing repository paths; named volumes are declared."""
    declared = set(compose.get("volumes") or {})
    problems: list[str] = []
    for name, service in services(compose).items():
        for kind, source, target in mounts(service):
            if kind == "bind" and not (ROOT / source).exists():
                problems.append(f"{name}: bind mount {source} -> {target}: no such path in the repository")
            if kind == "volume" and source not in declared:
                problems.append(f"{name}: volume {source} is not declared under top-level volumes")
    return problems


def data_volume_problems(compose: Compose) -> list[str]:
    """Every service's state lives in a named volume, the worker's archive in one shared by all replicas."""
    wanted: list[tuple[str, str | None]] = []
    for name, service in services(compose).items():
        env = environment(service)
        repository = image_name_and_tag(str(service.get("image", "")))[0]
        if "KAFKA_LOG_DIRS" in env:
            wanted += [(name, path) for path in env["KAFKA_LOG_DIRS"].split(",")]
        elif repository == "prom/prometheus":
            wanted.append((name, flag(service, "storage.tsdb.path")))
        elif repository == "prom/alertmanager":
            wanted.append((name, flag(service, "storage.path")))
        elif repository == "grafana/grafana":
            wanted.append((name, env.get("GF_PATHS_DATA", "/var/lib/grafana")))
        elif name == "worker":
            wanted.append((name, settings_of(ArchiveSettings, service).root))
    problems = [] if wanted else ["no stateful service found"]
    for name, path in wanted:
        targets = {target for kind, _, target in mounts(services(compose)[name]) if kind == "volume"}
        if path not in targets:
            problems.append(f"{name}: its data directory {path} is not a named volume")
    return problems


def environment_problems(compose: Compose) -> list[str]:
    """ingest and worker set only variables their settings read, with values the settings accept."""
    problems: list[str] = []
    for name, classes in DEPLOYABLES.items():
        service = services(compose).get(name)
        if service is None:
            problems.append(f"no service {name}")
            continue
        known = set().union(*(env_names(cls) for cls in classes))
        for variable in environment(service):
            if variable.upper() not in known:
                problems.append(f"{name}: {variable} is read by none of {[cls.__name__ for cls in classes]}")
        for cls in classes:
            try:
                settings_of(cls, service)
            except ValidationError as exc:
                problems.append(f"{name}: {cls.__name__} refuses the environment: {exc}")
    return problems


def deployment_problems(compose: Compose) -> list[str]:
    """What a container deployment of ingest and the workers needs, beyond valid variable names."""
    found = services(compose)
    if "ingest" not in found or "worker" not in found or "kafka" not in found:
        return ["ingest, worker and kafka must all be services"]
    try:
        ingest = settings_of(IngestSettings, found["ingest"])
        worker = settings_of(WorkerSettings, found["worker"])
    except ValidationError as exc:
        return [f"settings refuse the environment: {exc}"]
    kafka_env = environment(found["kafka"])
    problems: list[str] = []
    if ingest.host != "0.0.0.0":  # a container must listen beyond its loopback
        problems.append(f"ingest listens on {ingest.host}: unreachable from outside its container")
    if worker.web_host != "0.0.0.0":
        problems.append(f"worker /metrics binds {worker.web_host}: Prometheus cannot scrape it")
    if not ingest.producer_idempotence:
        problems.append("ingest: SMSC_INGEST_PRODUCER_IDEMPOTENCE must be true on Apache Kafka")
    advertised = re.findall(r"://([^,]+)", kafka_env.get("KAFKA_ADVERTISED_LISTENERS", ""))
    for name, bootstrap in (
        ("ingest", ingest.kafka_bootstrap_servers),
        ("worker", worker.kafka_bootstrap_servers),
    ):
        for address in bootstrap.split(","):
            problems += _endpoint(compose, address, f"{name} KAFKA_BOOTSTRAP_SERVERS")
            if address not in advertised:
                problems.append(f"{name}: bootstrap {address} is not an advertised listener {advertised}")
    if str(worker.partitions) != kafka_env.get("KAFKA_NUM_PARTITIONS"):
        problems.append(
            f"worker partitions {worker.partitions} != KAFKA_NUM_PARTITIONS "
            f"{kafka_env.get('KAFKA_NUM_PARTITIONS')}: a topic ingest auto-creates would stop the worker"
        )
    grace = _seconds(str(found["ingest"].get("stop_grace_period", "10s")))
    if grace <= ingest.shutdown_timeout_seconds:
        problems.append(
            f"ingest stop_grace_period {grace:g}s <= SMSC_INGEST_SHUTDOWN_TIMEOUT_SECONDS "
            f"{ingest.shutdown_timeout_seconds:g}: Docker kills it mid-flush"
        )
    return problems


def scaling_problems(compose: Compose) -> list[str]:
    """`docker compose up --scale worker=N`: nothing in the worker may be unique to one container."""
    worker = services(compose).get("worker")
    if worker is None:
        return ["no service worker"]
    problems: list[str] = []
    if "container_name" in worker:
        problems.append("worker has a container_name: a second replica cannot start")
    if any(fixed for _, fixed in container_ports(worker)):
        problems.append("worker publishes a fixed host port: a second replica cannot start")
    return problems


def image_problems(compose: Compose) -> list[str]:
    """Pinned tags everywhere; our image named after the project's version; Grafana of the SDK's minor."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    problems: list[str] = []
    for name, service in services(compose).items():
        image = service.get("image")
        if image is None:
            problems.append(f"{name}: no image (a built one must be named too)")
            continue
        tag = image_name_and_tag(interpolate(str(image)))[1]
        if tag is None or tag == "latest" or not re.search(r"\d", tag):
            problems.append(f"{name}: image {image} is not pinned to a version")
        if "build" in service and tag != pyproject["version"]:
            problems.append(f"{name}: built image {image} is not tagged with the project version")
    sdk = next(dep for dep in pyproject["dependencies"] if dep.startswith("grafana-foundation-sdk"))
    sdk_minor = ".".join(sdk.split("!")[-1].split("=")[-1].split(".")[:2])
    grafana = image_of(compose, "grafana/grafana")
    grafana_tag = None if grafana is None else image_name_and_tag(str(grafana[1]["image"]))[1]
    if grafana_tag is None or not grafana_tag.startswith(f"{sdk_minor}."):
        problems.append(f"grafana image tag {grafana_tag} is not {sdk_minor}.x ({sdk} in pyproject.toml)")
    return problems


def health_problems(compose: Compose) -> list[str]:
    """Every service (all are long-running) has a restart policy and a health check on a port it serves."""
    problems: list[str] = []
    for name, service in services(compose).items():
        if service.get("restart") in (None, "no"):
            problems.append(f"{name}: no restart policy")
        check = service.get("healthcheck")
        test = None if check is None or check.get("disable") else check.get("test")
        if not test or (isinstance(test, list) and test[0] == "NONE"):
            problems.append(f"{name}: no health check")
            continue
        ports = {
            int(port) for port in _LOCAL_ADDRESS.findall(test if isinstance(test, str) else " ".join(test))
        }
        listening = listen_ports(name, service)
        if not ports or not ports <= listening:
            problems.append(
                f"{name}: health check asks port(s) {sorted(ports)}, it listens on {sorted(listening)}"
            )
        for port, _ in container_ports(service):
            if port not in listening:
                problems.append(f"{name}: publishes container port {port}, it listens on {sorted(listening)}")
    return problems


def dependency_problems(compose: Compose) -> list[str]:
    """ingest and worker wait for a healthy Kafka; every `service_healthy` target has a health check."""
    found = services(compose)
    problems: list[str] = []
    for name, service in found.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, options in depends.items():
            if target not in found:
                problems.append(f"{name} depends on {target}, which is no service")
            elif options.get("condition") == "service_healthy" and "healthcheck" not in found[target]:
                problems.append(f"{name} waits for {target} to be healthy, which has no health check")
        if name in DEPLOYABLES and (depends.get("kafka") or {}).get("condition") != "service_healthy":
            problems.append(f"{name} does not wait for kafka: service_healthy")
    return problems


CHECKS: Final[tuple[Callable[[Compose], list[str]], ...]] = (
    schema_problems,
    prometheus_target_problems,
    alertmanager_receiver_problems,
    grafana_problems,
    config_file_problems,
    mount_problems,
    data_volume_problems,
    environment_problems,
    deployment_problems,
    scaling_problems,
    image_problems,
    health_problems,
    dependency_problems,
)


def _seconds(duration: str) -> float:
    """A compose duration (`1m30s`, `40s`, `500ms`) in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    return sum(float(amount) * units[unit] for amount, unit in parts)
