"""The body-read timeout: a request whose body has not arrived in time is answered 408, with one timer for
all requests."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any


class BodyTimedOut(Exception):  # noqa: N818 - a signal between two functions, not an error for callers
    """The request body was not complete within `body_read_timeout_seconds`: the answer is 408."""

    def __init__(self, received_bytes: int) -> None:
        super().__init__(received_bytes)
        self.received_bytes = received_bytes


class BodyReads:
    """The body reads in progress, and one timer that cancels those past their deadline.

    Even the usual body, which arrives with the headers, is watched: the first `receive()` can wait too
    (headers sent, body never). A stalled read waits inside the server's `receive()`, so unlike the ack
    deadline (`ingest.deadline`) there is no future of ours to fail: the read's task is cancelled, and the
    read tells that cancellation from any other (a shutdown's) by `timed_out`, as `asyncio.timeout` does.
    `asyncio.timeout` itself costs a timer handle per request, a libuv timer under uvloop: +10 µs per
    request in an in-process benchmark of `_read_body`, one task per request (2026-12-02; a throw-away
    driver, not kept in benchmarks/). As for the ack deadline, every read has the same time limit, so
    deadlines come in arrival order: an insertion-ordered dict of the reads in progress and one timer for
    its oldest entry cost +0.7 µs (best runs) to +2 µs (medians) in the same benchmark.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> asyncio.Task[Any]:
        """The current task, cancelled `seconds` from now unless `stop(task)` is called before."""
        loop = self._loop
        # Given the loop, Python 3.11's current_task() skips looking it up: half its cost.
        task = asyncio.current_task(loop) if loop is not None else None
        if loop is None or task is None:  # the first read, or a new event loop (tests run several)
            loop = self._loop = asyncio.get_running_loop()  # the old loop's timer is gone with it
            self._timer = None
            self._reading.clear()
            self._expired.clear()
            task = asyncio.current_task(loop)
            assert task is not None, "an ASGI app runs in a task"
        when = loop.time() + self._seconds
        self._reading[task] = when
        if self._timer is None:
            self._timer = loop.call_at(when, self._expire, loop)
        return task

    def stop(self, task: asyncio.Task[Any]) -> None:
        if self._reading.pop(task, None) is None:
            self._expired.discard(task)  # cancelled, yet its read ended otherwise: forget it

    def timed_out(self, task: asyncio.Task[Any], cancelling: int) -> bool:
        """Whether the CancelledError `task` got is this deadline's and no other cancellation is pending;
        `cancelling` is `task.cancelling()` when its read started."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() <= cancelling

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        reading = self._reading
        late = [task for task, _ in itertools.takewhile(lambda read: read[1] <= now, reading.items())]
        for task in late:
            del reading[task]
            self._expired.add(task)
            task.cancel("body read timeout")
        self._timer = loop.call_at(next(iter(reading.values())), self._expire, loop) if reading else None

    @property
    def seconds(self) -> float:
        return self._seconds

    def __len__(self) -> int:
        return len(self._reading)
