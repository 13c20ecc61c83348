"""The exceptions of the ingest service: one root, each saying which topic and why."""

from __future__ import annotations


class IngestError(Exception):
    """Root of every error the ingest service raises on purpose."""


class PublishError(IngestError):
    """A record was not acknowledged by the broker: the producer refused it, or the broker failed it."""

    def __init__(self, reason: str, *, topic: str) -> None:
        self.reason = reason
        self.topic = topic
        super().__init__(f"{topic}: {reason}")
