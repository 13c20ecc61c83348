"""`--by`: the columns a report may group by, checked once for every report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from reports.errors import BadOptionError

#: What `--by` accepts; each report says which of them it knows.
MESSAGE_GROUPS: Final = ("account", "day", "type", "sender", "balance", "template_kind")


def check_by(by: Sequence[str], allowed: Sequence[str], report: str) -> list[str]:
    columns = [name.strip() for name in by if name.strip()]
    unknown = [name for name in columns if name not in allowed]
    if unknown or not columns:
        raise BadOptionError("--by", ",".join(by), f"{report} groups by any of {', '.join(allowed)}")
    return list(dict.fromkeys(columns))
