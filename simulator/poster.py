"""Posting callbacks the way the SMSC server does: bounded concurrency, a target rate, and its retries.

SMSC repeats a callback answered with anything but 200 or 404 every `retry_interval_seconds`, up to
`max_attempts` attempts in all (defaults: 240 s, 50, about 3 h 20 min). A timeout or a refused connection
is "anything else" too. Callbacks of one message (same key) are never in flight at the same time, so the
order in which 200s come back for a message is the order the endpoint stored them in: the recount
(`on_accepted`) sees each message's callbacks exactly in the endpoint's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlsplit

import aiohttp
import yarl

from simulator.callbacks import SimulatedCallback
from simulator.errors import ConfigError, EndpointUnreachableError

#: What SMSC takes as "done": 200 (stored) and 404 (no such handler: stop trying, the callback is lost).
FINAL_CODES: Final = frozenset({200, 404})
TIMEOUT: Final = "timeout"
CONNECTION_ERROR: Final = "connection_error"
CLIENT_ERROR: Final = "client_error"
USER_AGENT: Final = "smsc-analytics-simulator"


@dataclass(frozen=True, slots=True)
class PostPolicy:
    #: New callbacks per second (first attempts); None: as fast as the concurrency allows.
    rate_per_second: float | None = None
    concurrency: int = 16
    retry_interval_seconds: float = 240.0
    max_attempts: int = 50
    timeout_seconds: float = 10.0
    #: Stop taking new callbacks after this many / this long; None: until the input ends or `stop`.
    count: int | None = None
    duration_seconds: float | None = None
    #: After the last new callback, keep retrying for at most this long; None: until every callback is
    #: answered 200/404 or has used up its attempts.
    drain_timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        checks = {
            "rate_per_second": self.rate_per_second is None or self.rate_per_second > 0,
            "concurrency": self.concurrency >= 1,
            "retry_interval_seconds": self.retry_interval_seconds >= 0,
            "max_attempts": self.max_attempts >= 1,
            "timeout_seconds": self.timeout_seconds > 0,
            "count": self.count is None or self.count >= 0,
            "duration_seconds": self.duration_seconds is None or self.duration_seconds >= 0,
            "drain_timeout_seconds": self.drain_timeout_seconds is None or self.drain_timeout_seconds >= 0,
        }
        for name, valid in checks.items():
            if not valid:
                raise ConfigError(f"{getattr(self, name)!r} is out of range", field=name)


@dataclass(slots=True)
class PostStats:
    """Live counts of a run (the progress callback receives this object)."""

    started: float = field(default_factory=time.monotonic)
    #: New callbacks taken (first attempts started or waiting behind their message's previous callback).
    posted: int = 0
    attempts: int = 0
    #: Every attempt's answer: "200", "503", ... or "timeout", "connection_error", "client_error".
    answers: Counter[str] = field(default_factory=Counter)
    #: Per callback, once known: "accepted" (200), "not_found" (404), "gave_up" (attempts used up).
    outcomes: Counter[str] = field(default_factory=Counter)
    retry_pending: int = 0

    @property
    def elapsed_seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def unfinished(self) -> int:
        return self.posted - sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class PostReport:
    posted: int
    attempts: int
    answers: dict[str, int]
    #: accepted / not_found / gave_up / unfinished (still awaiting a retry when the run ended).
    outcomes: dict[str, int]
    elapsed_seconds: float
    #: True when `stop` ended the run early.
    stopped: bool

    @property
    def attempts_per_second(self) -> float:
        return self.attempts / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def reached_endpoint(self) -> bool:
        """Whether any attempt got an HTTP answer at all."""
        return any(code.isdigit() for code in self.answers)


@dataclass(slots=True)
class _Job:
    callback: SimulatedCallback
    attempts: int = 0


def callback_url(base_url: str, callback: SimulatedCallback) -> yarl.URL:
    """`{base_url}/{account}` plus the callback's query string (already percent-encoded)."""
    url = f"{base_url.rstrip('/')}/{quote(callback.account, safe='')}"
    if callback.query_string:
        url += f"?{callback.query_string}"
    return yarl.URL(url, encoded=True)


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL without query string; ConfigError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL", field="url")
    if parts.query or parts.fragment:
        raise ConfigError("give the handler URL without ?query (options set charset, fmt, md5)", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"{url!r} has an invalid port", field="url") from None
    return parts.hostname, port


