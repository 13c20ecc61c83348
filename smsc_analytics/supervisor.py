"""Child processes of `smsc-analytics up`: started in their own process group, stopped with a deadline.

Each child gets its own session (so a Ctrl-C in the terminal reaches `up` only, which then stops the
children in order) and, on Linux, PR_SET_PDEATHSIG: it is killed if `up` itself dies, even by kill -9.
Stopping signals the whole group (SIGTERM, a deadline, then SIGKILL), so nothing a child started is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: die with `up`, whatever kills it."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """One supervised process; its stdout and stderr go to `log_path`."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return self.process.poll() if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_seconds: float) -> None:
        """SIGTERM to the child's group, SIGKILL to it after the deadline; returns once it is reaped."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait(timeout_seconds)
        # Grandchildren that outlived their parent are still in the group: no survivors.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: signal.Signals) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """The children in start order; stopped in reverse order, each with its own deadline."""

    def __init__(self, stop_timeout_seconds: float = 15.0) -> None:
        self.children: list[Child] = []
        self.stop_timeout_seconds = stop_timeout_seconds

    def start(self, child: Child) -> Child:
        self.children.append(child)
        child.start()
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop(self.stop_timeout_seconds)

    def failed(self, *, finished_ok: Sequence[Child] = ()) -> Child | None:
        """The first child that exited, except those in `finished_ok` that exited with 0."""
        for child in self.children:
            code = child.exit_code()
            if code is None:
                continue
            if code == 0 and child in finished_ok:
                continue
            return child
        return None
