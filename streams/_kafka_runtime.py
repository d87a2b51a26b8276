"""The worker on plain aiokafka: the same guarantees as the Faust adapter, without Faust.

:class:`KafkaWorker` consumes ``tracestream.events`` with an
:class:`~aiokafka.AIOKafkaConsumer` in the worker's consumer group (no auto
commit), hands each ``getmany`` batch to the pure
:class:`~tracestream.streams._pipeline.Pipeline` and publishes what it returns
exactly as ``streams/_app.py`` does:

1. the batch's outputs (DLQ, scores, spans, traces, windows, anomalies), all
   acknowledged (acks=all, idempotent producer), resent whole on any failure;
2. then the changelog records of every state the batch changed, the same way;
3. then the batch's offsets (``offset + 1`` of each partition's last record).

A crash anywhere replays from the last commit into the state restored from the
changelogs (at-least-once; the trace state deduplicates by event id).

State: three compacted topics we own, ``<app id>.trace-state``,
``<app id>.window-state`` and ``<app id>.baseline-state``, with as many
partitions as the events topic; the values are the bytes the Faust worker
writes. A trace's state goes to the partition its events came from, so a
worker that owns events partition *p* owns changelog partition *p*. Window and
baseline states aggregate over all partitions; they go to the default
partitioner's partition of their key.

Rebalancing: on assignment the newly assigned partitions' changelogs are read
from the beginning to their end offsets (tombstones delete) and the
assembler's and windows' indexes are rebuilt; partitions no longer assigned
are dropped. Every batch is published and committed under the batch lock
before the revocation callback can take it, so nothing is pending at a
revocation. Limit with several workers: windows and baselines are per-worker
partial aggregates (a window key's spans come from every partition), and two
workers write the same window key to the same changelog partition (last one
wins at restore) — exact with one worker, approximate with several, as with
the Faust runtime.

``/metrics`` is served by prometheus-client's HTTP server (a thread) from the
worker's registry. SIGTERM/SIGINT: the running batch finishes and is
committed, then the clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server

from tracestream.schemas import Topics

from ._anomaly import BaselineState
from ._batch_send import Message, send_batches
from ._changelog_store import PartitionedStore, default_partition
from ._heap import HeapKeeper
from ._metrics import PipelineMetrics
from ._pipeline import BatchOutput, Pipeline
from ._publish import dump_record, note_publish_failure, observe_published, window_key
from ._trace_restore import stored_trace_from_bytes
from ._trace_state import StoredTrace
from ._validate import SourceRecord
from ._windows import WindowState

__all__ = ["KafkaRuntimeError", "KafkaWorker", "KafkaWorkerConfig"]

_log = logging.getLogger(__name__)


class KafkaRuntimeError(RuntimeError):
    """The runtime cannot start: a changelog topic is missing partitions or was refused."""


@dataclass(frozen=True, slots=True)
class KafkaWorkerConfig:
    """Typed knobs of the aiokafka runtime (the CLI builds it from settings)."""

    app_id: str
    kafka_bootstrap: str
    topics: Topics
    partitions: int
    replication_factor: int = 1
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_size: int = 2000
    batch_within_ms: int = 200
    tick_interval_ms: int = 1000
    session_timeout_ms: int = 30_000
    #: See :class:`~tracestream.streams._heap.HeapKeeper`; 0: CPython's own GC.
    gc_full_collect_s: float = 0.0

    def changelog(self, name: str) -> str:
        """The compacted changelog topic of state ``name``."""
        return f"{self.app_id}.{name}"


class KafkaWorker:
    """The worker loop. ``await worker.run()`` until :meth:`stop` (or SIGTERM/SIGINT).

    Args:
        config: the runtime's knobs.
        pipeline: the pure batch processor (its stages use :attr:`store`,
            :attr:`window_store` and :attr:`baseline_store`).
        metrics: the worker's metrics (their registry is served on ``/metrics``).
    """

    def __init__(
        self, config: KafkaWorkerConfig, pipeline: Pipeline, metrics: PipelineMetrics
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.metrics = metrics
        self._partitions = config.partitions
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        #: events-topic key -> partition of the batch being processed (trace state placement)
        self._batch_partitions: dict[str, int] = {}
        self.store: PartitionedStore[StoredTrace] = PartitionedStore(
            stored_trace_from_bytes, self._trace_partition
        )
        self.window_store: PartitionedStore[WindowState] = PartitionedStore(
            WindowState.from_bytes, self._key_partition
        )
        self.baseline_store: PartitionedStore[BaselineState] = PartitionedStore(
            BaselineState.from_bytes, self._key_partition
        )
        self._stores: tuple[tuple[PartitionedStore[Any], str], ...] = (
            (self.store, config.changelog("trace-state")),
            (self.window_store, config.changelog("window-state")),
            (self.baseline_store, config.changelog("baseline-state")),
        )
        self._heap = HeapKeeper(config.gc_full_collect_s)
        self._held: set[int] = set()
        self._generation = 0
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    # -- placement -------------------------------------------------------------------

    def _trace_partition(self, key: str) -> int:
        found = self._batch_partitions.get(key)
        return found if found is not None else default_partition(key, self._partitions)

    def _key_partition(self, key: str) -> int:
        return default_partition(key, self._partitions)

    # -- life cycle ------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop after the running batch (safe from a signal handler)."""
        self._stopping.set()

    async def run(self) -> None:
        """Serve /metrics, create the changelogs, consume until stopped; close everything.

        Raises:
            KafkaRuntimeError: a changelog topic cannot be used.
            OSError: the /metrics port is taken.
        """
        logging.getLogger("aiokafka").setLevel(max(logging.INFO, logging.root.level))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        server, thread = start_http_server(
            self.config.web_port, addr=self.config.web_host, registry=self.metrics.registry
        )
        try:
            self._producer = await self._new_producer()
            events_partitions = await self._producer.partitions_for(self.config.topics.events)
            self._partitions = len(events_partitions)
            await self._ensure_changelogs()
            await self._consume()
        finally:
            if self._producer is not None:
                await self._producer.stop()
            server.shutdown()
            server.server_close()
            thread.join(5)

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.config.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            # send_batches hands the producer whole record batches, built once the
            # batch's output is known: lingering only held each one back (5 ms per
            # topic-partition, and a partition's next batch waits for the previous).
            linger_ms=0,
            # Under the broker's default 1 MiB message.max.bytes: a batch's output
            # to one partition is usually a single record batch.
            max_batch_size=1_000_000,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _ensure_changelogs(self) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.config.kafka_bootstrap, request_timeout_ms=30_000
        )
        await admin.start()
        try:
            names = [name for _, name in self._stores]
            existing = set(await admin.list_topics())
            wanted = [n for n in names if n not in existing]
            if wanted:
                response: Any = await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            self._partitions,
                            self.config.replication_factor,
                            topic_configs={"cleanup.policy": "compact"},
                        )
                        for name in wanted
                    ]
                )
                for entry in response.to_object()["topic_errors"]:
                    if entry["error_code"] not in (0, 36):  # 36: created concurrently
                        raise KafkaRuntimeError(
                            f"could not create {entry['topic']}: error {entry['error_code']}"
                        )
        finally:
            await admin.close()
        assert self._producer is not None
        for name in names:
            have = len(await self._producer.partitions_for(name))
            if have < self._partitions:
                raise KafkaRuntimeError(
                    f"changelog {name} has {have} partitions, the events topic "
                    f"{self._partitions}: recreate it or add partitions"
                )

    async def _consume(self) -> None:
        config = self.config
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.kafka_bootstrap,
            group_id=config.app_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=config.batch_size,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=min(3000, config.session_timeout_ms // 3),
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        consumer.subscribe([config.topics.events], listener=_Rebalance(self))
        self._consumer = consumer
        await consumer.start()
        ticker = asyncio.create_task(self._tick_loop(), name="tracestream-tick")
        try:
            while not self._stopping.is_set():
                generation = self._generation
                batches = await consumer.getmany(
                    timeout_ms=config.batch_within_ms, max_records=config.batch_size
                )
                if batches:
                    await self._process(consumer, generation, batches)
        finally:
            self._stopping.set()
            await ticker
            await consumer.stop()

    # -- batches ---------------------------------------------------------------------

    async def _process(
        self, consumer: AIOKafkaConsumer, generation: int, batches: dict[TopicPartition, list[Any]]
    ) -> None:
        started = time.perf_counter()
        async with self._lock:
            if generation != self._generation:
                # Fetched before a rebalance: processed by nobody yet. Where we still own
                # the partition, read them again (into the state restored for it).
                assigned = consumer.assignment()
                for tp, messages in batches.items():
                    if tp in assigned and messages:
                        consumer.seek(tp, messages[0].offset)
                return
            assigned = consumer.assignment()
            records: list[SourceRecord] = []
            hints = self._batch_partitions
            hints.clear()
            commit: dict[TopicPartition, int] = {}
            for tp, messages in batches.items():
                if tp not in assigned or not messages:
                    continue
                partition = tp.partition
                for m in messages:
                    key = m.key
                    if key is not None:
                        # try, not contextlib.suppress: a context manager per record cost
                        # three times the decode.
                        try:
                            hints[key.decode()] = partition
                        except UnicodeDecodeError:
                            pass
                    records.append(_source_record(m))
                commit[tp] = messages[-1].offset + 1
            if not records:
                return
            output = self.pipeline.process(records, now_ms=int(time.time() * 1000))
            await self._publish(output)
            hints.clear()
            self._heap.after_batch()
            try:
                await consumer.commit(commit)
            except KafkaError as exc:
                # The group moved on (e.g. this member was evicted): the records are
                # replayed by their next owner from the last commit; at-least-once.
                self.metrics.publish_failures.labels(f"commit_{type(exc).__name__}").inc()
                _log.warning("committing offsets failed (%s: %s)", type(exc).__name__, exc)
        self._observe_batch(consumer, commit, len(records), time.perf_counter() - started)

    async def _tick_loop(self) -> None:
        interval_s = self.config.tick_interval_ms / 1000
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval_s)
                return
            async with self._lock:
                if not self._held:
                    continue
                output = self.pipeline.tick(now_ms=int(time.time() * 1000))
                await self._publish(output)
                self._heap.after_batch()

    async def _publish(self, out: BatchOutput) -> None:
        """Produce a batch's outputs, then its state changes; wait for every ack of each.

        Outputs first, state second: a crash in between replays the batch into
        the old state (duplicates downstream); the other order could restore
        state that marks the batch's events as seen while their outputs were
        never acked (loss). The caller commits offsets only after this returns.
        """
        topics = self.config.topics
        messages: list[Message] = [
            (topics.events_dlq, None, d.key, d.value, list(d.headers)) for d in out.dead_letters
        ]
        messages += [(topics.scores, None, key, value, None) for key, value in out.scores]
        messages += [
            (topics.spans, None, r.trace_id.encode(), dump_record(r), None) for r in out.spans
        ]
        messages += [
            (topics.traces, None, r.trace_id.encode(), dump_record(r), None) for r in out.traces
        ]
        messages += [
            (topics.metrics, None, window_key(w), dump_record(w), None) for w in out.windows
        ]
        messages += [
            (topics.anomalies, None, window_key(a), dump_record(a), None) for a in out.anomalies
        ]
        changes: list[Message] = []
        for store, changelog in self._stores:
            changes += [(changelog, p, k, v, None) for p, k, v in store.flush()]
        if messages:
            await self._send_until_acked(messages)
        if changes:
            await self._send_until_acked(changes)
        observe_published(self.metrics, out)

    async def _send_until_acked(self, messages: list[Message]) -> None:
        """Send every message and wait for the acks; on any failure send them all again.

        Backpressure by design (as in ``streams/_app.py``): no further batch
        starts and no offset is committed until the broker took every record.
        After a failure the producer is replaced (a fresh idempotent producer
        id: the failed batch's sequence numbers do not block the resend).
        Downstream may get duplicates, never a gap.
        """
        delay_s = 0.1
        while True:
            pending: list[asyncio.Future[Any]] = []
            try:
                if self._producer is None:
                    self._producer = await self._new_producer()
                await send_batches(self._producer, messages, pending)
                await asyncio.gather(*pending)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: resend the whole batch
                for fut in pending:  # no "exception never retrieved" for the others
                    fut.add_done_callback(_retrieve)
                note_publish_failure(self.metrics, exc, len(messages), delay_s)
                producer, self._producer = self._producer, None
                if producer is not None:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)

    def _observe_batch(
        self,
        consumer: AIOKafkaConsumer,
        commit: dict[TopicPartition, int],
        count: int,
        seconds: float,
    ) -> None:
        m = self.metrics
        m.batch_duration.observe(seconds)
        m.last_batch_timestamp.set(time.time())
        for tp, next_offset in commit.items():
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - lag is best effort; never fail a batch over it
                continue
            if highwater is not None:
                m.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - next_offset, 0)
                )
        del count

    # -- rebalancing -----------------------------------------------------------------

    async def on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Every batch is published and committed under the lock: once we hold it, nothing
        is pending. Batches fetched before this point are discarded (generation)."""
        async with self._lock:
            self._generation += 1
        _log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    async def on_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Drop the partitions we lost, restore the ones we gained, rebuild the indexes."""
        async with self._lock:
            self._generation += 1
            now = {tp.partition for tp in assigned if tp.topic == self.config.topics.events}
            lost, gained = self._held - now, now - self._held
            for store, _ in self._stores:
                store.drop_partitions(lost)
            started = time.perf_counter()
            restored = await self._restore(gained) if gained else 0
            self._held = now
            self.pipeline.rebuild_indexes()
        _log.info(
            "partitions assigned: %s (restored %d changelog records of %s in %.2fs; dropped %s)",
            sorted(now),
            restored,
            sorted(gained),
            time.perf_counter() - started,
            sorted(lost),
        )

    async def _restore(self, partitions: set[int]) -> int:
        """Read the changelogs' ``partitions`` from the beginning to their end offsets."""
        by_topic = {name: store for store, name in self._stores}
        tps = [TopicPartition(name, p) for name in by_topic for p in sorted(partitions)]
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.config.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            # Not "latest": assign() starts a reset of its own that can finish after
            # seek_to_beginning() and leave the position at the end (nothing restored).
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await reader.start()
        count = 0
        try:
            reader.assign(tps)
            ends = await reader.end_offsets(tps)
            await reader.seek_to_beginning(*tps)
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                for tp in list(remaining):
                    if await reader.position(tp) >= ends[tp]:
                        remaining.discard(tp)
                if not remaining:
                    break
                batches = await reader.getmany(*remaining, timeout_ms=500)
                for tp, messages in batches.items():
                    store = by_topic[tp.topic]
                    for m in messages:
                        if m.offset < ends[tp] and m.key is not None:
                            store.load(m.key, m.value, tp.partition)
                            count += 1
        finally:
            await reader.stop()
        return count


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: KafkaWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._worker.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self._worker.on_assigned(assigned)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _source_record(message: Any) -> SourceRecord:
    raw = message.headers
    # Most events carry no headers: skip building an empty tuple through a generator.
    headers = tuple((str(k), bytes(v) if v is not None else b"") for k, v in raw) if raw else ()
    return SourceRecord(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        headers,
        message.timestamp,
    )
