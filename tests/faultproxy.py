"""A loopback TCP proxy that tests put between Kafka clients and the broker to cut, stall or refuse links.

The proxy runs its own asyncio loop in a daemon thread, so the controls work the same from synchronous
tests, async tests, and while the clients live in subprocesses. Every control is thread-safe and has
taken effect when it returns.

The `proxied_broker` fixture (tests/conftest.py) gives a broker that advertises the proxy's port, so
clients reach the broker through the proxy for bootstrap AND afterwards (Kafka clients connect to the
address in the metadata, not to the bootstrap address)::

    def test_x(proxied_broker: ProxiedBroker) -> None:
        producer = confluent_kafka.Producer({"bootstrap.servers": proxied_broker.bootstrap_servers, ...})
        proxy = proxied_broker.proxy
        proxy.wait_for(lambda s: s.open > 0)  # bounded poll of stats(); `await proxy.wait_for_async(...)`
        proxy.cut()      # RST every open connection, both sides; new connections work at once
        proxy.stall()    # connections stay open, no byte moves either way until heal()
        proxy.stall(to_upstream=False)  # requests reach the broker, responses are held: an ambiguous write
        proxy.refuse()   # cut every open connection and RST each new one at once
        proxy.heal()     # back to normal: held bytes are delivered in order, new connections forwarded
        proxy.stats()    # ProxyStats: accepted, refused, open, cut, bytes each way, held, dropped

Semantics worth knowing:

- Stall holds bytes, it does not drop them: the proxy keeps reading (up to 4 MiB per connection and
  direction, then the kernel buffers hold the rest) so `held_to_upstream`/`held_to_client` show what
  a stall caught, and heal() delivers it in order if its connection is still open. A connection that
  ends first loses what was held for it (counted in `dropped_bytes`), as on a dead network path.
  aiokafka and librdkafka close a connection whose request timed out, so with `stall()` a timed-out
  request does not reach the broker later; with `stall(to_upstream=False)` the broker has already
  acted on it and only the answer is lost: the ambiguous write that idempotence is for.
- Connections accepted during a stall are connected upstream but stalled like the others.
- refuse() accepts and resets (SO_LINGER 0) instead of closing the listening socket, so the port
  cannot be taken by another process meanwhile; clients see a connection reset, not ECONNREFUSED.
- A connection that one side closes is closed on the other side too (gracefully, or with a reset if
  the first side was reset); Kafka never half-closes a connection.
- Tansu, unlike Apache Kafka, rejects the epoch bump that librdkafka's idempotent producer makes on
  its own after one of its messages timed out (message.timeout.ms): every later produce of that
  producer fails with PRODUCER_FENCED. A fault long enough to time messages out therefore needs a
  new producer afterwards (or a test that expects exactly that).

Outside pytest fixtures (another scope, a helper process), `running_proxied_broker()` builds the same
pair; `FaultProxy((host, port))` alone proxies any TCP service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from embedded_broker import EmbeddedBroker

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# SO_LINGER on with a zero timeout: close() sends RST and discards unsent data, like a dead peer.
_LINGER_RESET = struct.pack("ii", 1, 0)
_CONTROL_TIMEOUT_SECONDS = 5.0
_UPSTREAM_CONNECT_TIMEOUT_SECONDS = 5.0
# Per connection and direction; beyond it a stall stops reading and the kernel buffers hold the rest.
_HOLD_LIMIT_BYTES = 4 << 20


class FaultProxyError(RuntimeError):
    """The proxy cannot bind its port, is not running, or its thread did not answer in time."""


@dataclasses.dataclass(frozen=True)
class ProxyStats:
    """A consistent snapshot of the proxy's counters (totals since start, unless marked "now")."""

    accepted: int  # connections accepted and forwarded upstream (refused ones are not counted)
    refused: int  # connections reset at once because refuse() was in force
    open: int  # now: connections being forwarded (or stalled)
    cut: int  # connections reset by cut() or refuse()
    upstream_failures: int  # connections reset because the upstream could not be reached
    bytes_to_upstream: int  # bytes written to the upstream (client → broker: requests)
    bytes_to_client: int  # bytes written to clients (broker → client: responses)
    held_to_upstream: int  # now: bytes read from clients and held by a stall
    held_to_client: int  # now: bytes read from the upstream and held by a stall
    dropped_bytes: int  # held bytes discarded because their connection ended before heal()


@dataclasses.dataclass
class _Counters:
    accepted: int = 0
    refused: int = 0
    open: int = 0
    cut: int = 0
    upstream_failures: int = 0
    bytes_to_upstream: int = 0
    bytes_to_client: int = 0
    held_to_upstream: int = 0
    held_to_client: int = 0
    dropped_bytes: int = 0


