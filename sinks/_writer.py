"""Writing one block of Kafka records into one table: map, insert, split poison out.

The Kafka-free core of the sink (:mod:`._sink` only moves records in and
offsets out), so it is tested against chDB without a broker.

A *block* is records of one topic: a run of consecutive offsets per
partition, one partition or several (the sink puts the partial tails of a
flush's partitions into one block, see :mod:`._sink`). Its insert
deduplication token is ``topic:partition:first-last`` per run, so re-sending
the same block (a retry, a restart from the last committed offset, a replay)
is dropped by ClickHouse. When ClickHouse rejects a block for its data
(:class:`StorageRejected`), the block is split in halves, each with its own
token, until the poison rows are alone; they go to the dead-letter callback and
the rest is stored. A block the engine has no memory for (:func:`._sql.out_of_memory`) is
split the same way, down to single rows, so what fits is stored; nothing is
dead-lettered for it, and a row that alone does not fit propagates. Other
retriable errors, and :class:`StorageQueryError` (the
SQL is wrong, e.g. a table is missing: no row is at fault), propagate: the
caller backs off and calls again with the same block, and the halves already
stored are dropped by their tokens. Both insert paths (columns mapped here, raw
records mapped by ClickHouse) go through one split, :func:`_insert_split`, so
that guard cannot be missing from one of them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

import orjson
import pyarrow as pa

from ._errors import StorageQueryError, StorageRejected, StorageUnavailable
from ._metrics import SinkMetrics
from ._raw_sql import RAW_SELECTS, UNMAPPABLE, raw_table
from ._rows import RetentionPolicy, TableMapping, map_records
from ._sql import out_of_memory

__all__ = ["DeadLetter", "KafkaRow", "Record", "write_block"]


class Record(Protocol):
    """What the writer reads of a consumed record.

    A :class:`KafkaRow`, or aiokafka's ``ConsumerRecord`` as fetched: the
    sink buffers those as they are, since a copy per record cost ~0.04 s
    per 100k spans (and the garbage collector's walks over the copies).
    """

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class KafkaRow:
    """One record as consumed: where it came from, its raw value, key and headers
    (a dead letter carries the last two on as they came)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that can never be stored, and why."""

    row: Record
    table: str
    stage: str  # "map" (could not become a row) or "insert" (ClickHouse refused it)
    error: str


DeadLetterFn = Callable[[Sequence[DeadLetter]], Awaitable[None]]
#: ``insert(table, arrow_table, token)``: stores mapped columns.
InsertFn = Callable[[str, object, str], Awaitable[None]]
#: ``insert_raw(table, raw_table, token)``: stores raw records through the
#: table's SQL mapping (:data:`._raw_sql.RAW_SELECTS`).
InsertRawFn = Callable[[str, "pa.Table", str], Awaitable[None]]


def block_token(rows: Sequence[Record]) -> str:
    """The dedup token of a block: topic, partition and offset range of each run.

    ``topic:partition:first-last``, comma-joined when the block holds several
    runs (of several partitions, or with a gap in offsets; rows sorted by
    topic, partition and offset).
    """
    runs: list[str] = []
    first = rows[0]
    for prev, row in pairwise(rows):
        if (row.topic, row.partition, row.offset) != (prev.topic, prev.partition, prev.offset + 1):
            runs.append(f"{first.topic}:{first.partition}:{first.offset}-{prev.offset}")
            first = row
    last = rows[-1]
    runs.append(f"{first.topic}:{first.partition}:{first.offset}-{last.offset}")
    return ",".join(runs)


async def write_block(
    rows: Sequence[Record],
    mapping: TableMapping,
    retention: RetentionPolicy,
    insert: InsertFn,
    dead_letter: DeadLetterFn,
    metrics: SinkMetrics | None = None,
    *,
    insert_raw: InsertRawFn | None = None,
) -> int:
    """Store one block; returns the rows stored now (dropped duplicates included).

    ``insert(table, arrow_table, token)`` runs the insert (in a thread); it
    raises StorageError subclasses. With ``insert_raw`` and a table that has a
    SQL mapping (spans), the raw bytes go to ClickHouse, which parses and maps
    them (no per-row Python); otherwise records are parsed and mapped here.
    Either way a poison row ends in ``dead_letter`` with stage ``"map"`` (it
    could not become a row) or ``"insert"`` (ClickHouse refused the row).
    Dead letters are awaited before this returns, so the caller may commit
    the block's offsets afterwards.

    Raises:
        StorageError: a retriable failure; nothing of the block is lost, call
            again with the same block.
    """
    if insert_raw is not None and mapping.table in RAW_SELECTS:
        source = raw_table([row.value for row in rows])
        raw = insert_raw  # bound for the closure: mypy does not narrow into it

        async def insert_source(start: int, count: int, token: str) -> None:
            await raw(mapping.table, source.slice(start, count), token)

        return await _insert_split(rows, insert_source, mapping.table, dead_letter, metrics)
    parsed = []
    dead: list[DeadLetter] = []
    kept: list[Record] = []
    for row in rows:
        try:
            parsed.append(orjson.loads(row.value))
            kept.append(row)
        except orjson.JSONDecodeError as exc:
            dead.append(DeadLetter(row, mapping.table, "map", f"invalid JSON: {exc}"))
    mapped = map_records(mapping, parsed, retention)
    for index, reason in mapped.rejected:
        dead.append(DeadLetter(kept[index], mapping.table, "map", reason))
    stored_rows = [kept[i] for i in mapped.indices]
    if dead:
        await dead_letter(dead)
        if metrics is not None:
            metrics.rows_dead_lettered.labels(mapping.table, "map").inc(len(dead))
    if not stored_rows:
        return 0

    async def insert_mapped(start: int, count: int, token: str) -> None:
        await insert(mapping.table, mapped.table.slice(start, count), token)

    return await _insert_split(stored_rows, insert_mapped, mapping.table, dead_letter, metrics)


#: ``insert_slice(start, count, token)``: stores rows ``start`` to ``start + count``
#: of the block (mapped columns or raw records: the split does not care which).
_InsertSliceFn = Callable[[int, int, str], Awaitable[None]]


def _stage_of(exc: StorageRejected) -> str:
    """The dead-letter stage of a row ClickHouse refused on its own."""
    # The raw mapping's throwIf messages mark a record that could not become a
    # row (what the Python mapping reports as "map"); anything else is
    # ClickHouse refusing a row it could build (a constraint, a range).
    return "map" if UNMAPPABLE in str(exc) else "insert"


async def _insert_split(
    rows: Sequence[Record],
    insert_slice: _InsertSliceFn,
    table: str,
    dead_letter: DeadLetterFn,
    metrics: SinkMetrics | None,
    start: int = 0,
) -> int:
    """Insert ``rows`` (the block's rows from ``start`` on); on a data rejection split
    them in halves until the poison rows are alone and dead-letter those; on an
    engine out of memory, split them until the halves fit.

    The one split both insert paths (mapped columns, raw records) go through, so
    its guard cannot drift between them: a :class:`StorageQueryError` is about the
    statement, not a row, and propagates whole (splitting would dead-letter every
    row of the block).
    """
    count = len(rows)
    started = time.perf_counter()

    async def in_halves() -> int:
        half = count // 2
        stored = await _insert_split(rows[:half], insert_slice, table, dead_letter, metrics, start)
        stored += await _insert_split(
            rows[half:], insert_slice, table, dead_letter, metrics, start + half
        )
        return stored

    try:
        await insert_slice(start, count, block_token(rows))
    except StorageQueryError:
        raise
    except StorageRejected as exc:
        if count == 1:
            stage = _stage_of(exc)
            await dead_letter([DeadLetter(rows[0], table, stage, str(exc))])
            if metrics is not None:
                metrics.rows_dead_lettered.labels(table, stage).inc()
            return 0
        return await in_halves()
    except StorageUnavailable as exc:
        if count == 1 or not out_of_memory(exc):
            raise
        if metrics is not None:
            metrics.memory_splits.labels(table).inc()
        return await in_halves()
    if metrics is not None:
        metrics.insert_seconds.labels(table).observe(time.perf_counter() - started)
        metrics.rows_written.labels(table).inc(count)
    return count
