"""docker-compose.yml is a valid Compose file that agrees with the repository (no Docker needed).

Every check runs on the real file, and on a copy broken on purpose, which it must catch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import jsonschema
import pytest

from tests.unit.deploy import contract
from tests.unit.deploy.contract import Compose


@pytest.fixture(scope="module")
def compose() -> Compose:
    return contract.load_compose()


def test_the_vendored_schema_is_the_compose_specification() -> None:
    schema = contract.compose_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "Compose Specification"
    # Recent enough for what the file uses: top-level `name` (2021's schema in docker-compose 1.29 has none).
    assert "name" in schema["properties"]


@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda check: check.__name__)
def test_the_compose_file_passes(check: Callable[[Compose], list[str]], compose: Compose) -> None:
    assert check(compose) == []


def test_the_stack_has_every_part(compose: Compose) -> None:
    assert set(contract.services(compose)) == {
        "kafka",
        "ingest",
        "worker",
        "prometheus",
        "alertmanager",
        "alert-receiver",
        "grafana",
    }
    assert compose["name"] == "smsc-analytics"
    assert "version" not in compose


def test_ingest_and_worker_run_the_project_image(compose: Compose) -> None:
    found = contract.services(compose)
    for name in ("ingest", "worker"):
        assert found[name]["build"]["context"] == "."
        assert contract.command(found[name]) == [name]
    assert found["ingest"]["image"] == found["worker"]["image"]


def test_interpolation_takes_the_defaults() -> None:
    assert contract.interpolate("${GRAFANA_ADMIN_PASSWORD:-admin}") == "admin"
    assert contract.interpolate("${SMSC_ACCOUNT_SECRETS:-}") == ""
    assert contract.interpolate("${UNSET}x$$y") == "x$y"


def test_env_names_come_from_the_settings_classes() -> None:
    from ingest.settings import IngestSettings
    from reports.settings import ArchiveSettings
    from streams.settings import WorkerSettings

    ingest = contract.env_names(IngestSettings)
    assert {
        "SMSC_INGEST_HOST",
        "KAFKA_BOOTSTRAP_SERVERS",
        "SMSC_ACCOUNT_SECRETS",
        "SMSC_ACCOUNT_SECRETS_FILE",
    } <= ingest
    assert "SMSC_INGEST_KAFKA_BOOTSTRAP_SERVERS" not in ingest  # an alias replaces the prefixed name
    assert "SMSC_WORKER_WEB_HOST" in contract.env_names(WorkerSettings)
    assert contract.env_names(ArchiveSettings) == {"SMSC_ARCHIVE_ROOT"}


def _set(name: str, key: str, value: object) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        compose["services"][name][key] = value

    return mutate


def _set_env(name: str, variable: str, value: object) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        compose["services"][name]["environment"][variable] = value

    return mutate


def _drop(name: str, key: str) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        del compose["services"][name][key]

    return mutate


def _rename_key(name: str, old: str, new: str) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        service = compose["services"][name]
        service[new] = service.pop(old)

    return mutate


def _replace_volume(name: str, old: str, new: str) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        service = compose["services"][name]
        service["volumes"] = [new if entry == old else entry for entry in service["volumes"]]

    return mutate


def _rename_service(old: str, new: str) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        compose["services"][new] = compose["services"].pop(old)

    return mutate


BROKEN: list[tuple[str, Callable[[Compose], None], Callable[[Compose], list[str]], str]] = [
    (
        "misspelled key",
        _rename_key("kafka", "healthcheck", "healthchek"),
        contract.schema_problems,
        "healthchek",
    ),
    (
        "misspelled condition",
        _set("ingest", "depends_on", {"kafka": {"condition": "service_healty"}}),
        contract.schema_problems,
        "service_healty",
    ),
    ("version key", lambda compose: compose.update(version=3), contract.schema_problems, "version"),
    (
        "ingest moved port",
        _set_env("ingest", "SMSC_INGEST_PORT", 8081),
        contract.prometheus_target_problems,
        "ingest:8080",
    ),
    (
        "worker moved port",
        _set_env("worker", "SMSC_WORKER_WEB_PORT", 6067),
        contract.prometheus_target_problems,
        "worker:6066",
    ),
    (
        "alertmanager renamed",
        _rename_service("alertmanager", "alerts"),
        contract.prometheus_target_problems,
        "alertmanager:9093",
    ),
    (
        "receiver renamed",
        _rename_service("alert-receiver", "receiver"),
        contract.alertmanager_receiver_problems,
        "alert-receiver",
    ),
    (
        "receiver moved port",
        _set_env("alert-receiver", "ALERT_RECEIVER_PORT", 9096),
        contract.alertmanager_receiver_problems,
        "9095",
    ),
    (
        "dashboards not mounted",
        _replace_volume(
            "grafana",
            "./dashboards/generated:/var/lib/grafana/dashboards/smsc:ro",
            "./dashboards/generated:/var/lib/grafana/dashboards:ro",
        ),
        contract.grafana_problems,
        "/var/lib/grafana/dashboards/smsc",
    ),
    (
        "prometheus renamed",
        _rename_service("prometheus", "prom"),
        contract.grafana_problems,
        "prometheus:9090",
    ),
    (
        "rules not mounted",
        _replace_volume(
            "prometheus", "./dashboards/prometheus:/etc/prometheus:ro", "./dashboards/prometheus:/etc/prom:ro"
        ),
        contract.config_file_problems,
        "--config.file",
    ),
    (
        "missing bind source",
        _replace_volume(
            "alertmanager",
            "./dashboards/alertmanager:/etc/alertmanager:ro",
            "./dashboards/alerting:/etc/alertmanager:ro",
        ),
        contract.mount_problems,
        "./dashboards/alerting",
    ),
    (
        "undeclared volume",
        lambda compose: compose["volumes"].pop("grafana-data"),
        contract.mount_problems,
        "grafana-data",
    ),
    (
        "archive not on a volume",
        _set_env("worker", "SMSC_ARCHIVE_ROOT", "/tmp/archive"),
        contract.data_volume_problems,
        "/tmp/archive",
    ),
    (
        "kafka data not on a volume",
        _drop("kafka", "volumes"),
        contract.data_volume_problems,
        "/var/lib/kafka/data",
    ),
    (
        "unknown ingest variable",
        _set_env("ingest", "SMSC_INGEST_LISTEN_HOST", "0.0.0.0"),
        contract.environment_problems,
        "SMSC_INGEST_LISTEN_HOST",
    ),
    (
        "worker variable on ingest",
        _set_env("ingest", "SMSC_WORKER_PARTITIONS", 8),
        contract.environment_problems,
        "SMSC_WORKER_PARTITIONS",
    ),
    (
        "invalid worker value",
        _set_env("worker", "SMSC_WORKER_PARTITIONS", 0),
        contract.environment_problems,
        "refuses",
    ),
    (
        "ingest on loopback",
        _set_env("ingest", "SMSC_INGEST_HOST", "127.0.0.1"),
        contract.deployment_problems,
        "ingest listens",
    ),
    (
        "worker on loopback",
        lambda compose: compose["services"]["worker"]["environment"].pop("SMSC_WORKER_WEB_HOST"),
        contract.deployment_problems,
        "worker /metrics",
    ),
    (
        "producer not idempotent",
        _set_env("ingest", "SMSC_INGEST_PRODUCER_IDEMPOTENCE", "false"),
        contract.deployment_problems,
        "IDEMPOTENCE",
    ),
    (
        "wrong broker",
        _set_env("worker", "KAFKA_BOOTSTRAP_SERVERS", "broker:9092"),
        contract.deployment_problems,
        "broker:9092",
    ),
    (
        "partition mismatch",
        _set_env("worker", "SMSC_WORKER_PARTITIONS", 4),
        contract.deployment_problems,
        "KAFKA_NUM_PARTITIONS",
    ),
    ("short grace", _set("ingest", "stop_grace_period", "10s"), contract.deployment_problems, "mid-flush"),
    ("worker named", _set("worker", "container_name", "worker"), contract.scaling_problems, "container_name"),
    ("worker host port", _set("worker", "ports", ["6066:6066"]), contract.scaling_problems, "host port"),
    (
        "latest image",
        _set("prometheus", "image", "prom/prometheus:latest"),
        contract.image_problems,
        "latest",
    ),
    ("untagged image", _set("kafka", "image", "apache/kafka"), contract.image_problems, "apache/kafka"),
    (
        "grafana of another minor",
        _set("grafana", "image", "grafana/grafana:12.0.2"),
        contract.image_problems,
        "11.6.x",
    ),
    (
        "built image not versioned",
        _set("worker", "image", "smsc-analytics:dev"),
        contract.image_problems,
        "project version",
    ),
    ("no health check", _drop("alert-receiver", "healthcheck"), contract.health_problems, "alert-receiver"),
    ("no restart policy", _drop("grafana", "restart"), contract.health_problems, "restart"),
    (
        "health check on the wrong port",
        _set("ingest", "healthcheck", {"test": ["CMD", "true", "http://127.0.0.1:9999/readyz"]}),
        contract.health_problems,
        "9999",
    ),
    (
        "ingest does not wait",
        _set("ingest", "depends_on", {"kafka": {"condition": "service_started"}}),
        contract.dependency_problems,
        "ingest does not wait",
    ),
    ("worker does not wait", _drop("worker", "depends_on"), contract.dependency_problems, "worker"),
]


@pytest.mark.parametrize(
    ("mutate", "check", "expected"), [case[1:] for case in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_a_broken_copy_is_caught(
    compose: Compose,
    mutate: Callable[[Compose], None],
    check: Callable[[Compose], list[str]],
    expected: str,
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = check(broken)
    assert any(expected in problem for problem in problems), problems