def _reset_on_close(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; bytes it receives go to the other side."""

    def __init__(self, link: _Link, *, is_client: bool) -> None:
        self.link = link
        self.is_client = is_client
        self.transport: asyncio.Transport | None = None
        self.write_paused = False  # our socket's send buffer is full: the other side must stop reading
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.link.engine.live_transports += 1
        self.link.side_connected(self)

    def data_received(self, data: bytes) -> None:
        self.link.forward(self, data)

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost() closes the other side

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.link.engine.live_transports -= 1
        self.link.side_lost(self, exc)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.link.update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.link.update_reading()


class _Link:
    """A client connection and its upstream connection; everything runs on the proxy's loop."""

    def __init__(self, engine: _Engine) -> None:
        self.engine = engine
        self.client = _Side(self, is_client=True)
        self.upstream = _Side(self, is_client=False)
        self.closed = False
        self.held_to_upstream: list[bytes] = []
        self.held_to_client: list[bytes] = []
        self.held_size = {True: 0, False: 0}  # by `to_upstream`

    def other(self, side: _Side) -> _Side:
        return self.upstream if side.is_client else self.client

    def side_connected(self, side: _Side) -> None:
        if side.is_client:
            self.engine.on_accept(self)
        elif self.closed:
            self._reset(side)
        else:
            self.flush()
            self.update_reading()

    def forward(self, side: _Side, data: bytes) -> None:
        if self.closed:
            return
        target = self.other(side)
        to_upstream = side.is_client
        held = self.held_to_upstream if to_upstream else self.held_to_client
        if held or target.transport is None or self.engine.stalled(to_upstream=to_upstream):
            held.append(data)
            self.held_size[to_upstream] += len(data)
            self.engine.count_held(to_upstream=to_upstream, size=len(data))
            self.update_reading()
            return
        # Counted before writing: a peer that has the bytes must find them in stats().
        self.engine.count_forwarded(to_upstream=to_upstream, size=len(data))
        target.transport.write(data)

    def flush(self) -> None:
        """Deliver what a stall (or a not yet connected upstream) held, in order, where no stall holds it."""
        for to_upstream in (True, False):
            held = self.held_to_upstream if to_upstream else self.held_to_client
            target = self.upstream if to_upstream else self.client
            if not held or target.transport is None or self.engine.stalled(to_upstream=to_upstream):
                continue
            size = self.held_size[to_upstream]
            self.engine.count_held(to_upstream=to_upstream, size=-size)
            self.engine.count_forwarded(to_upstream=to_upstream, size=size)
            target.transport.write(b"".join(held))
            held.clear()
            self.held_size[to_upstream] = 0

    def update_reading(self) -> None:
        """Read from a side while its bytes can move on or be held (bounded); else leave them in the kernel.

        A stall keeps reading (up to _HOLD_LIMIT_BYTES) so that stats() shows what it caught.
        """
        for side in (self.client, self.upstream):
            transport = side.transport
            if transport is None or transport.is_closing():
                continue
            peer = self.other(side)
            should_read = (
                not self.closed
                and peer.transport is not None
                and not peer.write_paused
                and self.held_size[side.is_client] < _HOLD_LIMIT_BYTES
            )
            if should_read and not transport.is_reading():
                transport.resume_reading()
            elif not should_read and transport.is_reading():
                transport.pause_reading()

    def side_lost(self, side: _Side, exc: Exception | None) -> None:
        if self.closed:
            return
        self._close()
        peer = self.other(side)
        if peer.transport is None:
            return
        if exc is None:
            peer.transport.close()  # flushes what was already forwarded, then FIN
        else:
            self._reset(peer)

    def abort(self) -> None:
        """Reset both sides now (RST), dropping whatever is held or still unsent."""
        if self.closed:
            return
        self._close()
        for side in (self.client, self.upstream):
            self._reset(side)

    def _close(self) -> None:
        self.closed = True
        for to_upstream, size in self.held_size.items():
            self.engine.count_held(to_upstream=to_upstream, size=-size)
        self.engine.count_dropped(sum(self.held_size.values()))
        self.held_to_upstream.clear()
        self.held_to_client.clear()
        self.held_size = {True: 0, False: 0}
        self.engine.forget(self)

    @staticmethod
    def _reset(side: _Side) -> None:
        if side.transport is not None and not side.lost:
            _reset_on_close(side.transport)
            side.transport.abort()


class _Engine:
    """The proxy's state; touched only on the proxy's loop, except the counters (under a lock)."""

    def __init__(self, upstream: tuple[str, int] | None) -> None:
        self.upstream = upstream
        self.links: set[_Link] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stall_to_upstream = False
        self.stall_to_client = False
        self.refusing = False
        self.live_transports = 0
        self.lock = threading.Lock()
        self.counters = _Counters()

    def stalled(self, *, to_upstream: bool) -> bool:
        return self.stall_to_upstream if to_upstream else self.stall_to_client

    def on_accept(self, link: _Link) -> None:
        transport = link.client.transport
        assert transport is not None
        if self.refusing or self.upstream is None:
            link.closed = True
            with self.lock:
                if self.refusing:
                    self.counters.refused += 1
                else:
                    self.counters.upstream_failures += 1
            if self.upstream is None:
                logger.warning("fault proxy reset a connection reason=no_upstream_set")
            _reset_on_close(transport)
            transport.abort()
            return
        transport.pause_reading()  # until the upstream is connected
        self.links.add(link)
        with self.lock:
            self.counters.accepted += 1
            self.counters.open += 1
        task = asyncio.get_running_loop().create_task(self._connect_upstream(link, self.upstream))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect_upstream(self, link: _Link, upstream: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        host, port = upstream
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: link.upstream, host, port),
                _UPSTREAM_CONNECT_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError) as exc:
            if not link.closed:
                with self.lock:
                    self.counters.upstream_failures += 1
                logger.warning("fault proxy upstream unreachable upstream=%s:%s error=%r", host, port, exc)
                link.abort()

    def forget(self, link: _Link) -> None:
        if link in self.links:
            self.links.discard(link)
            with self.lock:
                self.counters.open -= 1

    def count_forwarded(self, *, to_upstream: bool, size: int) -> None:
        with self.lock:
            if to_upstream:
                self.counters.bytes_to_upstream += size
            else:
                self.counters.bytes_to_client += size

    def count_held(self, *, to_upstream: bool, size: int) -> None:
        with self.lock:
            if to_upstream:
                self.counters.held_to_upstream += size
            else:
                self.counters.held_to_client += size

    def count_dropped(self, size: int) -> None:
        if size:
            with self.lock:
                self.counters.dropped_bytes += size

    def cut(self) -> int:
        links = list(self.links)
        for link in links:
            link.abort()
        with self.lock:
            self.counters.cut += len(links)
        return len(links)

    def set_stall(self, *, to_upstream: bool, to_client: bool) -> None:
        self.stall_to_upstream = to_upstream
        self.stall_to_client = to_client
        for link in list(self.links):
            link.flush()
            link.update_reading()

    def snapshot(self) -> ProxyStats:
        with self.lock:
            return ProxyStats(**dataclasses.asdict(self.counters))


