"""``tracestream bench e2e``: the whole local pipeline, from the SDK to a queryable row.

One run on the project's broker, with a real ``tracestream worker`` and a real
``tracestream sink`` into chDB (child processes, default settings), on a
fresh topic prefix deleted at the end. The phases, in order:

1. **freshness**: the SDK traces at a steady 2,000 events/s; for every 5th
   trace the bench polls the sink's query server (every 0.25 s) until each
   of its spans is returned; freshness is the poll's return (wall clock)
   minus the span's ``end_time`` as the SDK recorded it. p50 and p99 are
   printed beside the targets (1 s, 3 s), never asserted.
2. **ramp**: pre-built span events from a bare producer at rising rates,
   each for ``--step-s``, until a step loses *bounded lag* (see
   :mod:`benchmarks.e2e_stats`); the highest rate sustained before it.
3. **recovery**: SDK traffic at 2,000 events/s, the worker ``kill -9``-ed
   and started again at once (as a supervisor would: same member name):
   seconds from the restart to the first record its pipeline consumed, and
   until nothing ended more than 3 s ago is missing from the spans table.
4. **soak** (``--soak-minutes N``, not in CI): SDK traffic at 2,000
   events/s, printing resident memory and lag every minute to stderr.
5. **storage**: the children stopped, the bench opens the chDB directory,
   ``OPTIMIZE TABLE ... FINAL`` every table, and reads ``system.parts``:
   bytes per span and per trace, against LangSmith's ~7.4 KB per trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import queue
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from benchmarks.e2e_load import SdkLoad, produce_at
from benchmarks.e2e_services import LocalPipeline
from benchmarks.e2e_stats import (
    BEHIND_TARGET_S,
    RampStep,
    StoredTable,
    highest_sustained,
    percentile,
    storage_report,
    summarize_freshness,
)
from tracestream._settings import Settings, load_settings
from tracestream._worker_process import metric_value
from tracestream.schemas import Topics
from tracestream.sinks import Storage, StorageUnavailable

__all__ = ["bench_e2e"]

_STEADY_RATE = 2_000
#: Each poll is a query the sink's process answers (~15 ms of its CPU on 150k spans,
#: more on busy cores): 4 a second keeps that load small, at 0.25 s of resolution.
_POLL_S = 0.25
_RAMP = (2_000, 4_000, 6_000, 9_000, 12_000, 16_000, 24_000)


@click.command("e2e")
@click.option("--probe-s", type=float, default=20.0, show_default=True, help="Freshness window.")
@click.option("--step-s", type=float, default=8.0, show_default=True, help="Each ramp step.")
@click.option("--soak-minutes", type=int, default=0, show_default=True, help="Soak (not in CI).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def bench_e2e(probe_s: float, step_s: float, soak_minutes: int, as_json: bool) -> None:
    """Freshness, highest sustained rate, recovery gap and bytes on disk of the local pipeline."""
    settings = load_settings()
    report = run_e2e(settings, probe_s=probe_s, step_s=step_s, soak_minutes=soak_minutes)
    click.echo(json.dumps(report, allow_nan=False, indent=None if as_json else 2))


def _say(message: str) -> None:
    """Progress on stderr, so ``--json`` keeps stdout to the report."""
    print(f"[bench e2e] {message}", file=sys.stderr, flush=True)


def run_e2e(
    settings: Settings, *, probe_s: float, step_s: float, soak_minutes: int
) -> dict[str, Any]:
    """Every phase on a fresh topic prefix (deleted at the end); the report."""
    from tracestream.broker import delete_topics_with_prefix, ensure_topics

    bootstrap = settings.kafka_bootstrap
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    started = time.monotonic()
    load_start = round(os.getloadavg()[0], 2)
    report: dict[str, Any] = {"benchmark": "e2e", "settings": _settings_block(settings)}
    try:
        asyncio.run(
            ensure_topics(
                bootstrap,
                topics,
                settings.topic_partitions,
                settings.topic_replication_factor,
                3_600_000,
            )
        )
        with tempfile.TemporaryDirectory(prefix="tracestream-bench-e2e-") as tmp:
            pipeline = LocalPipeline(bootstrap, prefix, Path(tmp))
            with pipeline:
                _say("worker and sink up")
                report["freshness"] = _freshness(pipeline, bootstrap, prefix, probe_s)
                _say(f"freshness {report['freshness']}")
                _wait_drained(pipeline)
                report["ramp"] = _ramp(pipeline, bootstrap, topics.events, step_s)
                _say(f"ramp {report['ramp']['highest_sustained_events_per_s']} events/s")
                _wait_drained(pipeline)
                report["recovery"] = _recovery(pipeline, bootstrap, prefix)
                _say(f"recovery {report['recovery']}")
                if soak_minutes:
                    report["soak"] = _soak(pipeline, bootstrap, prefix, soak_minutes)
                time.sleep(settings.grace_s + 1.0)  # the last traces wait out their grace
                _wait_drained(pipeline)
            report["storage"] = _storage(pipeline)
    finally:
        asyncio.run(delete_topics_with_prefix(bootstrap, prefix))
    report["seconds"] = round(time.monotonic() - started, 1)
    # The cores are shared: the run's numbers mean little without what else ran.
    report["load_average_1m"] = {"start": load_start, "end": round(os.getloadavg()[0], 2)}
    return report


def _settings_block(settings: Settings) -> dict[str, Any]:
    """The settings freshness depends on (all defaults unless the environment says otherwise)."""
    return {
        "worker_engine": settings.worker_engine,
        "topic_partitions": settings.topic_partitions,
        "sdk_linger_ms": settings.sdk_linger_ms,
        "worker_batch_within_ms": settings.worker_batch_within_ms,
        "sink_batch_max_ms": settings.sink_batch_max_ms,
        "sink_flush_min_interval_ms": settings.sink_flush_min_interval_ms,
    }


# --- 1. freshness ----------------------------------------------------------------------


def _freshness(
    pipeline: LocalPipeline, bootstrap: str, prefix: str, probe_s: float
) -> dict[str, Any]:
    """SDK spans at 2,000 events/s: end in the SDK to the row returned by a query."""
    load = SdkLoad(bootstrap, prefix, "e2e-freshness", _STEADY_RATE).start()
    try:
        time.sleep(5.0)  # past the first batches of a cold start
        before, wall_before = pipeline.work_done(), time.monotonic()
        load.probing.set()
        seconds, missing, probed, poll_s = _probe(_reader(pipeline), load, probe_s)
        after, wall = pipeline.work_done(), time.monotonic() - wall_before
    finally:
        sdk = load.stop()
    load_end = round(os.getloadavg()[0], 2)
    published = asyncio.run(_published_s(bootstrap, Topics(prefix).spans, probed))
    done = {k: after[k] - before[k] for k in after}
    return {
        **summarize_freshness(seconds, missing, _POLL_S, published),
        "poll_round_trip_p50_ms": None if math.isnan(poll_s) else round(poll_s * 1000, 1),
        "events_per_s": _STEADY_RATE,
        **sdk,
        **_cpu_block(done, wall),
        "sink_legs": _sink_legs(done, wall),
        "load_average_1m_at_end": load_end,
    }


def _sink_legs(done: dict[str, float], wall_s: float) -> dict[str, float | None]:
    """The sink's share of freshness over a phase: means of its legs, and its inserts.

    Worker's send -> fetched (the worker's linger, the broker, the fetch), fetched
    -> flushed (the batch wait, of a table's oldest row), and a spans insert.
    """

    def mean(total: float, count: float) -> float | None:
        return round(total / count, 3) if count else None

    return {
        "fetch_delay_mean_s": mean(done["sink_fetch_delay_sum"], done["sink_fetch_delay_count"]),
        "buffer_wait_oldest_mean_s": mean(
            done["sink_buffer_wait_sum"], done["sink_buffer_wait_count"]
        ),
        "spans_insert_mean_s": mean(done["sink_spans_insert_s"], done["sink_spans_inserts"]),
        "spans_inserts_per_s": round(done["sink_spans_inserts"] / wall_s, 2),
        "inserts_per_s": round(done["sink_inserts"] / wall_s, 2),
    }


def _cpu_block(done: dict[str, float], wall_s: float) -> dict[str, float | None]:
    """Cores each child used over a phase, and its CPU per record.

    On shared cores a worker that falls behind while using far less than a
    core was starved, not slow; CPU per record says what a free core would do.
    """

    def per(cpu_s: float, count: float) -> float | None:
        return round(cpu_s / count * 1e6, 1) if count else None

    return {
        "worker_cores": round(done["worker_cpu_s"] / wall_s, 2),
        "sink_cores": round(done["sink_cpu_s"] / wall_s, 2),
        "worker_cpu_us_per_event": per(done["worker_cpu_s"], done["events_in"]),
        "sink_cpu_us_per_span": per(done["sink_cpu_s"], done["spans_stored"]),
    }


async def _published_s(bootstrap: str, topic: str, trace_ids: set[str]) -> list[float]:
    """Seconds from each probed span's end to the worker's send of its record.

    Reads the spans topic from the start to its end now; spans are keyed by
    trace id, so only the probed traces' records are parsed.
    """
    import orjson
    from aiokafka import AIOKafkaConsumer

    keys = {t.encode() for t in trace_ids}
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seconds: list[float] = []
    try:
        partitions = consumer.assignment() or set()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=1_000, max_records=20_000)
            for records in batches.values():
                for r in records:
                    if r.key in keys and r.value is not None:
                        end_time = orjson.loads(r.value).get("end_time")
                        if end_time:
                            ended = datetime.fromisoformat(end_time).timestamp()
                            seconds.append(r.timestamp / 1000 - ended)
    finally:
        await consumer.stop()
    return seconds


def _reader(pipeline: LocalPipeline) -> Storage:
    if pipeline.reader is None:
        raise RuntimeError("the pipeline is not running")
    return pipeline.reader


def _probe(
    reader: Storage, load: SdkLoad, probe_s: float
) -> tuple[list[float], int, set[str], float]:
    """Poll for the probed traces' spans.

    Returns the seconds from end to seen of each span seen, the spans never
    seen, the trace ids probed, and the median poll's round trip (seconds).

    Probing stops after ``probe_s``; the spans probed by then get 15 s more.
    """
    pending: dict[str, set[str]] = {}  # trace id -> span ids seen
    expected: dict[str, int] = {}
    seconds: list[float] = []
    polls: list[float] = []  # each poll's round trip: the probe's own load on the sink
    stop_probing = time.monotonic() + probe_s
    deadline = stop_probing + 15.0
    while time.monotonic() < deadline:
        if time.monotonic() > stop_probing:
            load.probing.clear()
        with contextlib.suppress(queue.Empty):
            while True:
                trace_id = load.probes.get_nowait()
                pending[trace_id] = set()
                expected[trace_id] = 4
        if not pending and not load.probing.is_set():
            break
        polled = time.monotonic()
        if pending:
            polls.append(polled)
            try:
                rows = reader.query(
                    "SELECT trace_id, span_id, toUnixTimestamp64Micro(end_time) FROM spans"
                    " WHERE project = {project:String} AND trace_id IN {ids:Array(String)}",
                    {"project": load.project, "ids": list(pending)},
                ).rows
            except StorageUnavailable as exc:
                # The reader's timeout is 1 s: on a crowded host a poll can miss it.
                # Its spans are timed by a later poll (later, never earlier).
                _say(f"a poll failed ({exc}); polling on")
                rows = []
            now = time.time()
            for trace_id, span_id, end_us in rows:
                seen = pending.get(trace_id)
                if seen is None or span_id in seen:
                    continue
                seen.add(span_id)
                seconds.append(now - end_us / 1e6)
                if len(seen) == expected[trace_id]:
                    del pending[trace_id]
            polls[-1] = time.monotonic() - polls[-1]
        time.sleep(max(0.0, _POLL_S - (time.monotonic() - polled)))
    missing = sum(expected[t] - len(seen) for t, seen in pending.items())
    return seconds, missing, set(expected), percentile(polls, 50)


# --- 2. ramp -----------------------------------------------------------------------------


def _ramp(pipeline: LocalPipeline, bootstrap: str, topic: str, step_s: float) -> dict[str, Any]:
    """Rising rates from a bare producer until a step loses bounded lag."""
    from benchmarks.pipeline import bench_events

    backlog = _Backlog(pipeline)
    steps: list[RampStep] = []
    reported: list[dict[str, Any]] = []
    for seed, rate in enumerate(_RAMP, start=100):
        records = bench_events(int(rate * step_s), seed=seed)
        step = backlog.step(rate, step_s)
        before = pipeline.work_done()
        took = asyncio.run(produce_at(bootstrap, topic, records, rate, on_tick=step.sample))
        after = pipeline.work_done()
        steps.append(step.end(len(records), took))
        reported.append(
            {**steps[-1].as_dict(), **_cpu_block({k: after[k] - before[k] for k in after}, took)}
        )
        _say(f"ramp step {reported[-1]} {pipeline.health()}")
        if not steps[-1].sustained:
            break
    drained_s = _wait_drained(pipeline)
    return {
        "highest_sustained_events_per_s": highest_sustained(steps),
        "bounded_lag": f"backlog at a step's end <= {BEHIND_TARGET_S:g} s of its rate "
        "and grown <= 1 s of it over the step's second half",
        "step_s": step_s,
        "steps": reported,
        "drained_after_s": round(drained_s, 1),
    }


class _Backlog:
    """Spans the ramp produced and the sink has not stored yet, over the whole ramp."""

    def __init__(self, pipeline: LocalPipeline) -> None:
        self.pipeline = pipeline
        self.stored_before = pipeline.spans_stored()
        self.produced = 0

    def now(self, produced: int) -> int:
        return produced - int(self.pipeline.spans_stored() - self.stored_before)

    def step(self, rate: int, step_s: float) -> _Step:
        return _Step(self, rate, step_s)


class _Step:
    """One ramp step: the backlog halfway and at the end, and its verdict."""

    def __init__(self, backlog: _Backlog, rate: int, step_s: float) -> None:
        self.backlog = backlog
        self.rate = rate
        self.step_s = step_s
        self.stored_at_start = backlog.pipeline.spans_stored()
        self.mid: int | None = None

    def sample(self, elapsed: float, sent: int) -> None:
        """``produce_at``'s tick: keep the first backlog of the step's second half."""
        if self.mid is None and elapsed >= self.step_s / 2:
            self.mid = self.backlog.now(self.backlog.produced + sent)

    def end(self, produced: int, took_s: float) -> RampStep:
        self.backlog.produced += produced
        backlog_end = self.backlog.now(self.backlog.produced)
        stored = self.backlog.pipeline.spans_stored() - self.stored_at_start
        return RampStep(
            rate=self.rate,
            produced_per_s=produced / took_s,
            stored_per_s=stored / took_s,
            backlog_mid=backlog_end if self.mid is None else self.mid,
            backlog_end=backlog_end,
        )


def _wait_drained(pipeline: LocalPipeline, timeout_s: float = 120.0) -> float:
    """Until both consumers have no lag and the sink stored nothing new for 2 s."""
    started = time.monotonic()
    last = -1.0
    while time.monotonic() - started < timeout_s:
        health = pipeline.health()
        stored = pipeline.spans_stored()
        if health["worker_lag"] == 0 and health["sink_lag"] == 0 and stored == last:
            return time.monotonic() - started
        last = stored
        time.sleep(2.0)
    raise RuntimeError(f"the pipeline did not drain in {timeout_s}s: {pipeline.health()}")


# --- 3. recovery ---------------------------------------------------------------------------


def _recovery(pipeline: LocalPipeline, bootstrap: str, prefix: str) -> dict[str, Any]:
    """kill -9 of the worker under steady SDK traffic, restarted at once."""
    load = SdkLoad(bootstrap, prefix, "e2e-recovery", _STEADY_RATE).start()
    reader = _reader(pipeline)
    worker = pipeline.worker
    try:
        time.sleep(4.0)  # mid-stream
        killed_at = time.monotonic()
        worker.kill()
        worker.start(timeout_s=120.0)
        first_s = _first_processed_s(pipeline)
        caught_up_s = _caught_up_s(reader, load, worker.spawned_at)
        time.sleep(2.0)
    finally:
        sdk = load.stop()
    return {
        "restart_to_first_record_s": round(first_s, 2),
        "kill_to_first_record_s": round(worker.spawned_at - killed_at + first_s, 2),
        f"restart_to_within_{BEHIND_TARGET_S:g}s_s": None
        if caught_up_s is None
        else round(caught_up_s, 2),
        "target_restart_to_first_record_s": 10.0,
        **sdk,
        "worker_log": pipeline.joins()[-3:],
    }


def _first_processed_s(pipeline: LocalPipeline, timeout_s: float = 120.0) -> float:
    """Seconds from the worker's spawn to the first record its pipeline consumed."""
    worker = pipeline.worker
    while time.monotonic() - worker.spawned_at < timeout_s:
        with contextlib.suppress(OSError):
            if metric_value(worker.metrics(), "tracestream_events_in_total") > 0:
                return time.monotonic() - worker.spawned_at
        time.sleep(0.05)
    raise RuntimeError(f"the restarted worker processed nothing:\n{worker.log_tail()}")


def _stored_spans(reader: Storage, project: str) -> int:
    return int(
        reader.query(
            "SELECT uniqExact(span_id) FROM spans WHERE project = {project:String}",
            {"project": project},
        ).scalar()
    )


def _caught_up_s(
    reader: Storage, load: SdkLoad, since: float, timeout_s: float = 45.0
) -> float | None:
    """Seconds from ``since`` until every span that ended 3 s ago or earlier is stored
    (None: not within ``timeout_s``)."""
    while time.monotonic() - since < timeout_s:
        due = load.spans_ended(before=time.time() - BEHIND_TARGET_S)
        if _stored_spans(reader, load.project) >= due:
            return time.monotonic() - since
        time.sleep(0.25)
    return None


# --- 4. soak -------------------------------------------------------------------------------


def _soak(
    pipeline: LocalPipeline, bootstrap: str, prefix: str, minutes: int
) -> list[dict[str, Any]]:
    """SDK traffic at 2,000 events/s for ``minutes``; memory and lag every minute.

    Counts stored spans with ``count()``, not ``uniqExact(span_id)`` as the
    shorter phases do: the sink's engine answers in the sink's own process, and
    an exact distinct count over a growing table is a growing hash set there.
    Measured in a 25-minute soak at 2,000 events/s: the sink's resident memory
    read just before that query stayed at 510-690 MB and the engine's own
    tracked memory at 26-200 MB throughout, but read just after it, it was
    ~900 MB by minute 18 (3M spans); the previous soak reported after the query
    and saw 580 -> 1,080 MB, then its read timed out. A copy stored twice would
    only make ``spans_behind_3s`` look smaller; ``engine_memory_mb`` is what the
    engine itself holds (its ``MemoryTracking``), the rest of ``sink_rss_mb`` is
    the interpreter, the engine's code and the allocator's reserve.
    """
    load = SdkLoad(bootstrap, prefix, "e2e-soak", _STEADY_RATE).start()
    reader = _reader(pipeline)
    lines: list[dict[str, Any]] = []
    try:
        for minute in range(1, minutes + 1):
            time.sleep(60.0)
            stored = reader.query(
                "SELECT count() FROM spans WHERE project = {project:String}",
                {"project": load.project},
            ).scalar()
            behind = load.spans_ended(before=time.time() - BEHIND_TARGET_S) - int(stored)
            engine = reader.query(
                "SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'"
            ).scalar()
            line = {
                "minute": minute,
                **pipeline.health(),
                "engine_memory_mb": round(int(engine) / 1e6),
                "spans_behind_3s": max(0, behind),
            }
            lines.append(line)
            _say(f"soak {line}")
    finally:
        load.stop()
    return lines


# --- 5. storage ----------------------------------------------------------------------------


def _storage(pipeline: LocalPipeline) -> dict[str, Any]:
    """Bytes on disk after ``OPTIMIZE ... FINAL`` (the children must be stopped)."""
    storage = pipeline.sink.storage()
    try:
        names = [
            row[0]
            for row in storage.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase()"
                " AND engine LIKE '%MergeTree'"
            ).rows
        ]
        for name in names:
            storage.command(f"OPTIMIZE TABLE `{name}` FINAL")
        tables = [
            StoredTable(str(t), int(r), int(b), int(u))
            for t, r, b, u in storage.query(
                "SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes)"
                " FROM system.parts WHERE database = currentDatabase() AND active"
                " GROUP BY table ORDER BY table"
            ).rows
        ]
        spans = int(storage.query("SELECT count() FROM spans FINAL").scalar())
        traces = int(storage.query("SELECT count() FROM traces FINAL").scalar())
    finally:
        storage.close()
    return storage_report(tables, spans, traces)
