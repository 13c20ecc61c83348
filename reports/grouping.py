"""`--by`: the columns a report may group by, checked once for every report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from reports.errors import BadOptionError

#: What `--by` accepts; each report says which of them it knows. `country` and `carrier`: the message's
#: destination (from its statuses; `unknown` for events of version 1).
MESSAGE_GROUPS: Final = ("account", "day", "type", "sender", "balance", "template_kind", "country", "carrier")


def check_by(by: Sequence[str], allowed: Sequence[str], report: str) -> list[str]:
    """The grouping columns asked (blanks dropped, each once, in the order given), or `BadOptionError`
    naming the unknown ones and every accepted one."""
    columns = [name.strip() for name in by if name.strip()]
    unknown = [name for name in columns if name not in allowed]
    accepted = f"{report} groups by any of {', '.join(allowed)} (comma-separated)"
    if unknown:
        raise BadOptionError("--by", ",".join(by), f"unknown {', '.join(unknown)}; {accepted}")
    if not columns:
        raise BadOptionError("--by", ",".join(by), f"no column given; {accepted}")
    return list(dict.fromkeys(columns))
