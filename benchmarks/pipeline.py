"""``tracestream bench pipeline``: events/s through the real worker vs a bare aiokafka loop.

Both read the same records from the same topic on the real broker in the same
run: first a bare aiokafka consume->produce loop (``getmany`` then ``send`` of
each value to an output topic, acks awaited per batch: the ceiling for any
Python consumer), then one ``tracestream worker`` process on the chosen
runtime (``engine``: faust or aiokafka; validate + redact + price + assemble +
windows, outputs and state acknowledged before commit). The worker's
rate is measured from its own ``tracestream_events_in_total`` counter, polled
on /metrics twice a second, from the first poll that sees events to the
worker's own timestamp of its last batch (start-up excluded). Over the same
polls it reports the worker's CPU per event (``worker_cpu_us_per_event``, from
its ``process_cpu_seconds_total``: steadier than the rate when other processes
share the cores) and its resident memory at the end (``worker_rss_mb``), with
the assembler's own estimate of its states at the fullest poll
(``worker_state_mb_peak``) and the states its byte budget evicted
(``worker_evicted_for_memory``; set ``TRACESTREAM_MAX_TRACE_STATE_MB`` to try a
budget). The topics the run created are deleted at the end.
Last, for the faust engine, a Faust agent that only counts reads the same
records (``faust_floor_events_per_s``): the part of the gap that is Faust's own.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tracestream._worker_process import WorkerProcess, metric_value
from tracestream.broker._topics import delete_topics_with_prefix, wait_until_led
from tracestream.schemas import Topics

__all__ = ["bench_events", "run_pipeline_bench"]

_PROMPTS = (
    "Summarise the customer's last three orders and suggest a follow-up.",
    "Translate the following support ticket into English and classify its urgency.",
    "Write a SQL query that returns the top ten products by revenue this quarter.",
    "Explain why the nightly build failed; the log excerpt is attached below.",
)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4) | 1:0{digits}x}"


def _uuid7(rng: random.Random, ms: int) -> str:
    rand = rng.getrandbits(74)
    value = (
        (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))


def bench_events(
    count: int, *, spans_per_trace: int = 8, seed: int = 1
) -> list[tuple[bytes, bytes]]:
    """``count`` realistic ``span`` events as (key, value): traces of a root workflow,
    generations with prompts and usage, and tool calls; timestamps around now."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out: list[tuple[bytes, bytes]] = []
    while len(out) < count:
        trace_id = _hex(rng, 32)
        root = _hex(rng, 16)
        start = now - timedelta(seconds=rng.uniform(0, 30))
        for i in range(spans_per_trace):
            span_id = root if i == 0 else _hex(rng, 16)
            kind = "workflow" if i == 0 else ("generation" if i % 2 else "tool")
            begin = start + timedelta(milliseconds=10 * i)
            end = begin + timedelta(milliseconds=rng.uniform(20, 900))
            event: dict[str, Any] = {
                "event_id": _uuid7(rng, int(begin.timestamp() * 1000)),
                "event_type": "span",
                "project": "bench",
                "service": f"svc-{rng.randrange(4)}",
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": None if i == 0 else root,
                "timestamp": end.isoformat(),
                "kind": kind,
                "name": f"{kind}-{i % 3}",
                "start_time": begin.isoformat(),
                "end_time": end.isoformat(),
                "status": "ok",
            }
            if kind == "generation":
                event["model"] = {
                    "name": rng.choice(("gpt-4o", "gpt-4o-mini")),
                    "provider": "openai",
                }
                event["input"] = [{"role": "user", "content": rng.choice(_PROMPTS)}]
                event["output"] = "Here is the answer; contact ops@example.com if it looks wrong."
                event["usage"] = {"input_tokens": rng.randrange(50, 2000), "output_tokens": 200}
            elif kind == "tool":
                event["tool"] = {
                    "name": "search",
                    "arguments": {"q": "order 12345"},
                    "result": "3 hits",
                }
            out.append((trace_id.encode(), orjson.dumps(event)))
            if len(out) == count:
                break
    return out


