"""A steady flow of traces through the real worker into chDB, and its count after a fault.

The worker fault tests (``test_worker_*.py``) share this:

- :class:`SteadyProducer` writes complete traces (a root span and two
  children, each a valid ``span`` event with a UUIDv7 id) to the events topic
  at a steady rate, and keeps the span ids the broker acknowledged: *sent*;
- :func:`wait_published` waits until every span sent is on the spans topic;
- :func:`first_processed_s` measures a (re)started worker's gap from its
  spawn to the first record its pipeline consumed;
- :func:`store` runs the real sink into a fresh chDB database until the
  output topics are drained;
- :func:`count` compares what was sent with what is stored, dead-lettered
  and dropped-and-counted, and :class:`Count` prints it the way every fault
  test does: sent, stored, dead-lettered, dropped-and-counted, lost, and the
  duplicates left under ``FINAL``.

The storage fault tests (``test_storage_outage.py``,
``test_embedded_engine_refuses.py``) feed the sink alone with
:func:`span_record_batches` and watch it with :func:`group_offsets`,
:func:`all_committed`, :func:`sink_pausing` and :func:`until`.

Why the three-worker test starts its traffic only once the group is Stable:
with the Faust runtime, a rebalance while records flow lost records in 4 of
7 runs here (3 to 111 spans; none with the aiokafka runtime). The worker logs
showed the mechanism: Faust's ``flow_control.clear()`` drops the records
fetched but not yet processed for a partition, and the consumer goes on from
its fetch position for a partition it keeps (and the committed offset moved
past them for one it handed over), so nobody processes them. The aiokafka
runtime's static members restart without a rebalance; the Faust runtime's
members are dynamic (see streams/runtime/_faust.py), so its kill and restart
do rebalance and may meet that loss (0 of 3 runs of the three-worker test
did; a failure there is that bug, not noise).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry

from tests.kafka_fixture import KAFKA_TOPIC_PARTITIONS
from tracestream._settings import load_settings
from tracestream._sink_process import SinkProcess
from tracestream._worker_process import WorkerProcess, metric_value
from tracestream.broker import Layout, fetch, start, stop
from tracestream.schemas import Topics
from tracestream.sinks import (
    ChdbStorage,
    Sink,
    SinkConfig,
    SinkMetrics,
    apply_migrations,
    sample_span_records,
)

__all__ = [
    "Batch",
    "Count",
    "OwnBroker",
    "SinkProcess",
    "SteadyProducer",
    "all_committed",
    "count",
    "first_processed_s",
    "group_offsets",
    "own_broker",
    "sink_pausing",
    "span_record_batches",
    "store",
    "until",
    "wait_group_stable",
    "wait_published",
    "worker_env",
]

PROJECT = "faults"
_serial = itertools.count(1)  # 0 would make the all-zero span id, which is invalid


def worker_env(bootstrap: str, prefix: str) -> dict[str, str]:
    """A worker that emits traces at once (no grace) and batches briefly."""
    return {
        "TRACESTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "TRACESTREAM_TOPIC_PREFIX": prefix,
        "TRACESTREAM_TOPIC_PARTITIONS": str(KAFKA_TOPIC_PARTITIONS),
        "TRACESTREAM_WORKER_BATCH_WITHIN_MS": "50",
        "TRACESTREAM_GRACE_S": "0",
    }


def _uuid7(at: datetime) -> str:
    ms = int(at.timestamp() * 1000)
    rand = secrets.randbits(74)
    return (
        f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-{0x7000 | (rand >> 62):04x}-"
        f"{0x8000 | ((rand >> 48) & 0x3FFF):04x}-{rand & 0xFFFFFFFFFFFF:012x}"
    )


def trace_events(serial: int) -> list[tuple[bytes, bytes, str]]:
    """(key, value, span id) of one complete trace: a root and two children, ended now."""
    now = datetime.now(UTC)
    trace_id = f"{secrets.randbits(96):024x}{serial:08x}"
    root = f"{serial:08x}{0:08x}"
    out = []
    for n, (name, parent) in enumerate((("answer", None), ("search", root), ("reply", root))):
        span_id = root if parent is None else f"{serial:08x}{n:08x}"
        event = {
            "event_id": _uuid7(now),
            "event_type": "span",
            "project": PROJECT,
            "service": "checkout",
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": parent,
            "timestamp": now.isoformat(),
            "kind": "workflow" if parent is None else "tool",
            "name": name,
            "start_time": (now - timedelta(milliseconds=40 - n)).isoformat(),
            "end_time": now.isoformat(),
            "status": "ok",
        }
        out.append((trace_id.encode(), orjson.dumps(event), span_id))
    return out


#: What a steady producer sends at each tick: (key, value, span id) records.
Batch = list[tuple[bytes, bytes, str]]


def _traces() -> Iterator[Batch]:
    while True:
        yield trace_events(next(_serial))


def span_record_batches(project: str, *, seed: int, chunk: int = 10) -> Iterator[Batch]:
    """Span records (what the worker publishes) in chunks, for a steady producer
    feeding a sink alone: 20,000 of them, ended a minute ago (inside every
    retention), with ids distinct for each seed."""
    records = sample_span_records(
        20_000, seed=seed, project=project, start=datetime.now(UTC) - timedelta(minutes=1)
    )
    for at in range(0, len(records), chunk):
        yield [
            (str(r["trace_id"]).encode(), orjson.dumps(r), str(r["span_id"]))
            for r in records[at : at + chunk]
        ]


class SteadyProducer:
    """Writes a batch to ``topic`` ``per_s`` times a second until :meth:`stop`; keeps
    the span ids the broker acknowledged.

    The batches are whole traces of events (:func:`trace_events`) unless
    ``batches`` gives others (span records for a sink alone, say). Runs as a
    task on the test's event loop; every send waits for the broker's
    acknowledgement (acks=all), so *sent* is what the broker has.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        per_s: float = 30.0,
        batches: Iterator[Batch] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._interval_s = 1 / per_s
        self._batches = batches if batches is not None else _traces()
        self.sent: set[str] = set()  # span ids acknowledged
        self.failures: list[BaseException] = []
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> set[str]:
        """Stop after the batch being sent; return the span ids the broker acknowledged."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        assert not self.failures, f"the test's producer failed: {self.failures[:3]}"
        return self.sent

    async def close(self) -> None:
        """Stop, if not stopped yet (for ``finally``: never raises the producer's failures)."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", linger_ms=2)
        await producer.start()
        try:
            for events in self._batches:
                if self._stopping.is_set():
                    return
                try:
                    acks = [await producer.send(self._topic, v, key=k) for k, v, _ in events]
                    await asyncio.gather(*acks)
                except Exception as exc:  # noqa: BLE001 - reported by stop()
                    self.failures.append(exc)
                    return
                self.sent.update(span_id for _, _, span_id in events)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval_s)
        finally:
            await producer.stop()


