"""OTLP through the real worker and sink into chDB: a re-sent batch adds no span row, and
the rows carry what the spans said, PII redacted as from the SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client import CollectorRegistry

from tests.integration.streams._kafka_io import consume
from tests.integration.streams.test_worker_dlq import worker_env
from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics
from tracestream.sinks import ChdbStorage, Sink, SinkConfig, SinkMetrics, apply_migrations

from .test_receiver_kafka import agent_spans

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
def chdb_storage(tmp_path: Path) -> Iterator[ChdbStorage]:
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        yield storage
    finally:
        storage.close()


async def test_the_same_batch_twice_stores_each_span_once(
    receiver: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: Topics,
    chdb_storage: ChdbStorage,
    tmp_path: Path,
) -> None:
    spans = agent_spans()
    exporter = OTLPSpanExporter(endpoint=receiver, timeout=30)
    try:
        for _ in range(2):  # what an exporter does when the first answer was lost
            assert await asyncio.to_thread(exporter.export, spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    events = await consume(kafka_bootstrap, kafka_topics.events, 6, timeout_s=30)
    assert len(events) == 6  # at-least-once: Kafka holds both copies ...
    assert len({(r.value) for r in events}) == 3  # ... byte-identical, so mergeable

    with WorkerProcess(worker_env(kafka_bootstrap, topic_prefix), tmp_path / "worker"):
        records = await consume(kafka_bootstrap, kafka_topics.spans, 3, timeout_s=60)
        traces = await consume(kafka_bootstrap, kafka_topics.traces, 1, timeout_s=60)
    assert len(records) == 3 and len(traces) == 1

    config = SinkConfig(
        bootstrap_servers=kafka_bootstrap, topics=kafka_topics, group_id=f"{topic_prefix}sink",
        batch_max_rows=100, batch_max_ms=200, retry_initial_ms=50, retry_max_ms=200,
    )  # fmt: skip
    sink = Sink(chdb_storage, config, SinkMetrics(CollectorRegistry()))
    await sink.start()
    try:
        await sink.run_until_caught_up(idle_ms=1_500, timeout_s=60)
    finally:
        await sink.stop()

    def scalar(sql: str) -> int:
        return int(chdb_storage.query(sql).scalar())

    # No duplicate even before ReplacingMergeTree merges: the worker counted the
    # resent events once (same event_id), so one row per span was ever written.
    assert scalar("SELECT count() FROM spans") == 3
    assert scalar("SELECT uniqExact(span_id) FROM spans") == 3
    assert scalar("SELECT count() FROM spans FINAL") == 3
    assert scalar("SELECT span_count FROM traces FINAL") == 3
    rows = chdb_storage.query(
        "SELECT name, kind, service, environment, status, parent_span_id, model, provider, "
        "input_tokens, cached_tokens, output_tokens, cost_usd, error_type, error_message, "
        "session_id, input, toString(attributes), redaction_detectors FROM spans ORDER BY name"
    ).rows
    root, gen, tool = rows
    assert root[:5] == ("answer", "step", "support-bot", "prod", "unset")
    assert gen[:5] == ("chat gpt-4o", "generation", "support-bot", "prod", "unset")
    assert tool[:5] == ("execute_tool lookup", "tool", "support-bot", "prod", "error")
    assert gen[5] == tool[5] != "" and root[5] == ""
    assert gen[6:11] == ("gpt-4o", "openai", 1000, 200, 80)
    assert gen[11] is not None and gen[11] > 0  # priced once, cached tokens at their own rate
    assert tool[12:14] == ("TimeoutError", "backend slow")
    assert root[14] == "conv-1"
    # PII in OTLP content and attributes is redacted as the SDK's is.
    assert "jane.doe@example.com" not in gen[15] and "<EMAIL>" in gen[15]
    assert "jane.doe@example.com" not in root[16] and "customer.contact" in root[16]
    assert "email" in gen[17] and "email" in root[17]