async def _create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
        await wait_until_led(admin, names, partitions, 30.0)
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _bare_loop(bootstrap: str, source: str, sink: str, count: int) -> tuple[float, float]:
    """Events/s of getmany -> send -> await acks -> commit, from first record to last,
    and this process's CPU µs per event over the same span."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await consumer.start()
    await producer.start()
    seen = 0
    first = 0.0
    first_cpu = 0.0
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if not batches:
                continue
            if not first:
                first, first_cpu = time.perf_counter(), time.process_time()
            futures = []
            for records in batches.values():
                futures += [await producer.send(sink, value=r.value, key=r.key) for r in records]
                seen += len(records)
            await asyncio.gather(*futures)
            await consumer.commit()
        cpu_us = (time.process_time() - first_cpu) / count * 1e6
        return count / (time.perf_counter() - first), cpu_us
    finally:
        await producer.stop()
        await consumer.stop()


class _WorkerRun(NamedTuple):
    rate: float
    cpu_us: float
    rss_mb: float
    #: The assembler's estimate of its states' memory, highest seen by the polls.
    state_mb_peak: float
    #: States evicted to stay within max_trace_state_mb.
    evicted_for_memory: float


_EVICTED_FOR_MEMORY = 'tracestream_assembly_events_total{kind="evicted_for_memory"}'


def _worker_rate(worker: WorkerProcess, count: int, timeout_s: float) -> _WorkerRun:
    """Events/s from the first poll that saw events to the worker's last batch; the
    worker's CPU µs per event between those two polls; its resident memory (MB) at the
    end; the peak of its state estimate and the evictions the byte budget made.

    The end of the rate is the worker's own ``last_batch_timestamp`` (wall clock), not
    the poll that noticed it, so the polling interval does not dilute the rate. The
    CPU figure (its ``process_cpu_seconds_total``) is steadier than the rate on a
    shared machine: other processes take the worker's time, not its CPU.
    """
    first_t = 0.0
    first_n = 0.0
    first_cpu = 0.0
    state_peak = 0.0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = worker.metrics()
        now = time.time()
        n = metric_value(text, "tracestream_events_in_total")
        state_peak = max(state_peak, metric_value(text, "tracestream_assembly_state_bytes"))
        if n and not first_t:
            first_t, first_n = now, n
            first_cpu = metric_value(text, "process_cpu_seconds_total")
        if n >= count:
            end = metric_value(text, "tracestream_last_batch_timestamp_seconds")
            rate = (n - first_n) / (end - first_t) if end > first_t else float("nan")
            cpu = metric_value(text, "process_cpu_seconds_total") - first_cpu
            cpu_us = cpu / (n - first_n) * 1e6 if n > first_n else float("nan")
            rss_mb = metric_value(text, "process_resident_memory_bytes") / 1e6
            evicted = metric_value(text, _EVICTED_FOR_MEMORY)
            return _WorkerRun(rate, cpu_us, rss_mb, state_peak / 1e6, evicted)
        # Prometheus scrapes every 15 s; rendering /metrics many times a second would
        # take a tenth of the worker's CPU (measured), so poll about twice a second.
        time.sleep(0.5)
    raise TimeoutError(f"worker processed fewer than {count} events in {timeout_s}s")


def _faust_floor(bootstrap: str, topic: str, count: int, workdir: Path, timeout_s: float) -> float:
    """Events/s of a Faust agent that only counts (see ``_bench_faust_floor``)."""
    out = workdir / "faust-floor.json"
    log = (workdir / "faust-floor.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.faust_floor",
            bootstrap,
            topic,
            str(count),
            str(out),
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return float("nan")
    if not out.exists():
        return float("nan")
    rate: float = orjson.loads(out.read_bytes())["events_per_s"]
    return rate


def run_pipeline_bench(
    bootstrap: str,
    *,
    events: int = 200_000,
    partitions: int = 6,
    batch_size: int = 2000,
    timeout_s: float = 600.0,
    engine: str = "faust",
) -> dict[str, Any]:
    """Run both measurements on fresh topics; return the report (see module docstring)."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    records = bench_events(events)
    try:
        return _measure(bootstrap, prefix, records, partitions, batch_size, timeout_s, engine)
    finally:
        asyncio.run(delete_topics_with_prefix(bootstrap, prefix))


def _measure(
    bootstrap: str,
    prefix: str,
    records: list[tuple[bytes, bytes]],
    partitions: int,
    batch_size: int,
    timeout_s: float,
    engine: str,
) -> dict[str, Any]:
    topics = Topics(prefix)
    events = len(records)
    bare_sink = f"{prefix}bench.bare-out"
    asyncio.run(_create_topics(bootstrap, [*topics.all(), bare_sink], partitions))
    asyncio.run(_produce(bootstrap, topics.events, records))
    bare, bare_cpu_us = asyncio.run(_bare_loop(bootstrap, topics.events, bare_sink, events))
    with tempfile.TemporaryDirectory(prefix="tracestream-bench-") as tmp:
        env = {
            "TRACESTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "TRACESTREAM_TOPIC_PREFIX": prefix,
            "TRACESTREAM_TOPIC_PARTITIONS": str(partitions),
            "TRACESTREAM_WORKER_BATCH_SIZE": str(batch_size),
            "TRACESTREAM_WORKER_STORE": "memory://",
            "TRACESTREAM_LOG_LEVEL": "WARNING",
            "TRACESTREAM_WORKER_ENGINE": engine,
        }
        with WorkerProcess(env, Path(tmp)) as worker:
            run = _worker_rate(worker, events, timeout_s)
        rate = run.rate
        floor = (
            _faust_floor(bootstrap, topics.events, events, Path(tmp), timeout_s)
            if engine == "faust"
            else None
        )
    return {
        "benchmark": "pipeline",
        "events": events,
        "event_bytes_avg": sum(len(v) for _, v in records) / len(records),
        "partitions": partitions,
        "batch_size": batch_size,
        "engine": engine,
        "worker_events_per_s": round(rate, 1),
        "bare_aiokafka_events_per_s": round(bare, 1),
        "ratio": round(rate / bare, 3),
        "worker_cpu_us_per_event": round(run.cpu_us, 1),
        "bare_cpu_us_per_event": round(bare_cpu_us, 1),
        # The ratio in CPU: steadier than the rates' on a shared host.
        "cpu_ratio": round(bare_cpu_us / run.cpu_us, 3),
        "worker_rss_mb": round(run.rss_mb),
        # The assembly byte budget (max_trace_state_mb): its estimate at the fullest
        # poll, and the states it evicted.
        "worker_state_mb_peak": round(run.state_mb_peak),
        "worker_evicted_for_memory": int(run.evicted_for_memory),
        # A Faust agent that only counts, same topic, same settings: the ceiling of
        # anything built on Faust's per-record stream machinery on this machine.
        "faust_floor_events_per_s": None if floor is None else round(floor, 1),
        "targets": {"worker_events_per_s": 20_000, "ratio": 0.5},
        "stages": "validate+redact+price+assemble+windows+anomaly scoring",
    }
