"""The writer's one split-and-retry, on both insert paths, against a real chDB.

A statement that is wrong (here: the spans table lost a column the mapping
writes, as when a migration is missing) fails every row alike: the writer
must raise it whole, so the sink halts and retries, instead of bisecting the
block down to single rows and dead-lettering each one. Bad rows still split.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry

from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    DeadLetter,
    KafkaRow,
    RetentionPolicy,
    SinkMetrics,
    StorageQueryError,
    StorageUnavailable,
    sample_span_records,
    write_block,
)
from tracestream.sinks._raw_sql import RAW_SELECTS, retention_params
from tracestream.sinks._sql import out_of_memory
from tracestream.sinks._storage import SettingValue

pytestmark = pytest.mark.integration

SPANS = TABLE_MAPPINGS["spans"]
POLICY = RetentionPolicy(3650)


class _Calls:
    """The writer's calls into storage (real chDB underneath) and its dead letters."""

    def __init__(
        self, storage: ChdbStorage, settings: dict[str, SettingValue] | None = None
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.tokens: list[str] = []
        self.letters: list[DeadLetter] = []

    async def insert(self, table: str, batch: object, token: str) -> None:
        self.tokens.append(token)
        assert isinstance(batch, pa.Table)
        await asyncio.to_thread(
            self.storage.insert, table, batch, dedup_token=token, settings=self.settings
        )

    async def insert_raw(self, table: str, source: pa.Table, token: str) -> None:
        # What Sink._insert_raw runs: the table's SQL mapping over the raw records.
        self.tokens.append(token)
        await asyncio.to_thread(
            self.storage.insert_select,
            table,
            SPANS.schema.names,
            RAW_SELECTS[table],
            source,
            params=retention_params(POLICY),
            dedup_token=token,
            settings=self.settings,
        )

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


def _rows(count: int) -> list[KafkaRow]:
    records = sample_span_records(count, seed=5)
    return [KafkaRow("t.spans", 0, i, orjson.dumps(r)) for i, r in enumerate(records)]


@pytest.mark.parametrize("path", ["raw", "mapped"])
async def test_a_wrong_statement_halts_instead_of_dead_lettering_the_block(
    chdb_storage: ChdbStorage, path: str
) -> None:
    chdb_storage.command("ALTER TABLE spans DROP COLUMN redactions")
    calls = _Calls(chdb_storage)
    rows = _rows(16)
    with pytest.raises(StorageQueryError, match="No such column redactions"):
        await write_block(
            rows,
            SPANS,
            POLICY,
            calls.insert,
            calls.dead_letter,
            insert_raw=calls.insert_raw if path == "raw" else None,
        )
    # One attempt at the whole block: no halves, no dead letters.
    assert calls.tokens == ["t.spans:0:0-15"]
    assert calls.letters == []
    assert chdb_storage.query("SELECT count() FROM spans").rows == [(0,)]


async def test_a_poison_row_is_still_split_out_on_the_raw_path(
    chdb_storage: ChdbStorage,
) -> None:
    calls = _Calls(chdb_storage)
    rows = _rows(8)
    poison = orjson.loads(rows[5].value)
    del poison["trace_id"]
    rows[5] = KafkaRow("t.spans", 0, 5, orjson.dumps(poison))
    stored = await write_block(
        rows, SPANS, POLICY, calls.insert, calls.dead_letter, insert_raw=calls.insert_raw
    )
    assert stored == 7
    assert [(d.row.offset, d.stage) for d in calls.letters] == [(5, "map")]
    assert "required field" in calls.letters[0].error
    assert chdb_storage.query("SELECT count() FROM spans").rows == [(7,)]


async def test_a_block_too_big_for_the_engines_memory_is_stored_in_halves(
    chdb_storage: ChdbStorage,
) -> None:
    # 256 spans of 200 KB input each (51 MB) under a 100 MB query memory limit:
    # the whole block and its halves fail with MEMORY_LIMIT_EXCEEDED (measured:
    # 128 spans fail, 64 fit), which used to be retried whole for ever.
    registry = CollectorRegistry()
    metrics = SinkMetrics(registry)
    rows = []
    for i, record in enumerate(sample_span_records(256, seed=5)):
        record["input"] = "x" * 200_000
        rows.append(KafkaRow("t.spans", 0, i, orjson.dumps(record)))
    calls = _Calls(chdb_storage, settings={"max_memory_usage": 100_000_000})
    stored = await write_block(
        rows, SPANS, POLICY, calls.insert, calls.dead_letter, metrics, insert_raw=calls.insert_raw
    )
    assert stored == 256
    assert calls.letters == []
    assert calls.tokens[:2] == ["t.spans:0:0-255", "t.spans:0:0-127"]
    # Each attempt that did not fit split in two: attempts = 2 * splits + 1.
    splits = registry.get_sample_value("tracestream_sink_memory_splits_total", {"table": "spans"})
    assert splits is not None and splits >= 2 and len(calls.tokens) == 2 * splits + 1
    assert chdb_storage.query("SELECT count(), uniqExact(span_id) FROM spans").rows == [(256, 256)]


async def test_a_single_row_too_big_for_memory_propagates_for_the_sink_to_retry(
    chdb_storage: ChdbStorage,
) -> None:
    record = sample_span_records(1, seed=5)[0]
    record["input"] = "x" * 2_000_000
    calls = _Calls(chdb_storage, settings={"max_memory_usage": 5_000_000})
    with pytest.raises(StorageUnavailable) as raised:
        await write_block(
            [KafkaRow("t.spans", 0, 0, orjson.dumps(record))],
            SPANS,
            POLICY,
            calls.insert,
            calls.dead_letter,
            insert_raw=calls.insert_raw,
        )
    assert out_of_memory(raised.value)
    assert calls.letters == []
