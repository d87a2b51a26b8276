"""The Faust worker: a thin adapter that moves records between Kafka and :class:`Pipeline`.

Everything Faust-specific lives here (faust is untyped; the rest of the
package never imports it). One agent consumes ``tracestream.events`` in batches
(``stream.take_events(n, within=...)``: one record at a time is ~100x slower),
hands each batch to the pure :class:`~tracestream.streams._pipeline.Pipeline`,
produces what it returns, waits until the broker acknowledged every record,
and only then lets Faust commit the batch's offsets: at-least-once. Faust's
``exactly_once`` is not used (open bugs); downstream records carry versions
and event ids so the sinks deduplicate.

A timer closes due traces and windows when no events arrive. ``/metrics`` is
served by Faust's own web server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tracestream.schemas import Topics

from ._anomaly import BaselineState
from ._heap import HeapKeeper
from ._metrics import PipelineMetrics
from ._pipeline import BatchOutput, Pipeline
from ._publish import dump_record, note_publish_failure, observe_published, window_key
from ._trace_restore import stored_trace_from_bytes
from ._trace_state import StoredTrace
from ._validate import SourceRecord
from ._windows import WindowState

__all__ = ["WorkerApp", "WorkerConfig", "WriteBackStore"]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Typed knobs of the Faust adapter (the CLI builds it from settings)."""

    app_id: str
    kafka_bootstrap: str
    topics: Topics
    partitions: int
    replication_factor: int = 1
    store: str = "memory://"
    datadir: str = ".tracestream/worker"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    web_enabled: bool = True
    batch_size: int = 2000
    batch_within_s: float = 0.2
    tick_interval_s: float = 1.0
    session_timeout_s: float = 30.0
    #: See :class:`~tracestream.streams._heap.HeapKeeper`; 0: CPython's own GC.
    gc_full_collect_s: float = 0.0


