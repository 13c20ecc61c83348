"""The exceptions of the reports package: one root, each naming what is missing or wrong and why."""

from __future__ import annotations

from datetime import datetime


class ReportsError(Exception):
    """Root of every error reports/ raises on purpose; the CLI prints it and exits 2."""


class ArchiveNotFoundError(ReportsError):
    """No archive (or no partition of this kind) at the root."""

    def __init__(self, root: str, kind: str) -> None:
        self.root = root
        self.kind = kind
        super().__init__(
            f"no archive of {kind!r} events at {root!r} (is the worker writing there? set SMSC_ARCHIVE_ROOT "
            "or --root)"
        )


class EmptyRangeError(ReportsError):
    """The archive exists but holds no event of this kind in the range asked for."""

    def __init__(
        self, kind: str, since: datetime | None, until: datetime | None, condition: str = ""
    ) -> None:
        self.kind = kind
        self.since = since
        self.until = until
        self.condition = condition  # e.g. "account acme and type viber": the filters that left nothing
        start = since.isoformat() if since else "the beginning"
        end = until.isoformat() if until else "the end"
        of = f" of {condition}" if condition else ""
        super().__init__(f"no {kind!r} events{of} in the archive from {start} to {end}")


class BadOptionError(ReportsError):
    """A value given to the CLI or to a report does not make sense."""

    def __init__(self, option: str, value: object, reason: str) -> None:
        self.option = option
        self.value = value
        self.reason = reason
        super().__init__(f"{option}={value!r}: {reason}")
