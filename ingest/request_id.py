"""Request ids: 32 hex digits, unique without a system call per request.

A random id per request (`os.urandom`) is a system call each time, ~5 % of ingest's CPU in a profile
(of the server under the ingest benchmark's load, 2026-12-02, with the previous publisher).
Uniqueness is all an id needs: 64 random bits drawn once per process (so that processes, workers and
restarts never share ids) followed by a 64-bit counter.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable


def request_id_source() -> Callable[[], str]:
    """A function giving a new id on every call; call this once per process."""
    prefix = os.urandom(8).hex()
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter):016x}"