async def group_offsets(bootstrap: str, group: str, topic: str) -> tuple[list[int], list[int]]:
    """(the group's committed offset, the log end offset) of each partition of ``topic``."""
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(KAFKA_TOPIC_PARTITIONS)]
        committed = [await consumer.committed(tp) or 0 for tp in parts]
        ends = await consumer.end_offsets(parts)
        return committed, [ends[tp] for tp in parts]
    finally:
        await consumer.stop()


async def all_committed(bootstrap: str, group: str, topic: str) -> bool:
    """Whether ``group`` committed every partition of ``topic`` up to its end."""
    committed, ends = await group_offsets(bootstrap, group, topic)
    return committed == ends


async def sink_pausing(sink: SinkProcess) -> bool:
    """Whether the sink holds its consumer paused (storage failing: backpressure)."""
    text = await asyncio.to_thread(sink.metrics)
    return metric_value(text, "tracestream_sink_backpressure") == 1


async def until(
    what: str, check: Callable[[], Awaitable[bool]], sink: SinkProcess, timeout_s: float = 60.0
) -> None:
    """Until ``check`` holds; fails at once if the sink died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        assert sink.running(), f"the sink died:\n{sink.log_tail()}"
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout_s}s:\n{sink.log_tail()}")


async def events_in(worker: WorkerProcess) -> float:
    """Records the worker's pipeline consumed so far (0 while /metrics does not answer)."""
    try:
        text = await asyncio.to_thread(worker.metrics)
    except OSError:
        return 0.0
    return metric_value(text, "tracestream_events_in_total")