class FaultProxy:
    """A TCP proxy on `host:port` (0 picks a free port) forwarding to `upstream`, with fault controls.

    `upstream` may be given later with set_upstream(), so the proxy can hold its port before the
    broker that must advertise it starts; connections arriving before that are reset.
    """

    def __init__(
        self,
        upstream: tuple[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control_timeout_seconds: float = _CONTROL_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.control_timeout_seconds = control_timeout_seconds
        self._engine = _Engine(upstream)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._listening: concurrent.futures.Future[None] = concurrent.futures.Future()

    @property
    def address(self) -> str:
        """Where clients connect: `host:port`."""
        return f"{self.host}:{self.port}"

    @property
    def upstream(self) -> tuple[str, int] | None:
        return self._engine.upstream

    def start(self) -> Self:
        if self._thread is not None:
            raise FaultProxyError("the fault proxy is already running")
        self._listening = concurrent.futures.Future()
        # A plain selector loop whatever the global policy (uvloop): SO_LINGER needs the real socket.
        self._loop = asyncio.SelectorEventLoop()
        self._thread = threading.Thread(target=self._run, name=f"faultproxy-{self.port}", daemon=True)
        self._thread.start()
        try:
            self._listening.result(self.control_timeout_seconds)
        except TimeoutError:
            self.stop()
            raise FaultProxyError(
                f"the fault proxy did not start within {self.control_timeout_seconds}s"
            ) from None
        except OSError as exc:
            self.stop()
            raise FaultProxyError(f"the fault proxy cannot listen on {self.address}: {exc}") from exc
        logger.info("fault proxy listening address=%s upstream=%s", self.address, self._upstream_text())
        return self

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            server = await loop.create_server(
                lambda: _Link(self._engine).client, self.host, self.port, reuse_address=True
            )
        except OSError as exc:
            self._listening.set_exception(exc)
            return
        self.port = int(server.sockets[0].getsockname()[1])
        self._listening.set_result(None)
        try:
            await self._stopping.wait()
        finally:
            server.close()
            self._engine.cut()
            for task in list(self._engine.tasks):
                task.cancel()
            await asyncio.gather(*self._engine.tasks, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
            # Let the aborted transports run connection_lost() and close their sockets (no ResourceWarning).
            deadline = loop.time() + 2.0
            while self._engine.live_transports > 0 and loop.time() < deadline:
                await asyncio.sleep(0.01)

    def stop(self, timeout_seconds: float = 5.0) -> None:
        """Close every connection and the listening socket, and join the thread (bounded)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        stopping = self._stopping
        if thread.is_alive() and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop may have closed already
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout_seconds)
        if thread.is_alive():
            raise FaultProxyError(f"the fault proxy thread did not stop within {timeout_seconds}s")
        self._thread = None
        self._loop = None
        self._stopping = None
        logger.info("fault proxy stopped address=%s", self.address)

    def _call(self, fn: Callable[[], _T]) -> _T:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
            raise FaultProxyError("the fault proxy is not running; call start() first")
        if threading.get_ident() == thread.ident:
            return fn()

        async def on_loop() -> _T:
            return fn()

        future = asyncio.run_coroutine_threadsafe(on_loop(), loop)
        try:
            return future.result(self.control_timeout_seconds)
        except TimeoutError:
            future.cancel()
            raise FaultProxyError(
                f"the fault proxy thread did not answer within {self.control_timeout_seconds}s"
            ) from None

    def set_upstream(self, host: str, port: int) -> None:
        """Forward new connections to `host:port` (open ones keep their upstream)."""

        def apply() -> None:
            self._engine.upstream = (host, port)

        self._call(apply)
        logger.info("fault proxy upstream set address=%s upstream=%s:%s", self.address, host, port)

    def cut(self) -> int:
        """Reset (RST) every open connection on both sides; returns how many. New ones are forwarded."""
        count = self._call(self._engine.cut)
        logger.info("fault proxy cut address=%s connections=%s", self.address, count)
        return count

    def stall(self, *, to_upstream: bool = True, to_client: bool = True) -> None:
        """Stop moving bytes (held, not lost) in the chosen directions; connections stay open.

        `to_upstream` holds requests (client → broker), `to_client` holds responses. Calling it again
        sets the directions anew; heal() delivers what is held.
        """
        if not (to_upstream or to_client):
            raise ValueError("stall() needs at least one direction; heal() un-stalls")

        def apply() -> None:
            self._engine.set_stall(to_upstream=to_upstream, to_client=to_client)

        self._call(apply)
        logger.info(
            "fault proxy stall address=%s to_upstream=%s to_client=%s", self.address, to_upstream, to_client
        )

    def refuse(self) -> int:
        """Reset every new connection at once and cut the open ones (returns how many) until heal()."""

        def apply() -> int:
            self._engine.refusing = True
            return self._engine.cut()

        count = self._call(apply)
        logger.info("fault proxy refuse address=%s cut=%s", self.address, count)
        return count

    def heal(self) -> None:
        """Forward normally again: accept new connections and deliver the held bytes, in order."""

        def apply() -> None:
            self._engine.refusing = False
            self._engine.set_stall(to_upstream=False, to_client=False)

        self._call(apply)
        logger.info("fault proxy heal address=%s", self.address)

    def stats(self) -> ProxyStats:
        return self._engine.snapshot()

    def wait_for(self, predicate: Callable[[ProxyStats], bool], timeout_seconds: float = 10.0) -> ProxyStats:
        """Poll stats() until `predicate` holds; TimeoutError (with the last stats) after the timeout."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() >= deadline:
                raise TimeoutError(f"fault proxy condition not met within {timeout_seconds}s: {stats}")
            time.sleep(0.02)

    async def wait_for_async(
        self, predicate: Callable[[ProxyStats], bool], timeout_seconds: float = 10.0
    ) -> ProxyStats:
        """wait_for() for async tests: polls without blocking the caller's event loop."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() >= deadline:
                raise TimeoutError(f"fault proxy condition not met within {timeout_seconds}s: {stats}")
            await asyncio.sleep(0.02)

    def _upstream_text(self) -> str:
        upstream = self._engine.upstream
        return "unset" if upstream is None else f"{upstream[0]}:{upstream[1]}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclasses.dataclass(frozen=True)
class ProxiedBroker:
    """A broker that advertises the proxy's address, and that proxy: clients always pass through it."""

    proxy: FaultProxy
    broker: EmbeddedBroker

    @property
    def bootstrap_servers(self) -> str:
        """The proxy's address: give it to clients."""
        return self.proxy.address


@contextlib.contextmanager
def running_proxied_broker(**broker_options: Any) -> Iterator[ProxiedBroker]:
    """Proxy first (it holds its port), then a broker advertising that port, then forward to the broker.

    On exit the proxy stops first: the broker then has no client connection left to wait for.
    """
    with FaultProxy() as proxy, contextlib.ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(advertised_port=proxy.port, **broker_options))
        stack.callback(proxy.stop)
        proxy.set_upstream(broker.host, broker.port)
        yield ProxiedBroker(proxy=proxy, broker=broker)
