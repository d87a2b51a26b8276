"""Run ``tracestream worker`` (or another service command) as a child process:
for benchmarks, tests and the demo.

The child gets its settings through ``TRACESTREAM_*`` environment variables
(the documented edge), so what runs is exactly what an operator runs.
:meth:`ServiceProcess.start` blocks until ``/metrics`` answers; :meth:`stop`
sends SIGTERM (the service commits and closes cleanly) and waits, then
SIGKILLs past its budget. :class:`WorkerProcess` is the worker's;
``tracestream._sink_process`` has the sink's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from tracestream.schemas import TracestreamError

__all__ = [
    "ServiceProcess",
    "WorkerProcess",
    "WorkerProcessError",
    "free_port",
    "metric_value",
    "scrape",
]


class WorkerProcessError(TracestreamError):
    """A service child (worker or sink) did not come up, or died; the message carries
    its log tail."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scrape(port: int, *, timeout_s: float = 2.0) -> str:
    """The worker's /metrics text. Raises ``OSError`` when it does not answer."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        body: bytes = response.read()
        return body.decode()


def metric_value(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets) in a /metrics text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


class ServiceProcess:
    """One ``tracestream <command>`` child process serving /metrics on ``metrics_port``.

    Args:
        command: the CLI command (``worker``, ``sink``).
        env: ``TRACESTREAM_*`` settings for the child (merged over this process's env;
            ``TRACESTREAM_HOME`` defaults to ``workdir/home``).
        workdir: the child's working directory; its log goes to ``workdir/<command>.log``.
        metrics_port: port of the child's /metrics; a free one by default. It stays
            the same across :meth:`start` calls, so a restart serves where the
            crashed child did.
        args: the command's arguments (the port's, and extra ones like ``--verbose``).
    """

    def __init__(
        self,
        command: str,
        env: Mapping[str, str],
        workdir: Path,
        *,
        metrics_port: int,
        args: Sequence[str] = (),
    ) -> None:
        self.command = command
        self.metrics_port = metrics_port
        self.args = tuple(args)
        self.workdir = workdir
        self.log_path = workdir / f"{command}.log"
        self._env = {**os.environ, "TRACESTREAM_HOME": str(workdir / "home"), **env}
        self.home = Path(self._env["TRACESTREAM_HOME"])
        self._proc: subprocess.Popen[bytes] | None = None
        #: When the last :meth:`start` spawned the child (``time.monotonic()``).
        self.spawned_at = 0.0

    def start(self, *, timeout_s: float = 120.0) -> Self:
        """Start the child and wait until /metrics answers.

        Raises:
            WorkerProcessError: it exited or did not answer within ``timeout_s``.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.spawned_at = time.monotonic()
        self._proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("tracestream")), self.command, *self.args],
            env=self._env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise WorkerProcessError(
                    f"{self.command} exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            try:
                scrape(self.metrics_port, timeout_s=1.0)
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.kill()
        raise WorkerProcessError(
            f"{self.command} did not serve /metrics in {timeout_s}s:\n{self.log_tail()}"
        )

    def metrics(self) -> str:
        """The child's current /metrics text."""
        return scrape(self.metrics_port)

    def stop(self, *, timeout_s: float = 60.0) -> int:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL the child (a crash, for fault tests) and reap it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._proc = None

    def running(self) -> bool:
        """Whether the child is alive right now."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._proc.pid if self.running() and self._proc is not None else None

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the running child has used so far (Linux ``/proc``).

        Raises:
            WorkerProcessError: the child is not running.
        """
        pid = self.pid
        if pid is None:
            raise WorkerProcessError(f"the {self.command} child is not running")
        # Fields after the command name (which may hold spaces): utime and stime are
        # the 12th and 13th, in clock ticks.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_lines(self) -> list[str]:
        """Every line of the child's log so far (all its starts)."""
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the child's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class WorkerProcess(ServiceProcess):
    """One ``tracestream worker`` child; its /metrics port is ``web_port``.

    Args:
        env: ``TRACESTREAM_*`` settings for the child.
        workdir: the child's working directory; its log goes to ``workdir/worker.log``.
        web_port: port of the child's /metrics (``worker_web_port``); a free one by default.
        args: extra arguments of ``tracestream worker`` (``--verbose``).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        workdir: Path,
        *,
        web_port: int | None = None,
        args: Sequence[str] = (),
    ) -> None:
        port = web_port or free_port()
        super().__init__(
            "worker",
            {**env, "TRACESTREAM_WORKER_WEB_PORT": str(port)},
            workdir,
            metrics_port=port,
            args=args,
        )

    @property
    def web_port(self) -> int:
        """The worker's /metrics port."""
        return self.metrics_port