async def first_processed_s(worker: WorkerProcess, *, timeout_s: float = 120.0) -> float:
    """Seconds from the worker's last spawn to the first record its pipeline consumed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await events_in(worker) > 0:
            return time.monotonic() - worker.spawned_at
        await asyncio.sleep(0.05)
    raise AssertionError(f"the worker processed nothing in {timeout_s}s:\n{worker.log_tail()}")


async def wait_processed(workers: Sequence[WorkerProcess], at_least: float) -> None:
    """Until the workers' pipelines together consumed ``at_least`` records."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum([await events_in(w) for w in workers]) >= at_least:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the workers did not get going:\n" + workers[0].log_tail())


async def wait_published(bootstrap: str, topics: Topics, sent: set[str]) -> None:
    """Until every span sent is on the spans topic, or two minutes passed (then the
    count reports what is missing).

    Not the worker group's committed offsets: Faust's commits can stay short of
    the end with every record processed (seen here), so they prove nothing.
    """
    consumer = AIOKafkaConsumer(
        topics.spans,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    missing = set(sent)
    try:
        deadline = time.monotonic() + 120
        while missing and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    missing.discard(orjson.loads(r.value or b"{}").get("span_id"))
    finally:
        await consumer.stop()


async def wait_group_stable(bootstrap: str, group: str, members: int) -> None:
    """Until ``group`` is Stable with ``members`` members (no rebalance under way)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 120
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            described = await admin.describe_consumer_groups([group])
            state = described[0].to_object()["groups"][0]
            if state["state"] == "Stable" and len(state["members"]) == members:
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"group {group} did not settle: {state}")
    finally:
        await admin.close()


async def store(bootstrap: str, topics: Topics, prefix: str, directory: Path) -> ChdbStorage:
    """The real sink into a fresh chDB database until the output topics are drained.

    Returns the storage, open; the caller closes it.
    """
    storage = ChdbStorage(directory, "tracestream")
    storage.open()
    apply_migrations(storage)
    config = SinkConfig(
        bootstrap_servers=bootstrap,
        topics=topics,
        group_id=f"{prefix}tracestream-sink",
        batch_max_ms=200,
    )
    sink = Sink(storage, config, SinkMetrics(CollectorRegistry()))
    await sink.start()
    try:
        await sink.run_until_caught_up(idle_ms=3_000, timeout_s=120)
    finally:
        await sink.stop()
    return storage


async def _dead_letters(bootstrap: str, topic: str) -> list[tuple[str, str]]:
    """(span id or "", reason) of every record on a dead-letter ``topic``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    letters: list[tuple[str, str]] = []
    try:
        while batches := await consumer.getmany(timeout_ms=1_500):
            for records in batches.values():
                for r in records:
                    headers = dict(r.headers or ())
                    why = headers.get("__tracestream.errors.reason") or headers.get("error", b"?")
                    try:
                        span_id = str(orjson.loads(r.value or b"{}").get("span_id", ""))
                    except (orjson.JSONDecodeError, AttributeError):
                        span_id = ""
                    letters.append((span_id, why.decode(errors="replace")[:80]))
    finally:
        await consumer.stop()
    return letters


@dataclass
class Count:
    """What happened to the spans sent, as every fault test prints it."""

    sent: int
    stored: int
    dead_lettered: int
    dropped_counted: int
    lost: int
    rows_before_merge: int
    duplicates_under_final: int
    traces_stored: int
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"sent {self.sent}, stored {self.stored}, dead-lettered {self.dead_lettered}, "
            f"dropped-and-counted {self.dropped_counted}, lost {self.lost}; "
            f"{self.rows_before_merge} span rows before merges "
            f"({self.rows_before_merge - self.stored} replayed copies), "
            f"{self.duplicates_under_final} duplicates under FINAL; "
            f"{self.traces_stored} traces" + "".join(f"; {note}" for note in self.notes)
        )


