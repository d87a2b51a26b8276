"""The sink on the real broker and real chDB: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from tracestream.schemas import Topics
from tracestream.sinks import (
    ChdbStorage,
    Sink,
    SinkConfig,
    SinkMetrics,
    StorageUnavailable,
    sample_span_records,
)
from tracestream.sinks._storage import QueryResult, SettingValue

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


class FlakyStorage:
    """Delegates to a real storage; the first ``failures`` inserts raise StorageUnavailable."""

    def __init__(self, inner: ChdbStorage, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.attempts = 0
        self.database = inner.database
        self.engine_name = "flaky"

    def insert(
        self,
        table: str,
        batch: pa.Table,
        *,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StorageUnavailable("injected outage")
        return self.inner.insert(table, batch, dedup_token=dedup_token, settings=settings)

    def insert_select(
        self,
        table: str,
        columns: Sequence[str],
        select_sql: str,
        source: pa.Table,
        *,
        params: Mapping[str, Any] | None = None,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StorageUnavailable("injected outage")
        return self.inner.insert_select(
            table,
            columns,
            select_sql,
            source,
            params=params,
            dedup_token=dedup_token,
            settings=settings,
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        return self.inner.query(sql, params)


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send(topic, value=value, key=str(i % 7).encode())
        await producer.flush()
    finally:
        await producer.stop()


def _config(bootstrap: str, topics: Topics, group: str, **kw: Any) -> SinkConfig:
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "topics": topics,
        "group_id": group,
        "batch_max_rows": 100,
        "batch_max_ms": 200,
        "retry_initial_ms": 50,
        "retry_max_ms": 200,
    }
    values.update(kw)
    return SinkConfig(**values)


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        total = 0
        for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic):
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer._client.cluster.partitions_for_topic(topic) or set()


async def _run(storage: Any, config: SinkConfig) -> Sink:
    sink = Sink(storage, config, SinkMetrics(CollectorRegistry()))
    await sink.start()
    try:
        await sink.run_until_caught_up(idle_ms=1_500, timeout_s=60)
    finally:
        await sink.stop()
    return sink


def _count(storage: ChdbStorage, sql: str) -> int:
    return int(storage.query(sql).scalar())


async def test_replay_of_the_same_offsets_adds_no_rows(
    kafka_bootstrap: str, kafka_topics: Topics, chdb_storage: ChdbStorage
) -> None:
    records = sample_span_records(450, seed=7)
    await _produce(kafka_bootstrap, kafka_topics.spans, [orjson.dumps(r) for r in records])
    await _run(chdb_storage, _config(kafka_bootstrap, kafka_topics, "g1"))
    assert _count(chdb_storage, "SELECT count() FROM spans") == 450
    assert await _committed(kafka_bootstrap, "g1", kafka_topics.spans) == 450
    # A second group reads the same offsets from the start: a full replay.
    await _run(chdb_storage, _config(kafka_bootstrap, kafka_topics, "g2"))
    assert _count(chdb_storage, "SELECT count() FROM spans") == 450
    assert _count(chdb_storage, "SELECT count() FROM spans FINAL") == 450
    assert _count(chdb_storage, "SELECT sum(spans) FROM spans_hourly") == 450


async def test_outage_loses_nothing_and_offsets_wait_for_the_insert(
    kafka_bootstrap: str, kafka_topics: Topics, chdb_storage: ChdbStorage
) -> None:
    records = sample_span_records(300, seed=8)
    await _produce(kafka_bootstrap, kafka_topics.spans, [orjson.dumps(r) for r in records])
    flaky = FlakyStorage(chdb_storage, failures=1_000_000)
    config = _config(kafka_bootstrap, kafka_topics, "g-outage")
    sink = Sink(flaky, config, SinkMetrics(CollectorRegistry()))  # type: ignore[arg-type]
    await sink.start()
    try:
        task = asyncio.create_task(sink.run_until_caught_up(idle_ms=1_500, timeout_s=60))
        for _ in range(100):  # storage is down: the sink retries and stops consuming
            if flaky.attempts > 5:
                break
            await asyncio.sleep(0.1)
        assert flaky.attempts > 5
        assert not task.done()
        assert await _committed(kafka_bootstrap, "g-outage", kafka_topics.spans) == 0
        assert _count(chdb_storage, "SELECT count() FROM spans") == 0
        flaky.failures = 0  # storage recovers
        await asyncio.wait_for(task, 60)
    finally:
        await sink.stop()
    assert _count(chdb_storage, "SELECT count() FROM spans") == 300
    assert await _committed(kafka_bootstrap, "g-outage", kafka_topics.spans) == 300


async def test_poison_rows_go_to_the_dlq_and_batch_mates_are_stored(
    kafka_bootstrap: str, kafka_topics: Topics, chdb_storage: ChdbStorage
) -> None:
    records = sample_span_records(120, seed=9)
    records[17]["trace_id"] = "z" * 32  # ClickHouse refuses it (CHECK constraint)
    values = [orjson.dumps(r) for r in records]
    values[40] = b"{not json\xff"  # cannot even be mapped (nor decoded as UTF-8)
    # Keys and headers as producers set them, with bytes that are not text and a
    # header name repeated, so a dead letter that rebuilt or decoded them differs.
    keys = [f"trace-{i}".encode() for i in range(len(values))]
    keys[40] = b"\x00\xfe key"
    headers = [
        [("traceparent", f"00-{i:032x}-{i:016x}-01".encode()), ("blob", bytes([i, 0, 255]))]
        for i in range(len(values))
    ]
    headers[17].append(("traceparent", b""))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        acks = [
            await producer.send(kafka_topics.spans, value=v, key=keys[i], headers=headers[i])
            for i, v in enumerate(values)
        ]
        placed = [(meta.partition, meta.offset) for meta in await asyncio.gather(*acks)]
    finally:
        await producer.stop()
    sink = await _run(chdb_storage, _config(kafka_bootstrap, kafka_topics, "g-poison"))
    assert sink.rows_dead_lettered == 2
    assert _count(chdb_storage, "SELECT count() FROM spans") == 118
    assert await _committed(kafka_bootstrap, "g-poison", kafka_topics.spans) == 120

    consumer = AIOKafkaConsumer(
        kafka_topics.sink_dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        got: list[Any] = []
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(r for rs in batch.values() for r in rs)
            if len(got) >= 2:
                break
    finally:
        await consumer.stop()
    by_stage = {dict(r.headers)["stage"]: r for r in got}
    assert set(by_stage) == {b"map", b"insert"}
    for stage, index in ((b"map", 40), (b"insert", 17)):
        letter = by_stage[stage]
        assert letter.key == keys[index]
        assert letter.value == values[index]
        # The original headers first, in order, then ours.
        cut = len(headers[index])
        assert list(letter.headers[:cut]) == headers[index]
        reasons = letter.headers[cut:]
        partition, offset = placed[index]
        ours = dict(reasons)
        assert [name for name, _ in reasons] == [
            "error",
            "stage",
            "table",
            "source_topic",
            "source_partition",
            "source_offset",
        ]
        assert ours["stage"] == stage
        assert ours["table"] == b"spans"
        assert ours["source_topic"] == kafka_topics.spans.encode()
        assert ours["source_partition"] == str(partition).encode()
        assert ours["source_offset"] == str(offset).encode()
    insert_error = dict(by_stage[b"insert"].headers)["error"]
    assert b"469" in insert_error or b"CONSTRAINT" in insert_error.upper()
