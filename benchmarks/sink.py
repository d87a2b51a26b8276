"""``tracestream bench sink``: rows/s from Kafka span records into chDB, the sink's whole path.

The baseline, measured in the same run on the same table: a bare Arrow insert
of the same rows (mapped to the table's columns beforehand, not timed), in the
sink's block size and with its insert concurrency. ``ratio`` is the sink's rate
over the baseline's: how much of the engine's own insert speed the whole path
(fetch, parse, map, insert, commit) keeps.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracestream._settings import Settings, load_settings
from tracestream.cli._sink import _sink_config
from tracestream.streams.runtime import tune_gc

if TYPE_CHECKING:
    import pyarrow as pa

    from tracestream.schemas import Topics
    from tracestream.sinks import ChdbStorage

__all__ = ["bench_sink"]


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
    tune_gc()  # as `tracestream sink` runs
    report = asyncio.run(_bench_sink(load_settings(), rows, partitions))
    if analyze_spans > 0:
        report["analyze"] = _bench_analyze_part(analyze_spans)
    click.echo(json.dumps(report) if as_json else json.dumps(report, indent=2))


async def _bench_sink(settings: Settings, rows: int, partitions: int) -> dict[str, Any]:
    import uuid

    from tracestream.broker._topics import delete_topics_with_prefix
    from tracestream.schemas import Topics

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

    from tracestream.broker._local import ensure_topics
    from tracestream.sinks import (
        ChdbStorage,
        Sink,
        SinkMetrics,
        apply_migrations,
        sample_span_records,
    )

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
            baseline_s = _bare_insert_s(storage, rows, config.batch_max_rows, partitions)
            baseline_stored = storage.query("SELECT count() FROM spans").scalar()
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
        "baseline_rows_stored": baseline_stored,
        "baseline_seconds": round(baseline_s, 3),
        "baseline_rows_per_s": round(rows / baseline_s),
        # The sink's whole path against a bare insert of its rows: comparable across hosts.
        "ratio": round(baseline_s / elapsed, 3),
        "target_rows_per_s": 100_000,
    }


def _bare_insert_s(storage: ChdbStorage, rows: int, block_rows: int, partitions: int) -> float:
    """Seconds to insert the same spans as Arrow into the emptied spans table.

    The rows are mapped to the table's columns first (not timed), then
    inserted in the sink's layout: each flush of ``block_rows`` split in one
    block per partition, ``insert_concurrency`` blocks at a time, each with a
    dedup token of its own (as the sink's blocks carry).
    """
    from concurrent.futures import ThreadPoolExecutor

    from tracestream.sinks import (
        TABLE_MAPPINGS,
        RetentionPolicy,
        SinkConfig,
        map_records,
        sample_span_records,
    )

    records = sample_span_records(rows, seed=1)
    mapped = map_records(TABLE_MAPPINGS["spans"], records, RetentionPolicy())
    assert not mapped.rejected, mapped.rejected[:3]
    del records
    blocks = _split_blocks(mapped.table, block_rows, partitions)
    storage.command("TRUNCATE TABLE spans")

    def insert(numbered: tuple[int, pa.Table]) -> int:
        return storage.insert("spans", numbered[1], dedup_token=f"baseline:{numbered[0]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(SinkConfig().insert_concurrency) as pool:
        list(pool.map(insert, enumerate(blocks)))
    return time.perf_counter() - started


def _split_blocks(table: pa.Table, block_rows: int, parts: int) -> list[pa.Table]:
    """``table`` in flushes of ``block_rows`` rows, each cut into ``parts`` near-equal blocks."""
    blocks = []
    for flush_start in range(0, table.num_rows, block_rows):
        flush = table.slice(flush_start, block_rows)
        size = -(-flush.num_rows // parts)
        blocks += [flush.slice(at, size) for at in range(0, flush.num_rows, size)]
    return blocks


def _bench_analyze_part(count: int) -> dict[str, Any]:
    from benchmarks.analyze import bench_analyze
    from tracestream.sinks import ChdbStorage, apply_migrations

    with tempfile.TemporaryDirectory(prefix="tracestream-bench-") as tmp:
        storage = ChdbStorage(Path(tmp) / "chdb", "bench_analyze")
        storage.open()
        try:
            apply_migrations(storage)
            return bench_analyze(storage, count)
        finally:
            storage.close()
