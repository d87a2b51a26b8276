"""The local pipeline of ``tracestream bench e2e``: a worker and a sink as child processes.

Both are the real commands (``tracestream worker``, ``tracestream sink``),
configured through ``TRACESTREAM_*`` variables as an operator would. The sink
owns its chDB directory and serves read-only queries to other processes
(``sinks`` query server); the bench reads the rows through that, as
``tracestream query`` would. The worker's child is the package's
:class:`~tracestream._worker_process.WorkerProcess`; the sink's is here
(the fault tests have their own, which a benchmark may not import).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tracestream._worker_process import WorkerProcess, free_port, metric_value, scrape
from tracestream.sinks import (
    ChdbStorage,
    Storage,
    discover_query_server,
    query_server_file,
)

__all__ = ["LocalPipeline", "SinkChild"]


class SinkChild:
    """One ``tracestream sink`` child into chDB under ``workdir/home``.

    /metrics on a free loopback port; its log in ``workdir/sink.log``.
    :meth:`start` blocks until /metrics answers and the query server is up.
    """

    def __init__(self, env: Mapping[str, str], workdir: Path) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        self.log_path = workdir / "sink.log"
        self.metrics_port = free_port()
        self._env = {**os.environ, **env, "TRACESTREAM_HOME": str(self.home)}
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout_s: float = 120.0) -> Storage:
        """Start the sink; return a reader over its query server.

        Raises:
            RuntimeError: it exited, or did not come up within ``timeout_s``.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("tracestream")),
                    "sink",
                    "--metrics-port",
                    str(self.metrics_port),
                ],
                env=self._env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the sink exited:\n{self.log_tail()}")
            try:
                scrape(self.metrics_port, timeout_s=1.0)
            except OSError:
                time.sleep(0.2)
                continue
            reader = discover_query_server(query_server_file(self.home), timeout_s=30.0)
            if reader is not None:
                return reader
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the sink did not come up in {timeout_s}s:\n{self.log_tail()}")

    def metrics(self) -> str:
        """The sink's /metrics text (``OSError`` when it does not answer)."""
        return scrape(self.metrics_port)

    def stop(self) -> int:
        """SIGTERM (the sink flushes and commits), SIGKILL past 60 s; the exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def open_storage(self) -> ChdbStorage:
        """The sink's database opened in this process (stop the sink first: one owner)."""
        storage = ChdbStorage(self.home / "chdb", "tracestream")
        storage.open()
        return storage

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class LocalPipeline:
    """A worker and a sink on one topic prefix; a context manager that stops both.

    Args:
        bootstrap: the broker.
        prefix: the topic prefix (its topics must exist).
        workdir: the children's working directories go under it.
    """

    def __init__(self, bootstrap: str, prefix: str, workdir: Path) -> None:
        env = {
            "TRACESTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "TRACESTREAM_TOPIC_PREFIX": prefix,
        }
        self.worker = WorkerProcess(env, workdir / "worker")
        self.sink = SinkChild(env, workdir / "sink")
        self.reader: Storage | None = None

    def __enter__(self) -> LocalPipeline:
        try:
            self.worker.start(timeout_s=120.0)
            self.reader = self.sink.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop both children (the sink last: it stores what the worker published)."""
        try:
            self.worker.stop()
        finally:
            self.sink.stop()

    def spans_stored(self) -> float:
        """Span rows the sink stored so far (replayed copies included)."""
        return _spans_written(self.sink.metrics())

    def work_done(self) -> dict[str, float]:
        """Running totals of both children: CPU seconds, events consumed, spans stored."""
        worker = self.worker.metrics()
        sink = self.sink.metrics()
        return {
            "worker_cpu_s": metric_value(worker, "process_cpu_seconds_total"),
            "sink_cpu_s": metric_value(sink, "process_cpu_seconds_total"),
            "events_in": metric_value(worker, "tracestream_events_in_total"),
            "spans_stored": _spans_written(sink),
        }

    def joins(self) -> list[str]:
        """The worker's log lines about joining its group and getting partitions."""
        marks = ("joining consumer group", "partitions assigned", "joined group", "waiting for")
        return [
            line.split("] ", 3)[-1][:200]
            for line in self.worker.log_lines()
            if any(mark in line for mark in marks)
        ]

    def health(self) -> dict[str, float]:
        """Resident memory (MB) and consumer lag (records) of both children now."""
        worker = self.worker.metrics()
        sink = self.sink.metrics()
        return {
            "worker_rss_mb": round(metric_value(worker, "process_resident_memory_bytes") / 1e6),
            "sink_rss_mb": round(metric_value(sink, "process_resident_memory_bytes") / 1e6),
            "worker_lag": metric_value(worker, "tracestream_consumer_lag_records"),
            "sink_lag": metric_value(sink, "tracestream_sink_consumer_lag"),
        }


def _spans_written(sink_metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in sink_metrics.splitlines()
        if line.startswith('tracestream_sink_rows_written_total{table="spans"')
    )
