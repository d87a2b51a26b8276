"""The sink: Kafka output topics -> ClickHouse tables, at least once, nothing lost.

One aiokafka consumer (manual commits) reads ``spans``, ``traces``,
``scores``, ``metrics`` and ``anomalies``. Records are buffered per table and
every table is flushed together (group commit, :class:`._flush.FlushRule`):
when a table holds ``batch_max_rows`` rows, when the oldest record is
``batch_max_ms`` old, or when the consumer has caught up and
``flush_min_interval_ms`` passed since the last flush. So a quiet stream is
stored within a fraction of a second and a busy one in batches of up to a
second (ClickHouse's guidance: about one insert per second per table).

A flush writes, per table, one block per topic partition and offset-aligned
chunk of ``batch_max_rows`` that it holds whole, and one block of the partial
rest of every partition (see :mod:`._writer`): an insert costs ~40-90 ms of
chDB's CPU whatever its size, so the small batches of a caught-up sink are one
insert per table, not one per partition. Up to ``insert_concurrency`` blocks
are written at a time, across tables (each insert runs in a worker thread and
the engine releases the GIL, so blocks are written on different cores), and
the offsets are committed only after every block of the flush is acknowledged
and every poison row is in the sink DLQ. Blocks, and so dedup tokens, are the
same whatever the concurrency.

Backpressure, on purpose: when storage fails with a retriable error the sink
stops consuming (all partitions paused) and retries the same blocks with
capped exponential backoff, forever. It keeps polling the paused consumer so
the group does not evict it. Nothing is skipped; a restart re-reads from the
last committed offset and the dedup tokens drop what was already stored.
Every retry is counted (``tracestream_sink_insert_retries``); the log says
when storage starts failing, when the kind of error changes (its type or its
ClickHouse code: too many parts, then not enough space, is two lines), once a
minute while it lasts, and when inserts succeed again: a line per change, not
per retry.

Group membership: with ``group_instance_id`` the sink is a static member of
its group (KIP-345), so a sink restarted under the same name after a crash
gets its partitions back at once instead of after the old session expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracestream.schemas import Topics

from ._errors import StorageError
from ._flush import FlushRule, flush_blocks
from ._metrics import SinkMetrics
from ._raw_sql import RAW_SELECTS, retention_params
from ._rows import TABLE_MAPPINGS, RetentionPolicy, TableMapping
from ._storage import Storage
from ._writer import DeadLetter, KafkaRow, Record, write_block

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Sink", "SinkConfig"]

log = logging.getLogger("tracestream.sink")

_ROLES = ("spans", "traces", "scores", "metrics", "anomalies")


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """Typed knobs of the sink (the CLI fills them from settings)."""

    bootstrap_servers: str = "127.0.0.1:19092"
    topics: Topics = field(default_factory=Topics)
    group_id: str = "tracestream-sink"
    #: Static member name in the group (None: a dynamic member).
    group_instance_id: str | None = None
    #: Client id of the sink's consumer and producer (shown in the broker's logs).
    client_id: str = "tracestream-sink"
    #: How long a sink that died and did not come back under its name keeps its partitions.
    session_timeout_ms: int = 10_000
    batch_max_rows: int = 100_000
    batch_max_ms: int = 1_000
    #: Caught up, flush no sooner than this after the last flush (see :mod:`._flush`).
    flush_min_interval_ms: int = 500
    retry_initial_ms: int = 200
    retry_max_ms: int = 30_000
    fetch_max_records: int = 20_000
    #: Verify each fetched batch's CRC32C (aiokafka's ``check_crcs``). aiokafka
    #: computes it in software here: ~0.07 s of CPU per 100k spans (~1.1 KB).
    check_crcs: bool = False
    #: Blocks of one flush written at the same time. More than the cores (2)
    #: balances 3 partitions better: 0.92 s vs 1.01 s per 100k spans (median of 4).
    insert_concurrency: int = 3
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)


@dataclass(slots=True)
class _StorageTrouble:
    """Storage failing: since when, how often, and what the log has said about it."""

    since: float
    said: float
    retries: int = 0
    errors: set[str] = field(default_factory=set)


#: While storage keeps failing, a reminder this often.
_REMINDER_S = 60.0


@dataclass
class _Buffer:
    mapping: TableMapping
    rows: list[Record] = field(default_factory=list)
    since: float = 0.0


class Sink:
    """Consumes the output topics into storage until stopped.

    Call :meth:`run` from an event loop; storage calls run in a worker thread.
    """

    def __init__(self, storage: Storage, config: SinkConfig, metrics: SinkMetrics) -> None:
        self._storage = storage
        self._config = config
        self._metrics = metrics
        topics = config.topics
        self._role_of = {getattr(topics, role): role for role in _ROLES}
        self._buffers = {role: _Buffer(TABLE_MAPPINGS[role]) for role in _ROLES}
        self._role_of_table = {TABLE_MAPPINGS[role].table: role for role in _ROLES}
        self._rule = FlushRule(
            config.batch_max_rows, config.batch_max_ms, config.flush_min_interval_ms
        )
        self._last_flush = time.monotonic()  # when the last flush started
        self._caught_up = False
        # The flush being written while the loop keeps fetching the next batch.
        self._writing: asyncio.Task[None] | None = None
        self._retention_params = retention_params(config.retention)
        self._consumer: Any = None
        self._producer: Any = None
        self._next_offset: dict[tuple[str, int], int] = {}
        # Backpressure shared by concurrent block writers: the consumer is
        # paused while any of them is retrying, and only one polls it.
        self._retrying = 0
        self._poll_lock = asyncio.Lock()
        self._trouble: _StorageTrouble | None = None
        self.rows_stored = 0
        self.rows_dead_lettered = 0

    # --- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        """Connect the consumer and the DLQ producer."""
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        self._consumer = AIOKafkaConsumer(
            *self._role_of,
            bootstrap_servers=self._config.bootstrap_servers,
            group_id=self._config.group_id,
            group_instance_id=self._config.group_instance_id,
            client_id=self._config.client_id,
            session_timeout_ms=self._config.session_timeout_ms,
            heartbeat_interval_ms=min(3_000, self._config.session_timeout_ms // 3),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            check_crcs=self._config.check_crcs,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._config.bootstrap_servers,
            client_id=self._config.client_id,
            acks="all",
        )
        await self._producer.start()
        config = self._config
        if config.group_instance_id is None:
            log.info(
                "joining consumer group %s as a dynamic member; if a member crashed, the group "
                "waits for its session to expire (up to %ds) before it assigns partitions",
                config.group_id,
                config.session_timeout_ms // 1000,
            )
        else:
            log.info(
                "joining consumer group %s as static member %s; a member that crashed under "
                "this name is replaced at once, one that crashed under another name keeps its "
                "partitions until its session expires (up to %ds)",
                config.group_id,
                config.group_instance_id,
                config.session_timeout_ms // 1000,
            )
        try:
            await self._consumer.start()
        except BaseException:
            await self._producer.stop()
            raise

    def assigned(self) -> bool:
        """Whether the group has given this consumer its partitions (benchmarks wait for it)."""
        return bool(self._consumer is not None and self._consumer.assignment())

    async def stop(self) -> None:
        """Flush what is buffered (best effort) and disconnect."""
        try:
            if self._consumer is not None:
                await self.flush(force=True)
        finally:
            if self._consumer is not None:
                await self._consumer.stop()
                self._consumer = None
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and store until ``stop`` is set. Blocks (backpressure) on storage failures."""
        while not stop.is_set():
            await self.poll_once()

    async def run_until_caught_up(self, *, idle_ms: int = 1_500, timeout_s: float = 120) -> None:
        """Consume until no new record arrives for ``idle_ms``, then flush (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            got = await self.poll_once()
            now = time.monotonic()
            # A flush in flight is not idleness: the loop may be holding back
            # (backpressure) with records still unread.
            if got or self._writing is not None:
                idle_since = now
            elif now - idle_since > idle_ms / 1000:
                break
        await self.flush(force=True)

    # --- the loop ------------------------------------------------------------

    async def poll_once(self) -> int:
        """One fetch and its buffering; starts a flush if one is due. Returns records fetched.

        A flush is written in the background while the next batch is fetched
        (one flush at a time, so commits stay in order). Backpressure: while
        storage fails (the consumer is paused) or a full batch waits behind the
        flush in flight, this waits for that flush instead of fetching.
        """
        self._reap()
        writing = self._writing
        if writing is not None and (self._retrying or self._largest_rows() >= self._rule.max_rows):
            await asyncio.wait({writing}, timeout=0.2)
            self._reap()
            self._start_flush_if_due()
            return 0
        async with self._poll_lock:  # the writers poll the paused consumer too
            fetched = await self._consumer.getmany(
                timeout_ms=self._fetch_wait_ms(),
                max_records=self._config.fetch_max_records,
            )
        count = 0
        now = time.monotonic()
        wall = time.time()
        for tp, records in fetched.items():
            if records:
                # Worker's send (the record's CreateTime) -> fetched here: the Kafka leg.
                self._metrics.fetch_delay.observe(max(0.0, wall - records[0].timestamp / 1000))
            buffer = self._buffers[self._role_of[tp.topic]]
            if not buffer.rows:
                buffer.since = now
            if any(r.value is None for r in records):  # a tombstone: no bytes to store
                records = [
                    KafkaRow(r.topic, r.partition, r.offset, b"", r.key, r.headers)
                    if r.value is None
                    else r
                    for r in records
                ]
            buffer.rows.extend(records)
            count += len(records)
            if records:
                self._next_offset[(tp.topic, tp.partition)] = records[-1].offset + 1
        self._update_lag()
        self._caught_up = await self._read_to_end()
        self._reap()
        self._start_flush_if_due()
        return count

    async def flush(self, *, force: bool = False) -> None:
        """Wait for the flush in flight, then write every buffer if a flush is due (or
        whatever is buffered, with ``force``) and wait for that one too."""
        if self._writing is not None:
            await asyncio.wait({self._writing})
            self._reap()
        self._start_flush_if_due(force=force)
        if self._writing is not None:
            await asyncio.wait({self._writing})
            self._reap()

    def _reap(self) -> None:
        """Forget a finished flush; raise what it raised (its blocks were retried
        inside, so only a bug or a cancellation gets here)."""
        task = self._writing
        if task is not None and task.done():
            self._writing = None
            task.result()

    def _largest_rows(self) -> int:
        return max((len(b.rows) for b in self._buffers.values()), default=0)

    def _fetch_wait_ms(self) -> int:
        state = self._flush_state(time.monotonic())
        wait = self._rule.fetch_wait_ms(
            buffered=state["largest_rows"] > 0,
            oldest_age_ms=state["oldest_age_ms"],
            since_flush_ms=state["since_flush_ms"],
            caught_up=state["caught_up"],
        )
        # A flush is due but one is in flight: look again soon, without spinning.
        return max(wait, 20) if self._writing is not None else wait

    def _flush_state(self, now: float) -> dict[str, Any]:
        """What the flush rule looks at, as of ``now``."""
        held = [b for b in self._buffers.values() if b.rows]
        return {
            "largest_rows": max((len(b.rows) for b in held), default=0),
            "oldest_age_ms": (now - min((b.since for b in held), default=now)) * 1000,
            "since_flush_ms": (now - self._last_flush) * 1000,
            "caught_up": self._caught_up,
        }

    async def _read_to_end(self) -> bool:
        """Whether every assigned partition was read to its high watermark (as of the
        last fetch response that carried one): nothing more to read right now."""
        consumer = self._consumer
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            # No fetch response yet: its end is unknown, so not caught up.
            if high is None or await consumer.position(tp) < high:
                return False
        return True

    def _start_flush_if_due(self, *, force: bool = False) -> None:
        """Hand every table's buffer to a background flush if one is due and none is
        in flight (or, with ``force``, whatever is buffered)."""
        if self._writing is not None:
            return
        now = time.monotonic()
        state = self._flush_state(now)
        if not (force and state["largest_rows"]) and not self._rule.due(**state):
            return
        flushed = [b for b in self._buffers.values() if b.rows]
        for buffer in flushed:
            self._metrics.buffer_wait.observe(now - buffer.since)
            self._metrics.batch_rows.labels(buffer.mapping.table).observe(len(buffer.rows))
        work = [(b.mapping, b.rows) for b in flushed]
        for buffer in flushed:
            buffer.rows = []
        self._last_flush = now
        self._writing = asyncio.create_task(self._write_flush(work), name="sink-flush")

    async def _write_flush(self, work: list[tuple[TableMapping, list[Record]]]) -> None:
        """Store one flush's blocks of every table, then commit their offsets."""
        limit = asyncio.Semaphore(max(1, self._config.insert_concurrency))

        async def write(block: list[Record], mapping: TableMapping) -> None:
            async with limit:
                await self._write_with_retry(block, mapping)

        # gather waits for every block of every table; a write only ends when
        # its block is stored (retriable errors are retried inside), so the
        # commit below follows every acknowledgement.
        await asyncio.gather(
            *(
                write(block, mapping)
                for mapping, rows in work
                for block in flush_blocks(rows, self._config.batch_max_rows)
            )
        )
        commits: dict[tuple[str, int], int] = {}
        for _, rows in work:  # each partition's rows in offset order: the last one wins
            for row in rows:
                commits[(row.topic, row.partition)] = row.offset + 1
        await self._commit(commits)

    async def _write_with_retry(self, block: list[Record], mapping: TableMapping) -> None:
        delay_ms = self._config.retry_initial_ms
        paused = False
        try:
            while True:
                try:
                    stored = await write_block(
                        block,
                        mapping,
                        self._config.retention,
                        self._insert,
                        self._dead_letter,
                        self._metrics,
                        insert_raw=self._insert_raw,
                    )
                except StorageError as exc:
                    self._metrics.retries.labels(mapping.table).inc()
                    self._metrics.backpressure.set(1)
                    self._note_storage_failure(mapping.table, exc, delay_ms)
                    if not paused:
                        paused = True
                        self._retrying += 1
                        if self._retrying == 1:
                            self._consumer.pause(*self._consumer.assignment())
                    if self._poll_lock.locked():
                        # Another writer is polling the paused consumer already.
                        await asyncio.sleep(delay_ms / 1000)
                    else:
                        async with self._poll_lock:
                            # Polling a paused consumer returns nothing but keeps us in the group.
                            await self._consumer.getmany(timeout_ms=delay_ms)
                    delay_ms = min(delay_ms * 2, self._config.retry_max_ms)
                    continue
                self.rows_stored += stored
                if paused and self._retrying == 1:
                    self._say_storage_back()
                return
        finally:
            if paused:
                self._retrying -= 1
                if self._retrying == 0:
                    self._consumer.resume(*self._consumer.assignment())
                    self._metrics.backpressure.set(0)

    def _note_storage_failure(self, table: str, exc: StorageError, delay_ms: int) -> None:
        """Log a failed insert when it changes what the log said last (see the module)."""
        now = time.monotonic()
        kind = type(exc).__name__ if exc.retriable else f"non-retriable {type(exc).__name__}"
        if exc.code is not None:
            # The code is the cause an operator acts on (252 too many parts: merges;
            # 243 not enough space: disk), so a new code is a new state worth a
            # line, named here: the message quoted after it may be cut before its name.
            kind += f" code {exc.code}" + (f" {exc.code_name}" if exc.code_name else "")
        trouble = self._trouble
        if trouble is None:
            trouble = self._trouble = _StorageTrouble(since=now, said=now, errors={kind})
            trouble.retries += 1
            (log.warning if exc.retriable else log.error)(
                "insert into %s failed (%s: %s); consumption paused, retrying the same "
                "blocks with backoff (first in %d ms, then up to every %d ms) until storage "
                "accepts them",
                table,
                kind,
                _brief(exc),
                delay_ms,
                self._config.retry_max_ms,
            )
            return
        trouble.retries += 1
        if kind in trouble.errors and now - trouble.said < _REMINDER_S:
            return
        trouble.said = now
        trouble.errors.add(kind)
        (log.warning if exc.retriable else log.error)(
            "storage still failing after %.0fs and %d retries (now %s on %s: %s); "
            "consumption stays paused",
            now - trouble.since,
            trouble.retries,
            kind,
            table,
            _brief(exc),
        )

    def _say_storage_back(self) -> None:
        trouble, self._trouble = self._trouble, None
        if trouble is None:
            return
        log.warning(
            "storage accepts inserts again after %.1fs and %d retries; consumption resumes "
            "(%d rows stored, %d dead-lettered so far)",
            time.monotonic() - trouble.since,
            trouble.retries,
            self.rows_stored,
            self.rows_dead_lettered,
        )

    async def _insert(self, table: str, batch: object, token: str) -> None:
        await asyncio.to_thread(self._storage.insert, table, batch, dedup_token=token)

    async def _insert_raw(self, table: str, source: pa.Table, token: str) -> None:
        role = self._role_of_table[table]
        await asyncio.to_thread(
            self._storage.insert_select,
            table,
            TABLE_MAPPINGS[role].schema.names,
            RAW_SELECTS[table],
            source,
            params=self._retention_params,
            dedup_token=token,
        )

    async def _dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Send poison rows to the sink DLQ and wait for the broker's acknowledgement.

        The original key, headers and value bytes are kept; the error, stage,
        table and source coordinates travel in headers appended after the
        original ones. A failure raises (and is retried).
        """
        futures = []
        for letter in letters:
            headers = [
                *letter.row.headers,
                ("error", letter.error[:8000].encode()),
                ("stage", letter.stage.encode()),
                ("table", letter.table.encode()),
                ("source_topic", letter.row.topic.encode()),
                ("source_partition", str(letter.row.partition).encode()),
                ("source_offset", str(letter.row.offset).encode()),
            ]
            futures.append(
                await self._producer.send(
                    self._config.topics.sink_dlq,
                    key=letter.row.key,
                    value=letter.row.value,
                    headers=headers,
                )
            )
        await asyncio.gather(*futures)
        self.rows_dead_lettered += len(letters)

    async def _commit(self, commits: dict[tuple[str, int], int]) -> None:
        if not commits:
            return
        from aiokafka import TopicPartition
        from aiokafka.errors import CommitFailedError

        try:
            await self._consumer.commit(
                {TopicPartition(topic, part): offset for (topic, part), offset in commits.items()}
            )
        except CommitFailedError as exc:
            # A rebalance took the partitions away after the rows were stored:
            # the new owner re-reads them and the dedup tokens and replacing
            # keys drop the copies. Nothing is lost.
            log.warning("offset commit after a rebalance failed (rows are stored): %s", exc)

    def _update_lag(self) -> None:
        consumer = self._consumer
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._next_offset.get((tp.topic, tp.partition))
            if high is not None and position is not None:
                self._metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, high - position))


def _brief(exc: BaseException, limit: int = 300) -> str:
    """An error for a log line: its first line, cut at ``limit`` characters.

    A server engine's errors quote the whole request (URL with the SQL, ~2 KB):
    one such line per state change is still a wall of text for whoever is on call.
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
