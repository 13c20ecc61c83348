"""The simulator's exceptions: one root, each naming what is wrong."""

from __future__ import annotations


class SimulatorError(Exception):
    """Root of the simulator's errors."""


class ConfigError(SimulatorError, ValueError):
    """An option or parameter of the workload is invalid: `field` names it, `reason` says why."""

    def __init__(self, reason: str, *, field: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class EndpointUnreachableError(SimulatorError):
    """The callback URL cannot be connected to at all (nothing listens, or the name does not resolve)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url}: {reason}")
