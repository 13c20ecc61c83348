"""The per-request deadline: one timer for all requests instead of an `asyncio.timeout` each.

`asyncio.timeout` schedules (and cancels) a timer handle per request: under uvloop a libuv timer each,
~8 % of ingest's CPU in a profile. Every request here has the same deadline, so deadlines expire in
arrival order: a deque ordered by arrival and one timer for its oldest live entry do the same work.
Expiry is what `asyncio.timeout` does: the request's task is cancelled, which cancels the awaited
send or ack (aiokafka keeps delivering a record already handed over, as before), and the request turns
that cancellation back into an answer.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Deadline:
    """One request's deadline; `finish()` once the awaited work is over, whatever its outcome."""

    __slots__ = ("expired", "finished", "task", "when")

    def __init__(self, when: float, task: asyncio.Task[object]) -> None:
        self.when = when
        self.task = task
        self.finished = False
        self.expired = False

    def finish(self) -> None:
        self.finished = True

    def caused_cancellation(self) -> bool:
        """Whether this deadline, and nothing else (a server shutdown), cancelled the task; if so the
        cancellation is consumed, as `asyncio.timeout` consumes its own."""
        return self.expired and self.task.uncancel() == 0


class Deadlines:
    """Deadlines of `seconds` from now, for tasks of one event loop."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._pending: deque[Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def seconds(self) -> float:
        return self._seconds

    def start(self) -> Deadline:
        """The current task is cancelled `seconds` from now unless the deadline is finished before."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs a task to cancel")
        if loop is not self._loop:  # a new event loop (tests run several): the old one's timer is gone
            self._loop, self._timer = loop, None
            self._pending.clear()
        deadline = Deadline(loop.time() + self._seconds, task)
        pending = self._pending
        # Finished requests are dropped from the front as new ones arrive: the deque holds roughly the
        # requests in flight, not every request of the last `seconds`.
        while pending and pending[0].finished:
            pending.popleft()
        pending.append(deadline)
        if self._timer is None:
            self._timer = loop.call_at(deadline.when, self._expire, loop)
        return deadline

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        pending = self._pending
        while pending:
            head = pending[0]
            if not head.finished:
                if head.when > now:
                    break
                head.expired = True
                head.task.cancel()
            pending.popleft()
        self._timer = loop.call_at(pending[0].when, self._expire, loop) if pending else None

    def __len__(self) -> int:
        return len(self._pending)
