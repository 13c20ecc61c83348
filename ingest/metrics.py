"""Every metric of the ingest service, built on a registry that is passed in (tests use a fresh one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from ingest.accounts import UNKNOWN_ACCOUNT_LABEL
from ingest.admission import Reason
from smsc.kinds import CallbackKind
from smsc.wire import BodyFormat

#: Full names as Prometheus exposes them: dashboards and alerts import these instead of retyping them.
REQUESTS_TOTAL: Final = "smsc_ingest_requests_total"
REQUEST_DURATION_SECONDS: Final = "smsc_ingest_request_duration_seconds"
REJECTED_TOTAL: Final = "smsc_ingest_rejected_total"
BROKER_ERRORS_TOTAL: Final = "smsc_ingest_broker_errors_total"

#: `kind` and `format` of a request whose body could not be decoded.
UNKNOWN: Final = "unknown"
KIND_LABELS: Final = (*(kind.value for kind in CallbackKind), UNKNOWN)
FORMAT_LABELS: Final = (*(body_format.value for body_format in BodyFormat), UNKNOWN)

#: The (kind, format) pairs a request can have: a decoded body has both, an undecoded one neither.
_DECODED: Final = (
    *((kind.value, body_format.value) for kind in CallbackKind for body_format in BodyFormat),
    (UNKNOWN, UNKNOWN),
)

#: From well under a millisecond (the answer of a healthy stack) to the 5 s deadline and beyond.
DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class IngestMetrics:
    """The four metrics of the issue. Labels are bounded: configured accounts + `unknown`, the kinds,
    the formats, the HTTP codes ingest answers and the rejection reasons; never a phone, an id or text."""

    def __init__(self, registry: CollectorRegistry, accounts: Iterable[str]) -> None:
        self.requests = Counter(
            "smsc_ingest_requests",
            "Callback requests answered, by account, callback kind, body format and HTTP status code.",
            ["account", "kind", "format", "code"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "smsc_ingest_request_duration_seconds",
            "Time from the request's arrival to its answer (includes waiting for the broker's ack).",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "smsc_ingest_rejected",
            "Callback requests refused (and copied to the rejected topic), by account and reason.",
            ["account", "reason"],
            registry=registry,
        )
        self.broker_errors = Counter(
            "smsc_ingest_broker_errors",
            "Records the broker did not acknowledge in time or refused (each answered 503 or lost from "
            "the rejected topic).",
            registry=registry,
        )
        # Initialise the series a dashboard divides by, so that rate() sees them from the first scrape.
        for account in accounts:
            for reason in Reason:
                if reason is not Reason.UNKNOWN_ACCOUNT:
                    self.rejected.labels(account, reason.value)
            for kind, body_format in _DECODED:
                self.requests.labels(account, kind, body_format, "200")
                self.requests.labels(account, kind, body_format, "503")
            # A body that never arrived was never decoded: a 408 has neither kind nor format.
            self.requests.labels(account, UNKNOWN, UNKNOWN, "408")
        self.rejected.labels(UNKNOWN_ACCOUNT_LABEL, Reason.UNKNOWN_ACCOUNT.value)
