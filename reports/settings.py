"""Where the Parquet archive lives: `SMSC_ARCHIVE_ROOT`, shared by the worker, `up` and `report`."""

from __future__ import annotations

from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Relative to the working directory, so `make up` and `smsc-analytics report` run from the repository
#: root meet in the same place (`/data/` is git-ignored).
DEFAULT_ARCHIVE_ROOT: Final = "./data/archive"


class ArchiveSettings(BaseSettings):
    """`SMSC_ARCHIVE_ROOT`: a local directory or any fsspec / pyarrow URL (`s3://bucket/archive`)."""

    model_config = SettingsConfigDict(env_prefix="SMSC_ARCHIVE_", frozen=True, extra="ignore")

    root: str = Field(default=DEFAULT_ARCHIVE_ROOT, min_length=1, description="archive root path or URL")
