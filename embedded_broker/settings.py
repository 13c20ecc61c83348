"""Configuration of the embedded broker when it runs on its own (`smsc-analytics broker`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BrokerSettings(BaseSettings):
    """Environment variables `SMSC_BROKER_*`."""

    model_config = SettingsConfigDict(env_prefix="SMSC_BROKER_", frozen=True, extra="ignore")

    host: str = Field("127.0.0.1", description="loopback address to listen on")
    port: int = Field(9092, ge=0, le=65535, description="Kafka port; 0 picks a free one")
    startup_timeout_seconds: float = Field(
        15.0, gt=0, description="how long to wait for the broker to answer"
    )
