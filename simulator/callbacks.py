"""One simulated callback: the parameters SMSC meant, the HTTP request it sends, and what fault it carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from smsc import BodyFormat, CallbackKind


class Fault(StrEnum):
    """Why a callback differs from the clean workload."""

    #: The same callback again, byte for byte: SMSC retrying after an answer it did not take for 200.
    DUPLICATE = "duplicate"
    #: A copy whose body cannot be decoded or parsed (the stream processors dead-letter it).
    MALFORMED = "malformed"
    #: A copy without the signature parameter (an endpoint with a secret answers 403).
    UNSIGNED = "unsigned"
    #: A copy whose signature was made with another secret (an endpoint with a secret answers 403).
    BAD_SIGNATURE = "bad_signature"
    #: A status sent before an earlier status of the same message (their sending order swapped).
    OUT_OF_ORDER = "out_of_order"
    #: A pending status sent only after the message's final status.
    LATE = "late"


#: Faults that add a copy of another callback; OUT_OF_ORDER and LATE only move a callback in time.
COPY_FAULTS = frozenset({Fault.DUPLICATE, Fault.MALFORMED, Fault.UNSIGNED, Fault.BAD_SIGNATURE})


@dataclass(frozen=True, slots=True)
class SimulatedCallback:
    """A callback as the SMSC server posts it to `{url}/{account}?{query_string}`.

    `params` are what a correct decoder must read from `body` + `query_string` (for a MALFORMED callback:
    what the sender meant; the body does not say it). `sent_at` is the simulated Unix time of the post.
    """

    seq: int
    account: str
    kind: CallbackKind
    #: The partition key of the raw record: `id:phone` for a status, `phone` otherwise.
    key: str
    params: Mapping[str, str]
    body: bytes
    query_string: str
    content_type: str
    charset: str
    body_format: BodyFormat
    #: Parameters sent in the query string (the `!` rule).
    query_keys: tuple[str, ...]
    sent_at: float
    fault: Fault | None = None
    #: For a copy (duplicate, malformed, unsigned, badly signed): the `seq` of the callback it copies.
    original_seq: int | None = None

    @property
    def is_duplicate(self) -> bool:
        return self.fault is Fault.DUPLICATE

    @property
    def is_malformed(self) -> bool:
        return self.fault is Fault.MALFORMED

    @property
    def is_copy(self) -> bool:
        return self.fault in COPY_FAULTS

    @property
    def signature_fault(self) -> bool:
        """True when an endpoint that checks signatures must refuse it (403)."""
        return self.fault in (Fault.UNSIGNED, Fault.BAD_SIGNATURE)
