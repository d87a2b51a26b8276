"""The local pipeline of ``tracestream bench e2e``: a worker and a sink as child processes.

Both are the real commands (``tracestream worker``, ``tracestream sink``),
configured through ``TRACESTREAM_*`` variables as an operator would. The sink
owns its chDB directory and serves read-only queries to other processes
(``sinks`` query server); the bench reads the rows through that, as
``tracestream query`` would. Both children are the package's
(:class:`~tracestream._worker_process.WorkerProcess`,
:class:`~tracestream._sink_process.SinkProcess`), as the fault tests use them.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from tracestream._sink_process import SinkProcess
from tracestream._worker_process import WorkerProcess, metric_value
from tracestream.sinks import (
    Storage,
)

__all__ = ["LocalPipeline"]


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
        self.sink = SinkProcess(env, workdir / "sink")
        self.reader: Storage | None = None

    def __enter__(self) -> LocalPipeline:
        try:
            self.worker.start(timeout_s=120.0)
            self.reader = self.sink.start(timeout_s=120.0).reader()
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
            # The sink's legs (sums and counts: a phase's mean from two readings).
            **{
                f"sink_{leg}_{part}": metric_value(sink, f"tracestream_sink_{leg}_seconds_{part}")
                for leg in ("fetch_delay", "buffer_wait")
                for part in ("sum", "count")
            },
            "sink_spans_insert_s": _labelled(sink, "tracestream_sink_insert_seconds_sum", "spans"),
            "sink_spans_inserts": _labelled(sink, "tracestream_sink_insert_seconds_count", "spans"),
            "sink_inserts": metric_value(sink, "tracestream_sink_insert_seconds_count"),
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


def _labelled(text: str, name: str, table: str) -> float:
    """One table's sample of ``name`` in a /metrics text."""
    prefix = f'{name}{{table="{table}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))