async def count(
    bootstrap: str,
    topics: Topics,
    storage: ChdbStorage,
    sent: set[str],
    dropped_counted: int,
) -> Count:
    """Compare the span ids sent with the spans table and the dead-letter topics."""
    stored_ids = [r[0] for r in storage.query("SELECT span_id FROM spans FINAL").rows]
    final_rows = len(stored_ids)
    stored = set(stored_ids)
    assert stored <= sent, f"spans stored that were never sent: {sorted(stored - sent)[:5]}"
    letters = await _dead_letters(bootstrap, topics.events_dlq)
    letters += await _dead_letters(bootstrap, topics.sink_dlq)
    # A record dead-lettered again after a replay is one span.
    dead_ids = {span_id for span_id, _ in letters if span_id in sent} - stored
    dead = len(dead_ids)
    missing = sorted(sent - stored - dead_ids)
    return Count(
        sent=len(sent),
        stored=len(stored),
        dead_lettered=dead,
        dropped_counted=dropped_counted,
        lost=len(sent) - len(stored) - dead - dropped_counted,
        rows_before_merge=int(storage.query("SELECT count() FROM spans").scalar()),
        duplicates_under_final=final_rows - len(stored),
        traces_stored=int(storage.query("SELECT count() FROM traces FINAL").scalar()),
        notes=(
            [f"{len(letters)} dead letters: {sorted({why for _, why in letters})}"]
            if letters
            else []
        )
        + ([f"missing span ids: {missing[:9]}"] if missing else []),
    )


def dropped_spans(worker: WorkerProcess) -> int:
    """Spans the worker dropped and counted (assembly caps), from its /metrics."""
    text = worker.metrics()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("tracestream_assembly_events_total{") and 'kind="dropped_spans"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


# --- the sink as a child process ---------------------------------------------------


# --- a broker of a test's own -------------------------------------------------------


def _free_port_pair() -> int:
    """A port p with p and p + 1 free (the broker and its controller)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


@dataclass
class OwnBroker:
    """A broker of one test alone, started by the project's tooling: stopping it disturbs nobody."""

    layout: Layout

    @property
    def bootstrap(self) -> str:
        return self.layout.bootstrap

    def start(self) -> None:
        start(self.layout, heap_mb=384, timeout_s=120.0)

    def stop(self) -> None:
        assert stop(self.layout, grace_s=30.0), "the test's broker was not running"


@contextlib.contextmanager
def own_broker(directory: Path) -> Iterator[OwnBroker]:
    """A broker on a free port with its data under ``directory`` (the checkout's jars)."""
    settings = load_settings()
    jars = fetch(
        Layout.for_bootstrap(settings.kafka_bootstrap, settings.kafka_version, settings.cache_dir)
    )
    layout = Layout.for_bootstrap(
        f"127.0.0.1:{_free_port_pair()}", settings.kafka_version, directory / "cache"
    )
    layout.lib.parent.mkdir(parents=True)
    layout.lib.symlink_to(jars)
    broker = OwnBroker(layout)
    broker.start()
    try:
        yield broker
    finally:
        stop(layout, grace_s=10.0)


def cpu_count() -> int:
    """Cores of this machine (for the printed context of CPU fractions)."""
    return os.cpu_count() or 1
