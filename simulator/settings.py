"""The simulator's settings: environment (`SMSC_SIMULATOR_*`) overridden by command-line options."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulator.faults import ErrorBurst, Faults
from simulator.poster import PostPolicy, check_url
from simulator.recipients import Recipients
from simulator.scenario import Scenario
from simulator.wire import WireConfig
from simulator.workload import Mix
from smsc import SUPPORTED_CHARSETS, BodyFormat, SignatureAlgorithm, SmscError, check_secret
from smsc.charsets import canonical_charset

#: Callbacks per workload event with the default mix (measured): turns `--rate` into a real-time pace.
CALLBACKS_PER_EVENT: Final = 2.8
RANDOM: Final = "random"

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSC_SIMULATOR_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8080/smsc/callback"
    account: str = Field("default", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    rate_per_second: float = Field(100.0, ge=0.0)
    duration_seconds: float | None = Field(None, ge=0.0)
    count: int | None = Field(None, ge=0)
    concurrency: int = Field(16, ge=1, le=1024)
    seed: int = 1
    secret: SecretStr | None = None
    signature: SignatureAlgorithm = SignatureAlgorithm.MD5
    charset: str = RANDOM
    body_format: Literal["random", "form", "xml", "json"] = RANDOM
    query_keys: str = RANDOM
    mix: str | None = None
    messages_per_second: float | None = Field(None, gt=0.0)
    start: datetime | None = None
    degrade_carrier: str | None = None
    ported_share: Ratio = 0.0
    ported_settle_seconds: float = Field(60.0, ge=0.0)
    retry_interval_seconds: float = Field(240.0, ge=0.0)
    max_attempts: int = Field(50, ge=1)
    timeout_seconds: float = Field(10.0, gt=0.0)
    drain_timeout_seconds: float | None = Field(None, ge=0.0)
    progress_interval_seconds: float = Field(5.0, ge=0.0)
    truth_path: Path | None = None
    error_bursts: tuple[str, ...] = ()
    error_burst_ratio: float = Field(0.8, gt=0.0, le=1.0)
    duplicate_ratio: Ratio = 0.0
    malformed_ratio: Ratio = 0.0
    unsigned_ratio: Ratio = 0.0
    bad_signature_ratio: Ratio = 0.0
    out_of_order_ratio: Ratio = 0.0
    late_ratio: Ratio = 0.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        check_url(value)
        return value

    @field_validator("charset")
    @classmethod
    def _charset(cls, value: str) -> str:
        if value == RANDOM:
            return value
        try:
            return canonical_charset(value)
        except SmscError:
            raise ValueError(f"expected random or one of {', '.join(SUPPORTED_CHARSETS)}") from None

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                check_secret(value.get_secret_value())
            except SmscError:
                raise ValueError("a secret may hold only Latin letters, digits, '-' and '_'") from None
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2025-03-03T09:00:00+03:00")
        return value

    def scenario(self, *, now: datetime) -> Scenario:
        """The workload; `now` is its start unless `start` is set (the library never reads the clock)."""
        pace = self.messages_per_second
        if pace is None:
            pace = self.rate_per_second / CALLBACKS_PER_EVENT if self.rate_per_second else 10.0
        return Scenario(
            seed=self.seed,
            account=self.account,
            start=self.start or now,
            messages_per_second=pace,
            mix=Mix.parse(self.mix) if self.mix is not None else Mix(),
            recipients=self.recipients(),
            wire=self.wire(),
            faults=self.faults(),
        )

    def recipients(self) -> Recipients:
        return Recipients(
            degrade_carrier=self.degrade_carrier or None,
            ported_share=self.ported_share,
            ported_settle_seconds=self.ported_settle_seconds,
        )

    def wire(self) -> WireConfig:
        if self.query_keys == RANDOM:
            query_keys: tuple[str, ...] | None = None
        elif self.query_keys in ("", "none"):
            query_keys = ()
        else:
            query_keys = tuple(name.strip() for name in self.query_keys.split(",") if name.strip())
        return WireConfig(
            charset=None if self.charset == RANDOM else self.charset,
            body_format=None if self.body_format == RANDOM else BodyFormat(self.body_format),
            query_keys=query_keys,
            secret=self.secret.get_secret_value() if self.secret else None,
            algorithm=self.signature,
        )

    def faults(self) -> Faults:
        return Faults(
            duplicate_ratio=self.duplicate_ratio,
            malformed_ratio=self.malformed_ratio,
            unsigned_ratio=self.unsigned_ratio,
            bad_signature_ratio=self.bad_signature_ratio,
            out_of_order_ratio=self.out_of_order_ratio,
            late_ratio=self.late_ratio,
            error_bursts=tuple(
                ErrorBurst.parse(spec, ratio=self.error_burst_ratio) for spec in self.error_bursts
            ),
        )

    def policy(self) -> PostPolicy:
        return PostPolicy(
            rate_per_second=self.rate_per_second or None,
            concurrency=self.concurrency,
            retry_interval_seconds=self.retry_interval_seconds,
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
            count=self.count,
            duration_seconds=self.duration_seconds,
            drain_timeout_seconds=self.drain_timeout_seconds,
        )
