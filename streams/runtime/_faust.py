"""The Faust worker: a thin adapter that moves records between Kafka and :class:`Pipeline`.

Everything Faust-specific lives here (faust is untyped; the rest of the
package never imports it). One agent consumes ``tracestream.events`` in batches
(``stream.take_events(n, within=...)``: one record at a time is ~100x slower),
hands each batch to the pure :class:`~tracestream.streams._pipeline.Pipeline`,
and publishes what it returns through the
:class:`~tracestream.streams.runtime._publisher.Publisher` the aiokafka runtime
uses too (over Faust's producer): every record acknowledged before Faust may
commit the batch's offsets, at-least-once. Faust's ``exactly_once`` is not
used (open bugs); downstream records carry versions and event ids so the
sinks deduplicate.

A timer closes due traces and windows when no events arrive. ``/metrics`` is
served by Faust's own web server.

Group membership: the front runs this runtime as a dynamic member
(``group_instance_id`` None). Static membership (KIP-345, as the aiokafka
runtime uses) was tried and
measured: Faust's assignor asserts that an assignment was made for its own
web URL (a static member gets its previous assignment back, so a restart on
another port crashed its coordinator), and with the URL in the member name a
worker that replaced a cleanly stopped static member under another name
never consumed its partitions in 2 of 9 runs of
tests/integration/streams/test_worker_assembly.py (0 of 6 dynamic; the cause
lies in Faust's recovery and was not found). A static member also does not
leave its group on a clean stop. A crashed Faust worker's partitions wait
for its session to expire (``session_timeout_s``, 10 s by default).

Limit, measured (tests/faults/_flow.py): with several workers, a rebalance
while records flow can lose records in faust-streaming 0.15.3 (records
fetched but not yet processed are cleared from the agent's buffer and never
read again). Every change of members rebalances the group, a restart after
a crash included; the aiokafka runtime loses nothing there (it discards and
re-reads fetched batches on every rebalance, and its static members restart
without one).
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

from tracestream.streams._anomaly import BaselineState
from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import Pipeline
from tracestream.streams._trace_restore import stored_trace_from_bytes
from tracestream.streams._trace_state import StoredTrace
from tracestream.streams._validate import SourceRecord
from tracestream.streams._windows import WindowState

from ._config import RuntimeConfig
from ._publisher import Publisher, quiet_client_debug_logs
from ._transport import Message

__all__ = ["FaustTransport", "WorkerApp", "WorkerConfig", "WriteBackStore"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig(RuntimeConfig):
    """Typed knobs of the Faust adapter (the CLI builds it from settings): all of
    :class:`~tracestream.streams.runtime._config.RuntimeConfig`'s and Faust's own.

    Args:
        store: Faust's table store URL (``memory://``, ``rocksdb://``).
        datadir: Faust's data directory.
        web_enabled: serve ``/metrics`` on Faust's web server.
    """

    store: str = "memory://"
    datadir: str = ".tracestream/worker"
    web_enabled: bool = True


class FaustTransport:
    """Faust's producer as the publisher's transport: one ``send`` per record.

    Faust's own table writes go through a small buffer, one awaited send at a
    time; sending a batch's records at once and awaiting them together is the
    publisher's job. The producer belongs to the app, so :meth:`reset` keeps it.
    """

    def __init__(self, app: Any) -> None:
        self._app = app

    async def send(self, messages: Sequence[Message], acks: list[Awaitable[object]]) -> None:
        """Enqueue every message on Faust's producer; one ack future per record."""
        send = self._app.producer.send
        for topic, partition, key, value, headers in messages:
            acks.append(await send(topic, key, value, partition, None, headers))

    async def reset(self) -> None:
        """Nothing to drop: Faust's producer recovers by itself."""


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
            broker_heartbeat_interval=config.heartbeat_interval_s,
            broker_client_id=config.client_id,
            consumer_group_instance_id=config.group_instance_id,
        )
        self._joining_since: float | None = None
        # A (re)join starts with the revocation callback (an empty set at the first
        # join); Faust sends on_partitions_revoked at its end, before joining.
        self.app.on_partitions_revoked.connect(self._say_joining)
        self.app.on_partitions_assigned.connect(self._say_joined)
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
        self.app.timer(config.tick_interval_s, name="tracestream-tick")(self._tick_when_recovered)
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
        #: The publish / retry / observe path shared with the aiokafka runtime.
        self.publisher = Publisher(
            FaustTransport(self.app),
            config.topics,
            metrics,
            self._changelog_records,
            gc_full_collect_s=config.gc_full_collect_s,
        )
        page: Any = self._metrics_page  # faust types handlers as (View, Request)
        self.app.page("/metrics")(page)

    async def _say_joining(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        del sender, args, signal, kwargs
        if self._joining_since is None:
            self._joining_since = time.monotonic()
            _log.info("%s", self.config.joining_message())

    async def _say_joined(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        del sender, signal
        assigned = args[0] if args else kwargs.get("assigned", ())
        if self._joining_since is not None:
            _log.info(
                "joined group %s %.1fs after starting to (%d partitions assigned)",
                self.config.app_id,
                time.monotonic() - self._joining_since,
                len(assigned),
            )
            self._joining_since = None

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
        quiet_client_debug_logs()
        within = self.config.batch_within_s
        async for events in stream.take_events(self.config.batch_size, within=within):
            started = time.perf_counter()
            records = [_source_record(e.message) for e in events]
            async with self._lock:
                self._load_state()
                output = self.pipeline.process(records, now_ms=int(time.time() * 1000))
                await self.publisher.publish(output)
            next_offsets: dict[tuple[str, int], int] = {}
            for e in events:
                msg = e.message
                next_offsets[(msg.topic, msg.partition)] = msg.offset + 1
            self.publisher.observe_batch(
                time.perf_counter() - started, next_offsets, self._highwater
            )

    def _highwater(self, topic: str, partition: int) -> int | None:
        mark: int | None = self.app.consumer.highwater(faust.types.TP(topic, partition))
        return mark

    async def _tick_when_recovered(self) -> None:
        # Faust starts timers once table recovery has completed, except when the
        # timer wins the race against the recovery service's own start: a tick
        # then would load half-restored tables for good (seen as a trace never
        # emitted after a restart). Tick only on recovered tables.
        tables = self.app.tables
        if self.app.in_recovery or not tables.recovery.completed.is_set():
            return
        await self.tick()

    async def tick(self) -> None:
        """Close due traces and windows now and publish them (the timer calls it once
        Faust's tables are recovered)."""
        async with self._lock:
            self._load_state()
            output = self.pipeline.tick(now_ms=int(time.time() * 1000))
            await self.publisher.publish(output)

    def _load_state(self) -> None:
        """Once, after Faust restored the table from its changelog: fill the store."""
        if self._loaded:
            return
        self._loaded = True
        for store, table in self._stores:
            store.restore(table)
        self.pipeline.rebuild_indexes()

    def _changelog_records(self) -> list[Message]:
        """The changelog records of every state changed since the last call (the
        publisher's); the tables' local data is updated as they are made."""
        changes: list[Message] = []
        for store, table in self._stores:
            changelog = table.changelog_topic.get_topic_name()
            changes += [(changelog, None, k, v, None) for k, v in store.flush(table)]
        return changes

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