async def check_reachable(url: str, *, timeout_seconds: float = 5.0) -> None:
    """Open (and close) one TCP connection to the URL's host and port, or raise EndpointUnreachableError."""
    host, port = check_url(url)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_seconds)
    except TimeoutError:
        raise EndpointUnreachableError(url, f"no answer within {timeout_seconds:g} s") from None
    except OSError as exc:
        raise EndpointUnreachableError(url, exc.strerror or str(exc)) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class Poster:
    """Posts a stream of callbacks to `{base_url}/{account}` as the SMSC server would."""

    def __init__(
        self,
        base_url: str,
        policy: PostPolicy,
        *,
        on_accepted: Callable[[SimulatedCallback], None] | None = None,
        on_progress: Callable[[PostStats], None] | None = None,
        progress_interval_seconds: float = 5.0,
    ) -> None:
        check_url(base_url)
        self.base_url = base_url
        self.policy = policy
        self.on_accepted = on_accepted
        self.on_progress = on_progress
        self.progress_interval_seconds = progress_interval_seconds
        self.stats = PostStats()

    async def run(
        self, callbacks: Iterable[SimulatedCallback], *, stop: asyncio.Event | None = None
    ) -> PostReport:
        """Post until the input, `count` or `duration` ends (or `stop` is set), then drain the retries."""
        return await _Run(self, stop or asyncio.Event()).run(callbacks)