class WorkerApp:
    """Builds the Faust app around a pipeline. ``app.main()`` or ``faust.Worker`` runs it.

    Args:
        config: the adapter's knobs.
        pipeline: the pure batch processor.
        metrics: the worker's metrics (their registry is served on ``/metrics``).
    """

    def __init__(self, config: WorkerConfig, pipeline: Pipeline, metrics: PipelineMetrics) -> None:
        self.config = config
        self.pipeline = pipeline
        self.metrics = metrics
        self._lock = asyncio.Lock()
        self._heap = HeapKeeper(config.gc_full_collect_s)
        brokers = ";".join(
            f"kafka://{server.strip()}" for server in config.kafka_bootstrap.split(",")
        )
        self.app: Any = faust.App(
            config.app_id,
            broker=brokers,
            store=config.store,
            datadir=config.datadir,
            topic_partitions=config.partitions,
            topic_replication_factor=config.replication_factor,
            processing_guarantee="at_least_once",
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=config.web_enabled,
            web_bind=config.web_host,
            web_host=config.web_host,
            web_port=config.web_port,
            autodiscover=False,
            stream_buffer_maxsize=max(4096, config.batch_size * 2),
            broker_max_poll_records=max(500, config.batch_size),
            producer_linger_ms=5,
            producer_max_batch_size=256 * 1024,
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=config.session_timeout_s,
            broker_heartbeat_interval=min(3.0, config.session_timeout_s / 3),
        )
        self.events_topic = self.app.topic(
            config.topics.events, key_type=bytes, value_type=bytes, partitions=config.partitions
        )
        self._outputs = {
            name: self.app.topic(
                name, key_type=bytes, value_type=bytes, partitions=config.partitions
            )
            for name in (
                config.topics.events_dlq,
                config.topics.scores,
                config.topics.spans,
                config.topics.traces,
                config.topics.metrics,
                config.topics.anomalies,
            )
        }
        self.app.agent(self.events_topic, name="tracestream-process-events")(self._process)
        self.app.timer(config.tick_interval_s, name="tracestream-tick")(self._tick)
        # State lives in plain changelogged tables (windowed tables are not restored
        # after a restart): trace assembly per trace_id, open windows per (key, window
        # start), anomaly baselines per key. Values are the states' bytes.
        # use_partitioner: the changelog partition is the key's default-partitioner
        # partition, so the timer (no current event) may write too.
        self.trace_table = self._table("trace-state")
        self.window_table = self._table("window-state")
        self.baseline_table = self._table("baseline-state")
        self.store: WriteBackStore[StoredTrace] = WriteBackStore(stored_trace_from_bytes)
        self.window_store: WriteBackStore[WindowState] = WriteBackStore(WindowState.from_bytes)
        self.baseline_store: WriteBackStore[BaselineState] = WriteBackStore(
            BaselineState.from_bytes
        )
        self._stores = (
            (self.store, self.trace_table),
            (self.window_store, self.window_table),
            (self.baseline_store, self.baseline_table),
        )
        self._loaded = False
        page: Any = self._metrics_page  # faust types handlers as (View, Request)
        self.app.page("/metrics")(page)

    def _table(self, name: str) -> Any:
        return self.app.Table(
            name,
            key_type=str,
            value_type=bytes,
            partitions=self.config.partitions,
            use_partitioner=True,
        )

    # -- agent -----------------------------------------------------------------------

    async def _process(self, stream: Any) -> None:
        # aiokafka logs every produced record at DEBUG; with the logger left at
        # NOTSET each send builds a LogRecord even when handlers drop it (~5% of a batch).
        logging.getLogger("aiokafka").setLevel(max(logging.INFO, logging.root.level))
        within = self.config.batch_within_s
        async for events in stream.take_events(self.config.batch_size, within=within):
            started = time.perf_counter()
            records = [_source_record(e.message) for e in events]
            async with self._lock:
                self._load_state()
                output = self.pipeline.process(records, now_ms=int(time.time() * 1000))
                await self._publish(output)
                self._heap.after_batch()
            self._observe_batch(events, time.perf_counter() - started)

    async def _tick(self) -> None:
        # Faust starts timers once table recovery has completed, except when the
        # timer wins the race against the recovery service's own start: a tick
        # then would load half-restored tables for good (seen as a trace never
        # emitted after a restart). Tick only on recovered tables.
        tables = self.app.tables
        if self.app.in_recovery or not tables.recovery.completed.is_set():
            return
        async with self._lock:
            self._load_state()
            output = self.pipeline.tick(now_ms=int(time.time() * 1000))
            await self._publish(output)
            self._heap.after_batch()

    def _load_state(self) -> None:
        """Once, after Faust restored the table from its changelog: fill the store."""
        if self._loaded:
            return
        self._loaded = True
        for store, table in self._stores:
            store.restore(table)
        self.pipeline.rebuild_indexes()

    async def _publish(self, out: BatchOutput) -> None:
        """Produce a batch's output and state changes; wait for every acknowledgement.

        Outputs go out in one burst of sends awaited together; then the
        changelog records of the state the batch changed, the same way (Faust's
        own table writes go through a small buffer, one awaited send at a
        time). The batch's offsets are committed only after both are durable:
        at-least-once.
        """
        topics = self.config.topics
        messages: list[tuple[str, bytes | None, bytes | None, Any]] = [
            (topics.events_dlq, d.key, d.value, list(d.headers)) for d in out.dead_letters
        ]
        messages += [(topics.scores, key, value, None) for key, value in out.scores]
        messages += [(topics.spans, r.trace_id.encode(), dump_record(r), None) for r in out.spans]
        messages += [(topics.traces, r.trace_id.encode(), dump_record(r), None) for r in out.traces]
        messages += [(topics.metrics, window_key(w), dump_record(w), None) for w in out.windows]
        messages += [(topics.anomalies, window_key(a), dump_record(a), None) for a in out.anomalies]
        changes: list[tuple[str, bytes | None, bytes | None, Any]] = []
        for store, table in self._stores:
            changelog = table.changelog_topic.get_topic_name()
            changes += [(changelog, k, v, None) for k, v in store.flush(table)]
        # Outputs first, state second: a crash in between replays the batch into the
        # old state (duplicates downstream); the other order would restore state that
        # marks the batch's events as seen while their outputs were never acked (loss).
        if messages:
            await self._send_until_acked(messages)
        if changes:
            await self._send_until_acked(changes)
        observe_published(self.metrics, out)

    async def _send_until_acked(
        self, messages: list[tuple[str, bytes | None, bytes | None, Any]]
    ) -> None:
        """Send every message and wait for the acks; on any failure send them all again.

        Backpressure by design: the batch is not acknowledged (so its offsets
        are not committed and no further batch starts) until the broker took
        every record. A partly sent batch is sent again whole: downstream gets
        duplicates (same event ids and versions, which the sinks deduplicate),
        never a gap. A crash while retrying replays the batch from Kafka.
        """
        send = self.app.producer.send
        delay_s = 0.1
        while True:
            pending: list[Awaitable[Any]] = []
            try:
                for topic, key, value, headers in messages:
                    # producer.send enqueues and returns a future; awaiting the futures
                    # is what makes the batch's offsets safe to commit.
                    pending.append(await send(topic, key, value, None, None, headers))
                await asyncio.gather(*pending)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: resend the whole batch
                for fut in pending:  # collect the other futures' outcomes (no "never retrieved")
                    if isinstance(fut, asyncio.Future) and fut.done() and not fut.cancelled():
                        fut.exception()
                note_publish_failure(self.metrics, exc, len(messages), delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)

    def _observe_batch(self, events: Sequence[Any], seconds: float) -> None:
        m = self.metrics
        m.batch_duration.observe(seconds)
        m.last_batch_timestamp.set(time.time())
        last: dict[tuple[str, int], int] = {}
        for e in events:
            msg = e.message
            last[(msg.topic, msg.partition)] = msg.offset
        consumer = self.app.consumer
        for (topic, partition), offset in last.items():
            try:
                highwater = consumer.highwater(faust.types.TP(topic, partition))
            except Exception:  # noqa: BLE001 - lag is best effort; never fail a batch over it
                continue
            if highwater is not None:
                m.consumer_lag.labels(topic, str(partition)).set(max(highwater - offset - 1, 0))

    async def _metrics_page(self, request: Any) -> Any:
        # Faust calls a bound-method handler with the request only; the web
        # driver builds the response.
        del request
        body = generate_latest(self.metrics.registry)
        return self.app.web.bytes(body, content_type=CONTENT_TYPE_LATEST.partition(";")[0])


