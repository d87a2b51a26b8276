"""Run ``tracestream sink`` as a child process: for benchmarks and tests.

The sink writes into chDB under its own ``home``; while it runs it owns that
directory and serves read-only queries to other processes (the sinks' query
server), and once it stopped :meth:`SinkProcess.storage` opens the directory
here (one process may hold a chDB directory at a time).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tracestream._worker_process import (
    ServiceProcess,
    WorkerProcessError,
    free_port,
    metric_value,
    scrape,
)
from tracestream.sinks import ChdbStorage, Storage, discover_query_server, query_server_file

__all__ = ["SinkProcess"]


class SinkProcess(ServiceProcess):
    """One ``tracestream sink`` child into chDB under ``workdir/home``, /metrics on a
    free loopback port, its log in ``workdir/sink.log``.

    Args:
        env: ``TRACESTREAM_*`` settings for the child.
        workdir: the child's working directory.
        args: extra arguments of ``tracestream sink`` (``--verbose``).
    """

    def __init__(self, env: Mapping[str, str], workdir: Path, *, args: Sequence[str] = ()) -> None:
        port = free_port()
        super().__init__(
            "sink",
            env,
            workdir,
            metrics_port=port,
            args=("--metrics-port", str(port), *args),
        )

    def reader(self, *, timeout_s: float = 30.0) -> Storage:
        """A reader over the running sink's query server (what ``tracestream query`` uses).

        Raises:
            WorkerProcessError: the server did not announce itself within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = discover_query_server(query_server_file(self.home), timeout_s=1.0)
            if found is not None:
                return found
            time.sleep(0.2)
        raise WorkerProcessError(f"the sink's query server did not start:\n{self.log_tail()}")

    def rows_written(self, table: str) -> float:
        """Rows the sink stored into ``table`` so far."""
        prefix = f'tracestream_sink_rows_written_total{{table="{table}"}}'
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in self.metrics().splitlines()
            if line.startswith(prefix)
        )

    def lag(self) -> float:
        """Records the sink has not fetched yet, over its partitions."""
        return metric_value(scrape(self.metrics_port), "tracestream_sink_consumer_lag")

    def storage(self) -> ChdbStorage:
        """The sink's database, opened in this process (stop the sink first)."""
        storage = ChdbStorage(self.home / "chdb", "tracestream")
        storage.open()
        return storage
