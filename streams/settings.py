"""Configuration of a stream worker: `SMSC_WORKER_*`, `KAFKA_BOOTSTRAP_SERVERS` and `SMSC_ARCHIVE_ROOT`."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reports.settings import DEFAULT_ARCHIVE_ROOT
from smsc.raw_record import RAW_TOPIC


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMSC_WORKER_", frozen=True, extra="ignore", populate_by_name=True
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        min_length=1,
        description="the broker (exact variable name, shared by every deployable)",
    )
    app_id: str = Field(default="smsc-streams", min_length=1, description="Faust app id = consumer group")
    partitions: int = Field(
        default=4, ge=1, le=1024, description="partitions of the raw, events and dead topics"
    )
    raw_topic: str = Field(default=RAW_TOPIC, min_length=1)
    events_topic: str = Field(default="smsc.events", min_length=1)
    dead_topic: str = Field(default="smsc.callbacks.dead", min_length=1)
    web_host: str = Field(default="127.0.0.1", description="bind address of /metrics")
    web_port: int = Field(default=6066, ge=1, le=65535, description="port of /metrics (one per worker)")
    data_dir: Path = Field(default=Path("data/worker"), description="Faust's data directory")
    batch_max_records: int = Field(default=2000, ge=1, description="records taken from the raw topic at once")
    snapshot_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often partition state is written (a crash replays at most this much)",
    )
    dedupe_window_seconds: int = Field(
        default=4 * 3600, ge=60, description="retries within it are duplicates"
    )
    account_timezone: str = Field(default="Europe/Moscow", description="zone of the `time` texts of statuses")
    senders: tuple[str, ...] = Field(default=(), description="sender names always kept as labels (JSON list)")
    max_senders: int = Field(default=50, ge=0, description="other sender names kept as labels, first seen")
    destinations: bool = Field(
        default=True,
        description="count delivery by destination (country, carrier) and put it on the events; off: "
        "events carry a null destination and the smsc_destination_* metrics stay empty",
    )
    carriers: tuple[str, ...] = Field(
        default=(),
        description="carrier names always kept as labels, in their canonical spelling (JSON list)",
    )
    max_countries: int = Field(
        default=50, ge=0, description="countries kept as labels per partition, first seen; the rest `other`"
    )
    max_carriers_per_country: int = Field(
        default=10,
        ge=0,
        description="other carriers kept as labels per country and partition, first seen; the rest `other`",
    )
    hlr_retention_seconds: int = Field(
        default=30 * 86400,
        ge=0,
        description="how long an HLR look-up's network stays the carrier of its number",
    )
    hlr_settle_seconds: int = Field(
        default=30,
        ge=0,
        description="an HLR answer counts for messages first seen at least this long after it was received "
        "(longer than it takes to reach every worker: a replay then chooses the same carrier)",
    )
    hlr_max_numbers: int = Field(
        default=5_000_000,
        ge=0,
        description="numbers whose HLR network the worker remembers at most (oldest forgotten first)",
    )
    hlr_topic: str = Field(
        default="smsc.hlr.networks",
        min_length=1,
        description="the compacted topic of HLR networks the workers share (number digest -> carrier)",
    )
    archive: bool = Field(default=True, description="run the archive sink (smsc.events -> Parquet)")
    archive_root: str = Field(
        default=DEFAULT_ARCHIVE_ROOT,
        validation_alias=AliasChoices("SMSC_ARCHIVE_ROOT", "archive_root"),
        min_length=1,
        description="the Parquet archive: a directory or an fsspec URL (exact variable name, shared with "
        "`report`)",
    )
    archive_block_events: int = Field(
        default=20_000, ge=1, description="events per archive file at most (offsets of one partition)"
    )
    archive_flush_seconds: float = Field(
        default=30.0, gt=0, description="an event reaches the archive within about this long"
    )
    archive_group_id: str | None = Field(
        default=None,
        min_length=1,
        description="consumer group of the archive sink (default: <app id>-archive)",
    )
