"""The real worker, the real broker and chDB: a planted value of every detector, in
every text field of every event kind, appears nowhere downstream but the DLQ.

Downstream is everything the worker and the sink write: every topic under the
test's prefix (spans, traces, scores, metrics, anomalies, the sink's DLQ and the
worker's changelog topics, whatever the runtime names them), the worker's
/metrics, and every ClickHouse table. The events DLQ keeps the original bytes
by design (docs/redaction.md), so a planted invalid event must be found there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from tests.unit.streams.test_redaction_fields import PLANTED, leaks, planted_events
from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics
from tracestream.sinks import ChdbStorage, Sink, SinkConfig, SinkMetrics, apply_migrations

from ._kafka_io import consume, produce
from .test_worker_dlq import worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TABLES = ("spans", "traces", "scores", "metrics_1m", "anomalies")
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]
WORKER_SETTINGS = {
    "TRACESTREAM_REDACT_HMAC_KEY": "integration-test-key",
    "TRACESTREAM_GRACE_S": "0.2",
    "TRACESTREAM_WORKER_TICK_INTERVAL_MS": "100",
    # One-second windows, each key's previous window its baseline: the second round's
    # slower spans make anomalies, so the anomaly topic and table are checked too.
    "TRACESTREAM_WINDOW_S": "1",
    "TRACESTREAM_ALLOWED_LATENESS_S": "0",
    "TRACESTREAM_ANOMALY_MIN_BASELINE": "1",
    "TRACESTREAM_ANOMALY_BASELINE_WINDOWS": "1",
    "TRACESTREAM_ANOMALY_MIN_COUNT": "1",
}


def _trace_id(detector: str, round_: int) -> str:
    return hashlib.sha256(f"{detector}/{round_}".encode()).hexdigest()[:32]


def _round(round_: int, now: datetime) -> list[Record]:
    """Every detector's planted events: round 0 ends 20 s ago with 0.1 s spans, round 1
    ends 8 s ago with 5 s spans (so each key's second window is anomalous)."""
    records: list[Record] = []
    for i, (detector, value) in enumerate(PLANTED.items()):
        trace_id = _trace_id(detector, round_)
        events = planted_events(
            value,
            now=now - timedelta(seconds=(20, 8)[round_]),
            trace_id=trace_id,
            serial=2 * i + round_,
            duration_s=(0.1, 5.0)[round_],
        )
        records += [(trace_id.encode(), orjson.dumps(event), []) for event in events]
    return records


async def _topics_under(bootstrap: str, prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(prefix))
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str) -> list[Record]:
    """(key, value, headers) of every record in ``topic`` now, read to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
        ] or [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[Record] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out += [(r.key or b"", r.value or b"", list(r.headers)) for r in records]
        return out
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer._client.cluster.partitions_for_topic(topic) or set()


async def _wait_for(bootstrap: str, topic: str, count: int, timeout_s: float = 90.0) -> None:
    got = await consume(bootstrap, topic, count, timeout_s=timeout_s)
    assert len(got) >= count, f"{topic}: {len(got)} of {count} records"


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a row value (arrays, maps and tuples included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _blobs(records: list[Record]) -> list[bytes]:
    return [
        part
        for key, value, headers in records
        for part in (key, value, *(name.encode() + b"=" + v for name, v in headers))
    ]


def _found(blobs: dict[str, list[bytes]]) -> list[str]:
    """``where: detector`` for each planted value seen in any blob."""
    return [
        f"{where}: {detector}"
        for where, items in blobs.items()
        for detector, value in PLANTED.items()
        if any(leaks(blob, value) for blob in items)
    ]


async def test_planted_values_reach_nothing_but_the_dlq(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    env = {**worker_env(kafka_bootstrap, topic_prefix), **WORKER_SETTINGS}
    now = datetime.now(UTC)
    # Invalid (a span without kind): to the DLQ as it came, planted value and all.
    invalid = orjson.dumps(
        {**planted_events(PLANTED["email"], now=now, serial=99)[2], "kind": None}
    )
    first, second = _round(0, now), _round(1, now)
    n = len(PLANTED)

    await produce(kafka_bootstrap, topics.events, [*first, (b"k", invalid, [])])
    with WorkerProcess(env, tmp_path / "worker") as worker:
        await _wait_for(kafka_bootstrap, topics.spans, 2 * n)
        # The second round only after the first is in its windows, so each key's
        # first window is closed (its baseline) before the second arrives.
        await produce(kafka_bootstrap, topics.events, second)
        await _wait_for(kafka_bootstrap, topics.spans, 4 * n)
        await _wait_for(kafka_bootstrap, topics.traces, 2 * n)
        await _wait_for(kafka_bootstrap, topics.scores, 4 * n)
        await _wait_for(kafka_bootstrap, topics.metrics, 2 * n)
        await _wait_for(kafka_bootstrap, topics.anomalies, 1)
        metrics_text = worker.metrics()

    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        config = SinkConfig(
            bootstrap_servers=kafka_bootstrap,
            topics=topics,
            group_id=f"{topic_prefix}sink",
            batch_max_ms=200,
        )
        sink = Sink(storage, config, SinkMetrics(CollectorRegistry()))
        await sink.start()
        try:
            await sink.run_until_caught_up(idle_ms=1_500, timeout_s=90)
        finally:
            await sink.stop()
        rows = {table: storage.query(f"SELECT * FROM {table}").rows for table in TABLES}
        stored_users = storage.query("SELECT DISTINCT user_id FROM spans").dicts()
    finally:
        storage.close()

    names = await _topics_under(kafka_bootstrap, topic_prefix)
    downstream = [t for t in names if t not in (topics.events, topics.events_dlq)]
    changelogs = [t for t in downstream if t not in topics.all()]
    assert changelogs, names  # the runtime's state topics are among those read
    blobs = {topic: _blobs(await _read_all(kafka_bootstrap, topic)) for topic in downstream}
    blobs["worker /metrics"] = [metrics_text.encode()]
    for table, table_rows in rows.items():
        blobs[f"table {table}"] = [s.encode() for s in _strings(table_rows)]
    assert not _found(blobs)

    # The checks above looked at real data: every table holds rows.
    assert {t: len(r) > 0 for t, r in rows.items()} == dict.fromkeys(TABLES, True)
    dlq = [value for _, value, _ in await _read_all(kafka_bootstrap, topics.events_dlq)]
    assert dlq == [invalid]  # byte for byte, by design
    # Ids are the keyed hash (a key is set), one token per value wherever joined on.
    spans = [orjson.loads(v) for _, v, _ in await _read_all(kafka_bootstrap, topics.spans)]
    users = {s["trace"]["user_id"] for s in spans}
    assert len(users) == n and all(re.fullmatch(r"<[A-Z_0-9]+:[0-9a-f]{16}>", u) for u in users)
    scores = [orjson.loads(v) for _, v, _ in await _read_all(kafka_bootstrap, topics.scores)]
    assert {s["trace"]["user_id"] for s in scores} == users
    users_stored = {r["user_id"] for r in stored_users}
    assert users_stored == users
