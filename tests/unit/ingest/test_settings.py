"""The ingest settings read the documented environment variables, and refuse nonsense at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.publisher import producer_config
from ingest.settings import IngestSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SMSC_ACCOUNT_SECRETS", "SMSC_ACCOUNT_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = IngestSettings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8080, 1)
    assert settings.deadline_seconds == 5.0
    assert settings.max_body_bytes == 65536
    assert (settings.raw_topic, settings.rejected_topic) == ("smsc.callbacks.raw", "smsc.callbacks.rejected")
    assert list(settings.accounts()) == ["default"]


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSC_INGEST_PORT", "9000")
    monkeypatch.setenv("SMSC_INGEST_DEADLINE_SECONDS", "2.5")
    monkeypatch.setenv("SMSC_INGEST_PRODUCER_IDEMPOTENCE", "false")
    monkeypatch.setenv(
        "SMSC_INGEST_PRODUCER_CONFIG", '{"security.protocol": "SASL_SSL", "sasl.password": "pw"}'
    )
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("SMSC_ACCOUNT_SECRETS", "acme=s3cr3t,beta=")
    settings = IngestSettings()
    assert settings.port == 9000
    assert settings.deadline_seconds == 2.5
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert sorted(settings.accounts()) == ["acme", "beta", "default"]
    assert "s3cr3t" not in repr(settings)
    assert "pw" not in repr(settings)
    config = producer_config(settings)
    assert config["bootstrap.servers"] == "kafka:9092"
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is False
    assert config["partitioner"] == "murmur2_random"
    assert config["message.timeout.ms"] == 2500  # retried until the request's deadline, not beyond
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.password"] == "pw"


def test_idempotence_is_on_by_default() -> None:
    assert producer_config(IngestSettings())["enable.idempotence"] is True


def test_secrets_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secrets"
    path.write_text("acme=s3cr3t\n", encoding="utf-8")
    monkeypatch.setenv("SMSC_ACCOUNT_SECRETS_FILE", str(path))
    assert sorted(IngestSettings().accounts()) == ["acme", "default"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SMSC_ACCOUNT_SECRETS": "acme"}, "expected account=secret"),
        ({"SMSC_ACCOUNT_SECRETS": "a=1", "SMSC_ACCOUNT_SECRETS_FILE": "/x"}, "not both"),
        ({"SMSC_ACCOUNT_SECRETS_FILE": "/nonexistent/secrets"}, "cannot read"),
        ({"SMSC_INGEST_PRODUCER_CONFIG": '{"acks": "1"}'}, "'acks' is set by ingest itself"),
        ({"SMSC_INGEST_PRODUCER_CONFIG": '{"partitioner": "random"}'}, "'partitioner' is set by ingest"),
        ({"SMSC_INGEST_BODY_READ_TIMEOUT_SECONDS": "0"}, "body_read_timeout_seconds"),
        ({"SMSC_INGEST_PORT": "70000"}, "port"),
    ],
)
def test_invalid_configuration_is_refused(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        IngestSettings()
