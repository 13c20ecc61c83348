"""Configuration of the ingest service: `SMSC_INGEST_*`, `KAFKA_BOOTSTRAP_SERVERS` and the account secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.accounts import AccountConfigError, Accounts, parse_accounts
from smsc.raw_record import RAW_TOPIC, REJECTED_TOPIC

#: librdkafka properties that ingest's promises depend on, and where each comes from instead.
PRODUCER_CONFIG_OWN: Final = {
    "bootstrap.servers": "KAFKA_BOOTSTRAP_SERVERS",
    "acks": "always all: a callback is answered 200 only when every in-sync replica has it",
    "enable.idempotence": "SMSC_INGEST_PRODUCER_IDEMPOTENCE",
    "partitioner": "always murmur2_random: the Java client's partitioning, shared by every producer",
    "linger.ms": "SMSC_INGEST_PRODUCER_LINGER_MS",
    "message.timeout.ms": "SMSC_INGEST_DEADLINE_SECONDS",
    "delivery.timeout.ms": "SMSC_INGEST_DEADLINE_SECONDS",
}


class IngestSettings(BaseSettings):
    """`SMSC_INGEST_*`, plus the broker and the secrets under the names the whole project uses."""

    model_config = SettingsConfigDict(
        env_prefix="SMSC_INGEST_", frozen=True, extra="ignore", populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(default=8080, ge=0, le=65535, description="HTTP port; 0 picks a free one")
    workers: int = Field(default=1, ge=1, le=64, description="server processes; scale with replicas first")
    deadline_seconds: float = Field(
        default=5.0, gt=0, le=60, description="how long a callback waits for the broker's ack before 503"
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, le=1024 * 1024, description="larger bodies get 413"
    )
    max_concurrent_requests: int = Field(
        default=2000, ge=1, description="open connections + requests beyond which the server answers 503"
    )
    body_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="a request whose body has not arrived within this time is answered 408 (a callback "
        "of a few hundred bytes arrives in milliseconds: a stalled upload is a broken or hostile client)",
    )
    shutdown_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="on SIGTERM: how long in-flight requests and the producer flush may take",
    )
    readiness_timeout_seconds: float = Field(
        default=2.0, gt=0, description="how long /readyz waits for the broker"
    )
    raw_topic: str = Field(default=RAW_TOPIC, min_length=1, description="topic of accepted callbacks")
    rejected_topic: str = Field(default=REJECTED_TOPIC, min_length=1, description="topic of refused requests")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="proxies whose X-Forwarded-For is trusted for the remote address"
    )
    access_log: bool = Field(default=False, description="log every request (the metrics already count them)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        min_length=1,
        description="the broker (exact variable name, shared by every deployable)",
    )
    producer_idempotence: bool = Field(
        default=True,
        description="idempotent producer: the broker drops duplicates and reordering caused by the "
        "producer's own retries (librdkafka; needs a broker with InitProducerId, as Apache Kafka has)",
    )
    producer_linger_ms: int = Field(
        default=1,
        ge=0,
        le=1000,
        description="how long the producer waits to fill a batch (adds to each ack; 0 costs librdkafka "
        "a produce request per record)",
    )
    producer_max_batch_bytes: int = Field(
        default=1024 * 1024, ge=16 * 1024, description="largest batch of records per partition and request"
    )
    producer_config: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='extra librdkafka producer properties as JSON, e.g. {"security.protocol": "SASL_SSL"}',
    )

    account_secrets: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("SMSC_ACCOUNT_SECRETS", "account_secrets"),
        description="acme=s3cr3t,default=other,beta= (beta: an account without a secret)",
    )
    account_secrets_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("SMSC_ACCOUNT_SECRETS_FILE", "account_secrets_file"),
        description="a file with the same content, for deployments that mount secrets",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in self.producer_config:
            if name in PRODUCER_CONFIG_OWN:
                owner = PRODUCER_CONFIG_OWN[name]
                raise ValueError(f"SMSC_INGEST_PRODUCER_CONFIG: {name!r} is set by ingest itself ({owner})")
        self.accounts()  # fail at start, naming the entry, rather than on the first callback
        return self

    def accounts(self) -> Accounts:
        """The configured accounts plus `default`; reads the secrets file when one is given."""
        text = self.account_secrets.get_secret_value()
        if self.account_secrets_file is not None:
            if text.strip():
                raise ValueError("set SMSC_ACCOUNT_SECRETS or SMSC_ACCOUNT_SECRETS_FILE, not both")
            try:
                text = self.account_secrets_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read SMSC_ACCOUNT_SECRETS_FILE: {exc}") from None
        try:
            return parse_accounts(text)
        except AccountConfigError as exc:
            raise ValueError(f"SMSC_ACCOUNT_SECRETS: {exc}") from None
