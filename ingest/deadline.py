"""The per-request deadline on the broker's ack: one timer for all requests.

`asyncio.timeout` schedules (and cancels) a timer handle per request, and a deadline that cancels the
request's task must then tell its own cancellation from a shutdown's. Here the deadline does not touch
the task at all: it fails the future the request waits on (the publisher's ack) with a `PublishError`,
exactly as a broker error would, so a late request and a refused one take the same 503 path. Every
request has the same deadline, so deadlines expire in arrival order: a deque ordered by arrival and one
timer for its oldest live entry do the work of a timer per request.

A record already handed to the broker may still be stored after its request was answered 503; SMSC
sends that callback again and the stream processors deduplicate it.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ingest.errors import PublishError


class Deadlines:
    """Deadlines of `seconds` from now, for futures of one event loop."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._reason = f"no ack within {seconds:g}s"
        self._pending: deque[tuple[float, asyncio.Future[None], str]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def seconds(self) -> float:
        return self._seconds

    def watch(self, ack: asyncio.Future[None], topic: str) -> None:
        """Fail `ack` with a PublishError `seconds` from now unless it is done before."""
        if ack.done():
            return
        loop = ack.get_loop()
        if loop is not self._loop:  # a new event loop (tests run several): the old one's timer is gone
            self._loop, self._timer = loop, None
            self._pending.clear()
        pending = self._pending
        # Done entries are dropped from the front as new ones arrive: the deque holds roughly the
        # requests in flight, not every request of the last `seconds`.
        while pending and pending[0][1].done():
            pending.popleft()
        when = loop.time() + self._seconds
        pending.append((when, ack, topic))
        if self._timer is None:
            self._timer = loop.call_at(when, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        pending = self._pending
        while pending:
            when, ack, topic = pending[0]
            if not ack.done():
                if when > now:
                    break
                ack.set_exception(PublishError(self._reason, topic=topic))
            pending.popleft()
        self._timer = loop.call_at(pending[0][0], self._expire, loop) if pending else None

    def __len__(self) -> int:
        return len(self._pending)