class _Run:
    """One run's state: the ready queue, the per-message order, the pending retries."""

    def __init__(self, poster: Poster, stop: asyncio.Event) -> None:
        self.poster = poster
        self.policy = poster.policy
        self.stats = poster.stats = PostStats()
        self.stop = stop
        self.ready: asyncio.Queue[_Job] = asyncio.Queue()
        #: key -> callbacks of that message waiting for the one in flight; a key present = busy.
        self.busy: dict[str, deque[_Job]] = {}
        #: Bounds the callbacks taken but not yet tried once, so the input is read only as fast as needed.
        self.slots = asyncio.Semaphore(self.policy.concurrency * 2)
        self.retries: set[asyncio.Task[None]] = set()
        self.outstanding = 0
        self.feeding = True
        self.closing = False
        self.all_done = asyncio.Event()
        self.workers: list[asyncio.Task[None]] = []

    async def run(self, callbacks: Iterable[SimulatedCallback]) -> PostReport:
        policy = self.policy
        timeout = aiohttp.ClientTimeout(total=policy.timeout_seconds)
        connector = aiohttp.TCPConnector(limit=policy.concurrency, limit_per_host=policy.concurrency)
        headers = {"User-Agent": USER_AGENT}
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
            self.workers = [asyncio.create_task(self.worker(session)) for _ in range(policy.concurrency)]
            progress = asyncio.create_task(self.progress())
            try:
                await self.until(self.feed(callbacks))
                await self.until(self.drain())
            finally:
                await self.close(self.workers, progress)
        return self.report()

    async def until(self, step: Coroutine[Any, Any, None]) -> None:
        """Run `step`, failing at once if a worker failed (a bug must not hang the run)."""
        task = asyncio.create_task(step)
        try:
            while not task.done():
                await asyncio.wait({task, *self.workers}, return_when=asyncio.FIRST_COMPLETED)
                for worker in self.workers:
                    if worker.done():
                        worker.result()
                        raise RuntimeError("a poster worker stopped")
        finally:
            task.cancel()
        task.result()

    async def feed(self, callbacks: Iterable[SimulatedCallback]) -> None:
        policy, loop = self.policy, asyncio.get_running_loop()
        started = loop.time()
        for index, callback in enumerate(callbacks):
            if self.stop.is_set() or (policy.count is not None and index >= policy.count):
                break
            now = loop.time()
            if policy.duration_seconds is not None and now - started >= policy.duration_seconds:
                break
            if policy.rate_per_second is not None:
                wait = started + index / policy.rate_per_second - now
                if wait > 0 and await self.stopped_within(wait):
                    break
            await self.slots.acquire()
            self.outstanding += 1
            self.stats.posted += 1
            self.submit(_Job(callback))
        self.feeding = False
        if self.outstanding == 0:
            self.all_done.set()

    async def stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        return self.stop.is_set()

    async def drain(self) -> None:
        """Wait for every callback's fate, the drain timeout, or `stop`, whichever comes first."""
        waits = {asyncio.create_task(self.all_done.wait()), asyncio.create_task(self.stop.wait())}
        try:
            await asyncio.wait(
                waits, timeout=self.policy.drain_timeout_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in waits:
                task.cancel()

    async def close(self, workers: list[asyncio.Task[None]], progress: asyncio.Task[None]) -> None:
        """Drop pending retries and untried jobs; let the attempts in flight finish (their answer counts)."""
        self.closing = True
        for task in self.retries:
            task.cancel()
        while not self.ready.empty():
            self.ready.get_nowait()
            self.ready.task_done()
        await self.ready.join()
        for task in (*workers, progress):
            task.cancel()
        await asyncio.gather(*workers, progress, *self.retries, return_exceptions=True)
        self.stats.retry_pending = 0

    def submit(self, job: _Job) -> None:
        if self.closing:
            return
        waiting = self.busy.get(job.callback.key)
        if waiting is not None:
            waiting.append(job)
            return
        self.busy[job.callback.key] = deque()
        self.ready.put_nowait(job)

    def release(self, key: str) -> None:
        waiting = self.busy[key]
        if waiting and not self.closing:
            self.ready.put_nowait(waiting.popleft())
        else:
            del self.busy[key]

    async def worker(self, session: aiohttp.ClientSession) -> None:
        while True:
            job = await self.ready.get()
            try:
                answer = await self.attempt(session, job.callback)
                self.settle(job, answer)
            finally:
                self.ready.task_done()

    async def attempt(self, session: aiohttp.ClientSession, callback: SimulatedCallback) -> str:
        url = callback_url(self.poster.base_url, callback)
        headers = {"Content-Type": callback.content_type} if callback.content_type else None
        try:
            async with session.post(url, data=callback.body, headers=headers) as response:
                await response.read()
                return str(response.status)
        except TimeoutError:
            return TIMEOUT
        except aiohttp.ClientConnectionError:
            return CONNECTION_ERROR
        except aiohttp.ClientError:
            return CLIENT_ERROR

    def settle(self, job: _Job, answer: str) -> None:
        stats = self.stats
        job.attempts += 1
        stats.attempts += 1
        stats.answers[answer] += 1
        if job.attempts == 1:
            self.slots.release()
        if answer == "200":
            self.finish(job, "accepted")
            if self.poster.on_accepted is not None:
                self.poster.on_accepted(job.callback)
        elif answer == "404":
            self.finish(job, "not_found")
        elif job.attempts >= self.policy.max_attempts:
            self.finish(job, "gave_up")
        elif not self.closing:
            stats.retry_pending += 1
            task = asyncio.create_task(self.retry_later(job))
            self.retries.add(task)
            task.add_done_callback(self.retries.discard)
        self.release(job.callback.key)

    async def retry_later(self, job: _Job) -> None:
        await asyncio.sleep(self.policy.retry_interval_seconds)
        self.stats.retry_pending -= 1
        self.submit(job)

    def finish(self, job: _Job, outcome: str) -> None:
        self.stats.outcomes[outcome] += 1
        self.outstanding -= 1
        if self.outstanding == 0 and not self.feeding:
            self.all_done.set()

    async def progress(self) -> None:
        if self.poster.on_progress is None:
            return
        while True:
            await asyncio.sleep(self.poster.progress_interval_seconds)
            self.poster.on_progress(self.stats)

    def report(self) -> PostReport:
        stats = self.stats
        outcomes = dict(stats.outcomes)
        if stats.unfinished:
            outcomes["unfinished"] = stats.unfinished
        return PostReport(
            posted=stats.posted,
            attempts=stats.attempts,
            answers=dict(sorted(stats.answers.items())),
            outcomes=outcomes,
            elapsed_seconds=stats.elapsed_seconds,
            stopped=self.stop.is_set(),
        )
