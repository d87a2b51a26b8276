"""The worker on plain aiokafka: the same guarantees as the Faust adapter, without Faust.

:class:`KafkaWorker` consumes ``tracestream.events`` with an
:class:`~aiokafka.AIOKafkaConsumer` in the worker's consumer group (no auto
commit), hands each ``getmany`` batch to the pure
:class:`~tracestream.streams._pipeline.Pipeline` and publishes what it returns
through the :class:`~tracestream.streams.runtime._publisher.Publisher` the
Faust adapter uses too:

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
partitioner's partition of their key. Their settings (a segment closed every
minute, so the broker compacts it) are in :mod:`._changelog_topics`.

Rebalancing: on assignment the newly assigned partitions' changelogs are read
from the beginning to their end offsets, only each key's last record decoded
(tombstones delete), and the assembler's and windows' indexes are rebuilt; partitions no longer assigned
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

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server

from tracestream.streams._anomaly import BaselineState
from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import Pipeline
from tracestream.streams._trace_restore import dormant_trace_from_bytes, stored_trace_from_bytes
from tracestream.streams._trace_state import StoredTrace
from tracestream.streams._validate import SourceRecord
from tracestream.streams._windows import WindowState

from ._batch_send import KafkaTransport
from ._changelog_store import PartitionedStore, default_partition
from ._changelog_topics import KafkaRuntimeError, ensure_changelog_topics
from ._config import RuntimeConfig
from ._publisher import Publisher, quiet_client_debug_logs
from ._transport import Message

__all__ = ["KafkaWorker", "KafkaWorkerConfig"]

_log = logging.getLogger(__name__)

#: A healthy join (coordinator found, no crashed member to wait for) takes well under this.
_SLOW_JOIN_S = 5.0


@dataclass(frozen=True, slots=True)
class KafkaWorkerConfig(RuntimeConfig):
    """Typed knobs of the aiokafka runtime (the CLI builds it from settings); all of
    :class:`~tracestream.streams.runtime._config.RuntimeConfig`'s."""

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
            stored_trace_from_bytes,
            self._trace_partition,
            decode_when_cheap=dormant_trace_from_bytes,
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
        self._transport = KafkaTransport(config.kafka_bootstrap, client_id=config.client_id)
        #: The publish / retry / observe path shared with the Faust runtime.
        self.publisher = Publisher(
            self._transport,
            config.topics,
            metrics,
            self._changelog_records,
            gc_full_collect_s=config.gc_full_collect_s,
        )
        self._held: set[int] = set()
        self._generation = 0
        #: When the worker began joining its group (monotonic), until its first assignment.
        self._joining_since: float | None = None
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
        quiet_client_debug_logs()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        server, thread = start_http_server(
            self.config.web_port, addr=self.config.web_host, registry=self.metrics.registry
        )
        try:
            producer = await self._transport.producer()
            events_partitions = await producer.partitions_for(self.config.topics.events)
            self._partitions = len(events_partitions)
            await self._ensure_changelogs()
            await self._consume()
        finally:
            await self._transport.close()
            server.shutdown()
            server.server_close()
            thread.join(5)

    async def _ensure_changelogs(self) -> None:
        names = [name for _, name in self._stores]
        await ensure_changelog_topics(
            self.config.kafka_bootstrap,
            self.config.client_id,
            names,
            self._partitions,
            self.config.replication_factor,
        )
        producer = await self._transport.producer()
        for name in names:
            have = len(await producer.partitions_for(name))
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
            group_instance_id=config.group_instance_id,
            client_id=config.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=config.batch_size,
            session_timeout_ms=_ms(config.session_timeout_s),
            heartbeat_interval_ms=_ms(config.heartbeat_interval_s),
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        consumer.subscribe([config.topics.events], listener=_Rebalance(self))
        self._consumer = consumer
        _log.info("%s", config.joining_message())
        self._joining_since = time.monotonic()
        await consumer.start()
        ticker = asyncio.create_task(self._tick_loop(), name="tracestream-tick")
        within_ms = _ms(config.batch_within_s)
        try:
            while not self._stopping.is_set():
                generation = self._generation
                batches = await consumer.getmany(
                    timeout_ms=within_ms, max_records=config.batch_size
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
            await self.publisher.publish(output)
            hints.clear()
            try:
                await consumer.commit(commit)
            except KafkaError as exc:
                # The group moved on (e.g. this member was evicted): the records are
                # replayed by their next owner from the last commit; at-least-once.
                self.publisher.note_commit_failure(exc)
        self.publisher.observe_batch(
            time.perf_counter() - started,
            {(tp.topic, tp.partition): offset for tp, offset in commit.items()},
            self._highwater,
        )

    def _highwater(self, topic: str, partition: int) -> int | None:
        if self._consumer is None:
            return None
        mark: int | None = self._consumer.highwater(TopicPartition(topic, partition))
        return mark

    async def _tick_loop(self) -> None:
        interval_s = self.config.tick_interval_s
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval_s)
                return
            self._say_if_still_joining()
            await self.tick()

    def _say_if_still_joining(self) -> None:
        """One line when the first assignment takes longer than a healthy join does."""
        since = self._joining_since
        if since is None:
            return
        waited_s = time.monotonic() - since
        if waited_s >= _SLOW_JOIN_S:
            self._joining_since = None  # said once
            _log.warning(
                "still waiting for partitions of group %s after %.0fs: the group waits for a "
                "crashed member's session to expire (up to %.0fs), or the broker's group "
                "coordinator is not available yet",
                self.config.app_id,
                waited_s,
                self.config.session_timeout_s,
            )

    async def tick(self) -> None:
        """Close due traces and windows now and publish them (the timer calls it).

        A no-op while no partition is held: the stores hold no restored state yet.
        """
        async with self._lock:
            if not self._held:
                return
            output = self.pipeline.tick(now_ms=int(time.time() * 1000))
            await self.publisher.publish(output)

    def _changelog_records(self) -> list[Message]:
        """The changelog records of every state changed since the last call (the publisher's)."""
        changes: list[Message] = []
        for store, changelog in self._stores:
            changes += [(changelog, p, k, v, None) for p, k, v in store.flush()]
        return changes

    # -- rebalancing -----------------------------------------------------------------

    async def on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Every batch is published and committed under the lock: once we hold it, nothing
        is pending. Batches fetched before this point are discarded (generation)."""
        async with self._lock:
            self._generation += 1
        _log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    async def on_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Drop the partitions we lost, restore the ones we gained, rebuild the indexes."""
        joined_at = time.monotonic()
        async with self._lock:
            self._generation += 1
            now = {tp.partition for tp in assigned if tp.topic == self.config.topics.events}
            lost, gained = self._held - now, now - self._held
            for store, _ in self._stores:
                store.drop_partitions(lost)
            started = time.perf_counter()
            read, loaded = await self._restore(gained) if gained else (0, 0)
            self._held = now
            self.pipeline.rebuild_indexes()
        joined = ""
        if self._joining_since is not None:
            joined = f"; joined the group {joined_at - self._joining_since:.1f}s after starting to"
        self._joining_since = None
        _log.info(
            "partitions assigned: %s (restored %d states from %d changelog records of %s in "
            "%.2fs; dropped %s%s)",
            sorted(now),
            loaded,
            read,
            sorted(gained),
            time.perf_counter() - started,
            sorted(lost),
            joined,
        )

    async def _restore(self, partitions: set[int]) -> tuple[int, int]:
        """Read the changelogs' ``partitions`` from the beginning to their end offsets;
        (records read, states loaded). Only each key's last record is decoded."""
        by_topic = {name: store for store, name in self._stores}
        tps = [TopicPartition(name, p) for name in by_topic for p in sorted(partitions)]
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.config.kafka_bootstrap,
            client_id=self.config.client_id,
            enable_auto_commit=False,
            group_id=None,
            # Not "latest": assign() starts a reset of its own that can finish after
            # seek_to_beginning() and leave the position at the end (nothing restored).
            auto_offset_reset="earliest",
            # Per fetch, compressed: the changelogs are lz4 and expand ~10x in memory.
            # 100k lingering traces restored in 3.4 s at a 395 MB peak with these,
            # 4.4 s at 886 MB with 64 MB / 16 MB.
            fetch_max_bytes=8 * 1024 * 1024,
            max_partition_fetch_bytes=2 * 1024 * 1024,
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
                            store.stage(m.key, m.value, tp.partition)
                            count += 1
        finally:
            await reader.stop()
        loaded = sum(store.load_staged() for store in by_topic.values())
        return count, loaded


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: KafkaWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._worker.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self._worker.on_assigned(assigned)


def _ms(seconds: float) -> int:
    """Seconds as the whole milliseconds aiokafka's arguments take."""
    return round(seconds * 1000)


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
