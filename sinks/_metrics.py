"""The sink's Prometheus metrics, defined once, on an injected registry.

Tests pass a fresh ``CollectorRegistry``; the CLI passes the default one.
Labels are bounded: ``table`` (five), ``stage`` (map/insert), ``topic`` and
``partition`` (what the sink is assigned).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["SinkMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000)


class SinkMetrics:
    """Counters, histograms and gauges of one sink. Cheap to update; no I/O."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows_written = Counter(
            "tracestream_sink_rows_written",
            "Rows acknowledged by ClickHouse, per table.",
            ["table"],
            registry=registry,
        )
        self.rows_dead_lettered = Counter(
            "tracestream_sink_rows_dead_lettered",
            "Poison rows sent to the sink DLQ, per table and stage (map or insert).",
            ["table", "stage"],
            registry=registry,
        )
        self.insert_seconds = Histogram(
            "tracestream_sink_insert_seconds",
            "Wall time of one acknowledged insert, per table.",
            ["table"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_rows = Histogram(
            "tracestream_sink_batch_rows",
            "Rows per flushed batch, per table.",
            ["table"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        # The sink's two legs of freshness besides the insert itself (bench e2e
        # decomposes its span-end-to-queryable time with them).
        self.fetch_delay = Histogram(
            "tracestream_sink_fetch_delay_seconds",
            "From a record's CreateTime (the worker's send) to its fetch by the sink; "
            "observed once per partition per fetch, for its oldest record.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.buffer_wait = Histogram(
            "tracestream_sink_buffer_wait_seconds",
            "From the fetch of a table's oldest buffered record to the flush that writes "
            "it; observed once per table per flush.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "tracestream_sink_insert_retries",
            "Inserts retried after a retriable storage error, per table.",
            ["table"],
            registry=registry,
        )
        self.memory_splits = Counter(
            "tracestream_sink_memory_splits",
            "Blocks split in halves because the engine had no memory for the insert, "
            "per table (nothing is dead-lettered for it).",
            ["table"],
            registry=registry,
        )
        self.backpressure = Gauge(
            "tracestream_sink_backpressure",
            "1 while the sink has stopped consuming because storage is failing.",
            registry=registry,
        )
        self.lag = Gauge(
            "tracestream_sink_consumer_lag",
            "Records behind the partition's high watermark (uncommitted included).",
            ["topic", "partition"],
            registry=registry,
        )
