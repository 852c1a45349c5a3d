"""A server process run for a test: own process group, log file, readiness wait, clean stop, restart.

Also what every test server shares: start() and stop(), and a block that keeps one running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol, TypeVar

import httpx


class Server(Protocol):
    """Anything a test starts and must stop."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServerT = TypeVar("ServerT", bound=Server)


@contextlib.contextmanager
def running(server: ServerT) -> Iterator[ServerT]:
    """`server`, started for the block and stopped however the block ends."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ManagedProcessError(RuntimeError):
    """A managed process died or never became ready; the message carries its log tail."""


class ManagedProcess:
    """One server process: started in its own session, ready once `ready_url` answers 200, stopped as a group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.ready_url = ready_url
        self.log_path = log_path
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """PID of the process (also its process group id), None before the first start."""
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start the process and block until it is ready; raise ManagedProcessError with the log tail if it is not."""
        if self.running:
            raise ManagedProcessError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append: a restart keeps the earlier run's log for the post-mortem.
        self._log = self.log_path.open("ab")
        self._log.write(f"\n==== start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,  # its own process group, so stop() reaches the engine's worker processes too
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        started = time.monotonic()
        while time.monotonic() - started < self.startup_timeout:
            if self._proc is not None and self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise ManagedProcessError(
                    f"{self.name} exited with code {code} before {self.ready_url} answered.\n{self.describe_log()}"
                )
            try:
                if httpx.get(self.ready_url, timeout=5.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ManagedProcessError(
            f"{self.name} was not ready at {self.ready_url} within {self.startup_timeout:.0f}s.\n{self.describe_log()}"
        )

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the process group, SIGKILL whatever is left after `grace` seconds; safe to call twice."""
        proc = self._proc
        if proc is not None:
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
            # Workers may outlive the leader (and hold its port): sweep the whole group.
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the process log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def describe_log(self, lines: int = 40) -> str:
        """The log's path and its last lines, for error messages."""
        return f"log {self.log_path}, last {lines} lines:\n{self.log_tail(lines)}"


class ProcessServer:
    """A server that is one ManagedProcess: start() returns once it is ready, stop() ends its whole group."""

    process: ManagedProcess

    def start(self) -> None:
        """Start the process and wait until it is ready."""
        self.process.start()

    def stop(self) -> None:
        """Stop the process and everything it started."""
        self.process.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