class _State(Protocol):
    def to_bytes(self) -> bytes: ...


S = TypeVar("S", bound=_State)


class WriteBackStore(MutableMapping[str, S]):
    """A pure stage's store: states in memory, written to a Faust table once per batch.

    The stages write back on every change; collapsing those writes to one
    changelog record per key per batch keeps the changelog cheap. The records
    are produced with the batch's outputs and acknowledged before its offsets
    are committed, so a restart restores at least the state of every committed
    batch (at-least-once: replayed events are deduplicated by event id in the
    trace state; windows may count a replayed span twice).

    Args:
        decode: bytes -> state, for :meth:`restore`.
    """

    def __init__(self, decode: Callable[[bytes], S]) -> None:
        self._decode = decode
        self._data: dict[str, S] = {}
        self._dirty: set[str] = set()

    def restore(self, table: Any) -> None:
        """Load every state of ``table`` (restored by Faust from its changelog), not dirty."""
        for key, value in table.items():
            if value:
                name = key.decode() if isinstance(key, bytes) else str(key)
                self._data[name] = self._decode(value)

    def flush(self, table: Any) -> list[tuple[bytes, bytes | None]]:
        """Apply every changed or deleted key to ``table``'s local data; return the
        changelog records (key, value or None for a delete) the caller must produce."""
        data = table.data  # local store only: Faust's per-key changelog send is bypassed
        prepare_key = table.changelog_topic.prepare_key  # the table's own key codec (JSON)
        records: list[tuple[bytes, bytes | None]] = []
        for key in self._dirty:
            state = self._data.get(key)
            wire_key: bytes = prepare_key(key, None)[0]
            if state is None:
                data.pop(key, None)
                records.append((wire_key, None))
            else:
                value = state.to_bytes()
                data[key] = value
                records.append((wire_key, value))
        self._dirty.clear()
        return records

    def __getitem__(self, key: str) -> S:
        return self._data[key]

    def __setitem__(self, key: str, value: S) -> None:
        self._data[key] = value
        self._dirty.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty.add(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _source_record(message: Any) -> SourceRecord:
    headers = message.headers
    if isinstance(headers, dict):
        headers = headers.items()
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple((str(k), bytes(v) if v is not None else b"") for k, v in headers or ()),
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )
