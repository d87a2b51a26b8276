"""The server engine and the embedded engine side by side, fed the same records.

:func:`open_pair` opens one chDB data directory twice over: as the embedded
engine (database ``tracestream``) and, through the recording endpoint of
:mod:`._clickhouse_http`, as a ClickHouse server reached by
:class:`~tracestream.sinks.ServerStorage` over HTTP (database
``tracestream_server``). Both are migrated and then written the sink's way
(:func:`~tracestream.sinks.write_block`, raw spans mapped by ClickHouse and
mapped columns) with the same blocks, poison records included, so the two
databases must end up equal row for row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from tests.integration.sinks import _feedback_data, _known_data
from tests.integration.ui import _ui_data
from tracestream.schemas import SpanRecord
from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    DeadLetter,
    KafkaRow,
    Migration,
    RetentionPolicy,
    ServerStorage,
    Storage,
    apply_migrations,
    load_migrations,
    write_block,
)
from tracestream.sinks._raw_sql import RAW_SELECTS, retention_params
from tracestream.streams import WindowAggregator

from ._clickhouse_http import RecordedRequest, RecordingClickHouse

__all__ = [
    "BIG_SPANS",
    "RETENTION",
    "EnginePair",
    "open_pair",
    "sink_blocks",
    "write_like_the_sink",
]

BIG_SPANS = 40
RETENTION = RetentionPolicy(default_days=3650, project_days={"shop": 3000})
#: A span whose trace id breaks the table's constraint (code 469, refused on insert).
_BAD_TRACE_ID = "z" * 32


@dataclass
class EnginePair:
    """Both engines over one chDB directory, and the endpoint's requests per phase."""

    embedded: ChdbStorage
    server: ServerStorage
    endpoint: RecordingClickHouse
    #: The migration files as read once and applied to both engines.
    migrations: list[Migration]
    migration_requests: list[RecordedRequest]
    write_requests: list[RecordedRequest]
    embedded_letters: list[DeadLetter]
    server_letters: list[DeadLetter]


@dataclass(frozen=True)
class Block:
    """One partition's consecutive records, written by the raw (ClickHouse-mapped) path or not."""

    role: str
    partition: int
    values: list[bytes]
    raw: bool

    def rows(self) -> list[KafkaRow]:
        return [
            KafkaRow(f"t.{self.role}", self.partition, offset, value)
            for offset, value in enumerate(self.values)
        ]


def _json(records: Sequence[object]) -> list[bytes]:
    return [r.model_dump_json().encode() for r in records]  # type: ignore[attr-defined]


def _windows(spans: list[SpanRecord]) -> list[bytes]:
    """Metric windows of the spans, as the worker's core closes them."""
    aggregator = WindowAggregator(window_s=60.0)
    for span in sorted(spans, key=lambda s: s.end_time or s.start_time):
        aggregator.add(span, now=span.end_time or span.start_time)
    return _json(aggregator.close_due(datetime(2030, 1, 1, tzinfo=UTC)))


def sink_blocks() -> list[Block]:
    """Every table's records (the known, explorer and feedback data sets), poison included.

    Superseded versions go first, in blocks of their own, so the readers'
    FINAL has work to do. Spans travel both insert paths: the sink's (raw
    bytes mapped by ClickHouse) and replay's (columns mapped in Python).
    """
    spans = [
        *_known_data.spans(),
        *_ui_data.t5_spans(),
        *_ui_data.t6_spans(BIG_SPANS),
        *_ui_data.t7_spans(),
        *_feedback_data.spans(),
    ]
    traces = [*_known_data.traces(), *_ui_data.ui_traces(BIG_SPANS), *_feedback_data.traces()]
    older_spans = [s for s in spans if s.status == "unset"]
    newer_spans = [s for s in spans if s.status != "unset"]
    half = len(newer_spans) // 2
    bad_span = newer_spans[0].model_copy(update={"trace_id": _BAD_TRACE_ID})
    return [
        Block("spans", 0, _json(older_spans), raw=True),
        Block("spans", 1, _json(newer_spans[: half - 1]), raw=False),
        Block("spans", 2, _json(newer_spans[half:-1]), raw=True),
        # Poison in short blocks: each refused insert is split in halves down
        # to the bad row, a dozen inserts for a block of a hundred.
        Block("spans", 3, [*_json(newer_spans[half - 1 : half]), *_json([bad_span])], raw=False),
        Block("spans", 4, [*_json(newer_spans[-1:]), b'{"trace_id": "cut sh'], raw=True),
        Block("spans", 5, _json([bad_span]), raw=True),
        Block("traces", 0, _json([t for t in traces if t.status == "incomplete"]), raw=False),
        Block("traces", 1, [*_json([t for t in traces if t.status != "incomplete"]), b"{"], False),
        Block("scores", 0, _json([*_known_data.scores(), *_feedback_data.scores()]), raw=False),
        Block("anomalies", 0, _json(_known_data.anomalies()), raw=False),
        Block("metrics", 0, _windows(spans), raw=False),
    ]


def write_like_the_sink(storage: Storage, blocks: Sequence[Block]) -> list[DeadLetter]:
    """Write the blocks as the sink's ``_insert``/``_insert_raw`` do; returns the dead letters."""
    letters: list[DeadLetter] = []
    params = retention_params(RETENTION)

    async def insert(table: str, batch: pa.Table, token: str) -> None:
        await asyncio.to_thread(storage.insert, table, batch, dedup_token=token)

    async def dead_letter(rows: Sequence[DeadLetter]) -> None:
        letters.extend(rows)

    async def write(block: Block) -> None:
        mapping = TABLE_MAPPINGS[block.role]

        async def insert_raw(table: str, source: pa.Table, token: str) -> None:
            await asyncio.to_thread(
                storage.insert_select,
                table,
                mapping.schema.names,
                RAW_SELECTS[table],
                source,
                params=params,
                dedup_token=token,
            )

        await write_block(
            block.rows(),
            mapping,
            RETENTION,
            insert,
            dead_letter,
            insert_raw=insert_raw if block.raw else None,
        )

    async def write_all() -> None:
        for block in blocks:
            await write(block)

    asyncio.run(write_all())
    return letters


@contextmanager
def open_pair(directory: Path) -> Iterator[EnginePair]:
    """Both engines migrated and written with :func:`sink_blocks`; closed afterwards."""
    path = directory / "chdb"
    embedded = ChdbStorage(path, "tracestream")
    embedded.open()
    try:
        with RecordingClickHouse(path) as endpoint:
            # clickhouse:// as users write it in settings; the engine speaks HTTP to it.
            server = ServerStorage(
                endpoint.url.replace("http://", "clickhouse://", 1), "tracestream_server"
            )
            server.open()
            try:
                blocks = sink_blocks()
                migrations = load_migrations()
                apply_migrations(embedded, migrations)
                endpoint.clear()
                apply_migrations(server, migrations)
                migration_requests = endpoint.requests
                embedded_letters = write_like_the_sink(embedded, blocks)
                endpoint.clear()
                server_letters = write_like_the_sink(server, blocks)
                write_requests = endpoint.requests
                endpoint.clear()
                yield EnginePair(
                    embedded,
                    server,
                    endpoint,
                    migrations,
                    migration_requests,
                    write_requests,
                    embedded_letters,
                    server_letters,
                )
            finally:
                server.close()
    finally:
        embedded.close()
