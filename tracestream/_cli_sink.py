"""``tracestream sink``, ``tracestream migrate`` and ``tracestream bench sink``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._settings import Settings, load_settings

if TYPE_CHECKING:
    from tracestream.schemas import Topics

__all__ = ["bench_sink", "migrate", "sink"]


def _sink_config(settings: Settings, **overrides: Any) -> Any:
    from tracestream.schemas import Topics
    from tracestream.sinks import RetentionPolicy, SinkConfig

    values: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "topics": Topics(settings.topic_prefix),
        "group_id": settings.sink_group_id,
        "batch_max_rows": settings.sink_batch_max_rows,
        "batch_max_ms": settings.sink_batch_max_ms,
        "retry_initial_ms": settings.sink_retry_initial_ms,
        "retry_max_ms": settings.sink_retry_max_ms,
        "fetch_max_records": settings.sink_fetch_max_records,
        "check_crcs": settings.sink_check_crcs,
        "retention": RetentionPolicy(
            settings.retention_days, dict(settings.sink_project_retention_days)
        ),
    }
    values.update(overrides)
    return SinkConfig(**values)


def _tune_gc() -> None:
    """Collect less often, as ``tracestream worker`` does.

    A flush holds up to ``batch_max_rows`` fetched records per table (two
    objects each), and with Python's default thresholds every 700
    allocations start a collection that walks them again: ~0.05 s of CPU per
    100k spans, on the event loop that also fetches. What start-up allocated
    (modules, settings) is moved out of the collector's view.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@click.command()
def migrate() -> None:
    """Create or update the ClickHouse tables (a no-op when up to date)."""
    from tracestream.sinks import StorageError, apply_migrations

    from ._open_storage import open_storage

    settings = load_settings()
    try:
        storage = open_storage(settings, migrate=False)
        try:
            applied = apply_migrations(storage)
        finally:
            storage.close()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    if applied:
        click.echo("applied migrations: " + ", ".join(f"{v:04d}" for v in applied))
    else:
        click.echo("schema is up to date")


@click.command()
@click.option("--metrics-port", type=int, default=0, help="Serve /metrics on this port (0: off).")
def sink(metrics_port: int) -> None:
    """Consume the output topics into ClickHouse until interrupted (Ctrl-C, SIGTERM).

    In embedded mode this process owns the chDB directory, so it also serves
    read-only queries for `tracestream query` and `analyze` from other shells.
    """
    from prometheus_client import REGISTRY, start_http_server

    from tracestream.sinks import Sink, SinkMetrics, StorageError

    from ._open_storage import open_storage

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    try:
        storage = open_storage(settings)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
    _tune_gc()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker = Sink(storage, _sink_config(settings), SinkMetrics(REGISTRY))
        await worker.start()
        try:
            await worker.run(stop)
        finally:
            await worker.stop()

    with contextlib.ExitStack() as stack:
        stack.callback(storage.close)
        if storage.engine_name == "chdb":
            from tracestream.sinks._query_server import QueryServer, query_server_file

            server = QueryServer(storage, discovery_path=query_server_file(settings.home))
            stack.enter_context(server)
        asyncio.run(main())


@click.command("sink")
@click.option("--rows", type=int, default=200_000, show_default=True, help="Spans to send.")
@click.option("--partitions", type=int, default=3, show_default=True)
@click.option(
    "--analyze-spans",
    type=int,
    default=10_000_000,
    show_default=True,
    help="Then time `analyze` on this many generated spans, fresh and merged (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report only.")
def bench_sink(rows: int, partitions: int, analyze_spans: int, as_json: bool) -> None:
    """Rows/s from Kafka span records into chDB (the sink's whole path).

    Produces ``--rows`` sample spans to a fresh topic prefix on the configured
    broker (not timed), then times the sink: fetch, parse, map, insert, commit.
    Uses a temporary chDB directory, so it never touches your data. Then,
    unless ``--analyze-spans 0``, generates that many spans in a scratch
    database and times the whole `analyze` report on fresh parts and after
    ``OPTIMIZE TABLE spans FINAL`` (best of 3 each).
    """
    _tune_gc()  # as `tracestream sink` runs
    report = asyncio.run(_bench_sink(load_settings(), rows, partitions))
    if analyze_spans > 0:
        report["analyze"] = _bench_analyze_part(analyze_spans)
    click.echo(json.dumps(report) if as_json else json.dumps(report, indent=2))


async def _bench_sink(settings: Settings, rows: int, partitions: int) -> dict[str, Any]:
    import uuid

    from tracestream.schemas import Topics

    from ._kafka_topics import delete_topics_with_prefix

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    try:
        return await _measure_sink(settings, Topics(prefix), rows, partitions)
    finally:
        await delete_topics_with_prefix(settings.kafka_bootstrap, prefix)


async def _measure_sink(
    settings: Settings, topics: Topics, rows: int, partitions: int
) -> dict[str, Any]:
    import uuid

    import orjson
    from aiokafka import AIOKafkaProducer
    from prometheus_client import CollectorRegistry

    from tracestream.sinks import (
        ChdbStorage,
        Sink,
        SinkMetrics,
        apply_migrations,
        sample_span_records,
    )

    from ._kafka_local import ensure_topics

    await ensure_topics(settings.kafka_bootstrap, topics, partitions, 1, 3_600_000)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        records = sample_span_records(rows, seed=1)
        payload_bytes = 0
        for record in records:
            value = orjson.dumps(record)
            payload_bytes += len(value)
            await producer.send(topics.spans, value=value, key=record["trace_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()
    del records
    with tempfile.TemporaryDirectory(prefix="tracestream-bench-") as tmp:
        storage = ChdbStorage(Path(tmp) / "chdb", "bench")
        storage.open()
        try:
            apply_migrations(storage)
            config = _sink_config(settings, topics=topics, group_id=f"bench-{uuid.uuid4().hex}")
            worker = Sink(storage, config, SinkMetrics(CollectorRegistry()))
            join_started = time.perf_counter()
            await worker.start()
            try:
                # The group join (seconds on a fresh group) is not sink work:
                # time from the assignment on, and report the join apart.
                while not worker.assigned():  # noqa: ASYNC110 - aiokafka offers no event
                    await asyncio.sleep(0.005)
                started = time.perf_counter()
                join_s = started - join_started
                await worker.run_until_caught_up(idle_ms=1_000)
                elapsed = time.perf_counter() - started - 1.0  # minus the idle wait at the end
            finally:
                await worker.stop()
            stored = storage.query("SELECT count() FROM spans").scalar()
        finally:
            storage.close()
    return {
        "benchmark": "sink",
        "engine": "chdb",
        "rows_sent": rows,
        "rows_stored": stored,
        "avg_record_bytes": round(payload_bytes / rows, 1),
        "partitions": partitions,
        "batch_max_rows": config.batch_max_rows,
        "group_join_s": round(join_s, 3),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed),
        "target_rows_per_s": 100_000,
    }


def _bench_analyze_part(count: int) -> dict[str, Any]:
    from tracestream.sinks import ChdbStorage, apply_migrations

    from ._bench_analyze import bench_analyze

    with tempfile.TemporaryDirectory(prefix="tracestream-bench-") as tmp:
        storage = ChdbStorage(Path(tmp) / "chdb", "bench_analyze")
        storage.open()
        try:
            apply_migrations(storage)
            return bench_analyze(storage, count)
        finally:
            storage.close()
