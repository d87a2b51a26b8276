"""``tracestream replay``: rebuild the tables from the retained events topic.

The tables are projections of ``tracestream.events``; a replay recomputes them
for a range of the topic with the worker's own pure core and swaps the result
in. It is the composition root of ``streams`` and ``sinks`` for this job, so it
is a room of its own (neither package may import the other). It reads no
settings: it takes a :class:`~._config.ReplayConfig` and a factory of the
worker's pipeline, which the front wires from its settings as the worker does.

Design (chosen over the analytics plan's "insert with dedup tokens, then
merge partitions", and why):

1. **Read** each partition of the events topic from a warm-up offset to the
   end offset seen at start (:mod:`._plan`), merged across partitions
   in (timestamp, partition, offset) order: the worker runs one window
   aggregator over all its partitions, and event-time order is what its
   watermark expects. Memory stays bounded (per-partition fetch buffers).
2. **Process** with the worker's :class:`~tracestream.streams.Pipeline`, a
   fresh one from the caller's factory (validate -> DLQ count, redact, price,
   assemble, windows, anomalies), in deterministic batches: consecutive records
   of one time bucket of ``batch_within_s``, stamped with the bucket's end as
   "now". Rows are therefore a pure function of the events: two replays of a range
   produce identical rows. After the last record everything is closed at a
   deterministic horizon (:func:`~._plan.flush_horizon_ms`).
3. **Stage**: rows go through the sink's mapping and block writer
   (``write_block``: poison rows are split out and counted) into
   ``replay_<table>`` tables created ``AS`` the real ones. The real tables are
   untouched so far; a failed replay leaves them as they were.
4. **Swap**: for each table, delete the rows the replay replaces (the staged
   traces' spans and traces by ``trace_id``, scores by ``event_id``, metric
   windows and anomalies by window range), then ``INSERT ... SELECT`` the
   staged rows ``FINAL`` with insert deduplication off (a content-hash dedup
   would drop the re-insert of rows just deleted). Then the hourly rollup:
   delete the affected (project, hour) rows of ``spans_hourly`` and rebuild
   them from ``spans FINAL``, so the rollup is exact (better than the live
   view, which counts a re-emitted span version twice).

Why delete-then-insert rather than dedup tokens: ClickHouse remembers only the
last ``non_replicated_deduplication_window`` (1,000) block tokens per table,
and the live sink uses ~1 per second per table; a second replay more than
~17 minutes later, or of more than 1,000 blocks, would add rows again.
Deleting the replayed scope first makes a second replay add no raw rows
whatever happened in between, and it also removes rows the live pipeline wrote
for the same traces (older versions), so raw counts equal FINAL counts.

Scope (:class:`~._plan.Scope`): traces with an event in the warm-up are
not written (they keep the rows they have; a replay from the middle of a trace
must not replace the whole trace with a part of it); windows starting before
the replay's start time are not written (they would be partial).

Limits, said plainly: a trace longer than the warm-up (default
``idle_timeout_s``, or more) that straddles the start is replayed in part; a
trace still open at ``--to-time`` is written as the replay saw it
(``incomplete``); anomaly baselines start empty at the warm-up, so the first
``anomaly_baseline_windows`` windows score against a short baseline. The swap
is a sequence of statements, not a transaction: a reader may briefly see the
range missing, and a crash mid-swap is repaired by running the replay again.
Run it with the sink stopped: in embedded mode the sink owns the data
directory (the command says so), and against a server a sink inserting into
the same hours during the swap could be counted twice in ``spans_hourly``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tracestream.sinks import Storage
from tracestream.streams import Pipeline, SourceRecord

from ._config import ReplayConfig, ReplayOptions
from ._plan import (
    PartitionRange,
    Scope,
    batch_now_ms,
    flush_horizon_ms,
    resolve_ranges,
    window_floor,
)
from ._store import Stager, swap

__all__ = ["Progress", "ReplayReport", "run_replay"]

log = logging.getLogger("tracestream.replay")


@dataclass
class ReplayReport:
    """What a replay did; printed as the summary table."""

    topic: str
    ranges: list[PartitionRange]
    dry_run: bool
    events_read: int = 0
    warmup_events: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    staged: Counter[str] = field(default_factory=Counter)
    rejected_rows: Counter[str] = field(default_factory=Counter)
    replaced: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    hours_rebuilt: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``)."""
        return {
            "topic": self.topic,
            "dry_run": self.dry_run,
            "partitions": [dataclasses.asdict(r) for r in self.ranges],
            "events_read": self.events_read,
            "warmup_events": self.warmup_events,
            "dead_letters": dict(self.dead_letters),
            "staged": dict(self.staged),
            "rejected_rows": dict(self.rejected_rows),
            "replaced": self.replaced,
            "written": self.written,
            "hours_rebuilt": self.hours_rebuilt,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress tick for long replays."""

    events_read: int
    events_per_s: float
    partitions_done: int
    partitions: int
    offsets_left: int


async def run_replay(
    config: ReplayConfig,
    options: ReplayOptions,
    storage: Storage | None,
    *,
    pipeline_factory: Callable[[], Pipeline],
    on_progress: Callable[[Progress], None] | None = None,
) -> ReplayReport:
    """Replay the events topic into ``storage`` (``None`` only with ``dry_run``).

    ``pipeline_factory`` is called once per replay and must return the worker's
    pipeline over empty in-memory state, wired with the timing values of
    ``config``: a replay's rows are a pure function of the events only when it
    starts from no state.

    Blocks the event loop only in short pure steps; storage calls run in a
    thread. Raises :class:`~tracestream.sinks.StorageError` when storage fails
    (the real tables are untouched unless the swap had started; running the
    replay again repairs either case) and ``RuntimeError`` when the topic is
    missing or stops delivering records.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    started = time.perf_counter()
    topic = config.topics.events
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await _partitions(config.bootstrap_servers, topic)
        if not partitions:
            raise RuntimeError(f"topic {topic!r} does not exist on {config.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ranges, windows_from = await _plan(consumer, tps, config, options)
        report = ReplayReport(topic, ranges, options.dry_run)
        scope = Scope(
            project=options.project,
            windows_from=window_floor(windows_from, config.window_s),
        )
        stager = Stager(storage, report, options, config.retention)
        await stager.prepare()
        pipeline = pipeline_factory()
        await _process(
            consumer, topic, ranges, pipeline, config, options, scope, stager, on_progress
        )
        await stager.flush()
    finally:
        await consumer.stop()
    if storage is not None and not options.dry_run:
        await asyncio.to_thread(swap, storage, report, options.project, scope.windows_from)
    report.seconds = time.perf_counter() - started
    return report


# --- positions ---------------------------------------------------------------


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    """The topic's partitions (empty when it does not exist), from a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        int(p["partition"])
        for t in described
        if t.get("topic") == topic and not t.get("error_code")
        for p in t.get("partitions", [])
    )


async def _plan(
    consumer: Any, tps: list[Any], config: ReplayConfig, options: ReplayOptions
) -> tuple[list[PartitionRange], datetime | None]:
    """Per-partition ranges, and the time from which windows are whole."""
    low = await consumer.beginning_offsets(tps)
    high = await consumer.end_offsets(tps)
    bounds = {tp.partition: (low[tp], high[tp]) for tp in tps}

    async def offsets_at(when: datetime) -> dict[int, int | None]:
        ms = int(when.timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(tps, ms))
        return {tp.partition: (None if v is None else v.offset) for tp, v in found.items()}

    end = await offsets_at(options.to_time) if options.to_time is not None else None
    start: dict[int, int | None] | int | None = None
    start_time = options.from_time
    if options.from_time is not None:
        start = await offsets_at(options.from_time)
    elif options.from_offset is not None:
        start = options.from_offset
        plain = resolve_ranges(bounds, start=start, end=end)
        start_time = await _first_timestamp(consumer, tps, plain)
    if start_time is None:
        return resolve_ranges(bounds, start=start, end=end), None
    warmup_s = config.idle_timeout_s if options.warmup_s is None else options.warmup_s
    warmup = await offsets_at(start_time - timedelta(seconds=warmup_s))
    return resolve_ranges(bounds, start=start, warmup=warmup, end=end), start_time


async def _first_timestamp(
    consumer: Any, tps: list[Any], ranges: list[PartitionRange]
) -> datetime | None:
    """The earliest timestamp among the records at each partition's start offset."""
    stamps = []
    for tp, r in zip(tps, ranges, strict=True):
        if r.start >= r.end:
            continue
        consumer.seek(tp, r.start)
        got = await consumer.getmany(tp, timeout_ms=5_000, max_records=1)
        stamps += [rec.timestamp for rec in got.get(tp, [])[:1]]
    if not stamps:
        return None
    return datetime.fromtimestamp(min(stamps) / 1000, UTC)


# --- reading and processing --------------------------------------------------


async def _merged(
    consumer: Any,
    topic: str,
    ranges: list[PartitionRange],
    stall_timeout_s: float,
    done_count: list[int],
) -> Any:
    """Records of every range, merged by (timestamp, partition, offset). Async generator."""
    from aiokafka import TopicPartition

    tp_of = {r.partition: TopicPartition(topic, r.partition) for r in ranges}
    end_of = {r.partition: r.end for r in ranges}
    buffers: dict[int, deque[Any]] = {r.partition: deque() for r in ranges}
    done = {r.partition: r.warmup >= r.end for r in ranges}
    done_count[0] = sum(done.values())
    for r in ranges:
        if not done[r.partition]:
            consumer.seek(tp_of[r.partition], r.warmup)

    async def fill(parts: list[int]) -> None:
        need = [p for p in parts if not buffers[p] and not done[p]]
        deadline = time.monotonic() + stall_timeout_s
        while need:
            got = await consumer.getmany(*(tp_of[p] for p in need), timeout_ms=500)
            for tp, records in got.items():
                p = tp.partition
                buffers[p].extend(rec for rec in records if rec.offset < end_of[p])
                if records and records[-1].offset + 1 >= end_of[p]:
                    done[p] = True
            for p in need:
                if not done[p] and await consumer.position(tp_of[p]) >= end_of[p]:
                    done[p] = True
            need = [p for p in need if not buffers[p] and not done[p]]
            if need and time.monotonic() > deadline:
                raise RuntimeError(
                    f"no records from {topic} partitions {need} for {stall_timeout_s:.0f} s "
                    "before their end offsets (broker down, or records deleted by retention?)"
                )

    await fill(list(buffers))
    heap = [(buf[0].timestamp, p, buf[0].offset) for p, buf in buffers.items() if buf]
    heapq.heapify(heap)
    while heap:
        _, p, _ = heapq.heappop(heap)
        yield buffers[p].popleft()
        if not buffers[p]:
            await fill([p])
            if not buffers[p]:
                done_count[0] += 1
                continue
        head = buffers[p][0]
        heapq.heappush(heap, (head.timestamp, p, head.offset))


async def _process(
    consumer: Any,
    topic: str,
    ranges: list[PartitionRange],
    pipeline: Pipeline,
    config: ReplayConfig,
    options: ReplayOptions,
    scope: Scope,
    stager: Stager,
    on_progress: Callable[[Progress], None] | None,
) -> None:
    report = stager.report
    start_of = {r.partition: r.start for r in ranges}
    within = config.batch_within_ms
    max_batch = config.batch_size
    batch: list[SourceRecord] = []
    batch_now = 0
    batch_warm = False
    last_now = 0
    done_count = [0]
    total_left = sum(r.to_read for r in ranges)
    t0 = last_tick = time.monotonic()

    async def run_batch() -> None:
        nonlocal last_now
        if not batch:
            return
        last_now = max(last_now, batch_now)
        out = pipeline.process(batch, now_ms=last_now)
        out.extend(pipeline.tick(now_ms=last_now))
        await stager.add(out, scope, warm=batch_warm)
        batch.clear()

    async for rec in _merged(consumer, topic, ranges, options.stall_timeout_s, done_count):
        warm = rec.offset < start_of[rec.partition]
        now = batch_now_ms(rec.timestamp, within)
        if batch and (now != batch_now or warm != batch_warm or len(batch) >= max_batch):
            await run_batch()
        if warm:
            report.warmup_events += 1
            trace_id = _trace_id(rec.key, rec.value)
            if trace_id:
                scope.note_warmup(trace_id)
        else:
            report.events_read += 1
        batch_now, batch_warm = now, warm
        batch.append(
            SourceRecord(
                rec.topic,
                rec.partition,
                rec.offset,
                rec.key,
                rec.value,
                tuple(rec.headers or ()),
                rec.timestamp,
            )
        )
        if on_progress is not None and time.monotonic() - last_tick >= options.progress_interval_s:
            last_tick = time.monotonic()
            read = report.events_read + report.warmup_events
            on_progress(
                Progress(
                    read,
                    read / max(last_tick - t0, 1e-9),
                    done_count[0],
                    len(ranges),
                    total_left - read,
                )
            )
    await run_batch()
    horizon = flush_horizon_ms(
        last_now,
        grace_s=config.grace_s,
        idle_timeout_s=config.idle_timeout_s,
        window_s=config.window_s,
        allowed_lateness_s=config.allowed_lateness_s,
    )
    await stager.add(pipeline.tick(now_ms=horizon), scope, warm=False)
    if on_progress is not None:
        read = report.events_read + report.warmup_events
        elapsed = max(time.monotonic() - t0, 1e-9)
        on_progress(Progress(read, read / elapsed, len(ranges), len(ranges), 0))


def _trace_id(key: bytes | None, value: bytes | None) -> str:
    """The trace of a record: its Kafka key (the SDK keys by trace_id), else its JSON."""
    if key:
        return key.decode("utf-8", "replace")
    try:
        parsed = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return ""
    return str(parsed.get("trace_id") or "") if isinstance(parsed, dict) else ""
