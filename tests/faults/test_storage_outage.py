"""ClickHouse unreachable for 30 s under the real sink: it holds, commits nothing, and catches up.

The real ``tracestream sink`` child writes to a ClickHouse server URL: the
loopback endpoint of ``tests/integration/sinks/_clickhouse_http.py``, which
runs every request on chDB in this process (the server engine's path, over
HTTP). Span records flow steadily onto the spans topic (written directly: the
worker plays no part in a storage outage). Mid-stream the endpoint stops (its
port refuses connections, open ones are cut) for 30 s, longer than any Kafka
auto-commit interval (5 s by default), and comes back on the same port.

Asserted: the sink's committed offsets are the same at the outage's start and
end while records wait on the topic, the sink process stays alive, it logs a
handful of lines (one per change of state, not one per retry), and after
recovery every span sent is stored exactly once under ``FINAL`` (lost = 0).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.integration.sinks._clickhouse_http import RecordingClickHouse
from tests.kafka_fixture import KAFKA_TOPIC_PARTITIONS
from tracestream._kafka_names import KafkaNames
from tracestream._worker_process import metric_value
from tracestream.schemas import Topics
from tracestream.sinks import ChdbStorage

from ._flow import (
    SinkProcess,
    SteadyProducer,
    all_committed,
    count,
    group_offsets,
    sink_pausing,
    span_record_batches,
    until,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

OUTAGE_S = 30.0
#: The sink's backoff cap: a line per retry would be ~30 lines in the outage.
RETRY_MAX_MS = 1_000
#: Storage-related log lines allowed in the outage: failing, a change of error, back.
MOST_OUTAGE_LINES = 4


@pytest.fixture
def worker_engine() -> str:
    """No worker runs here: one run, not one per worker engine."""
    return "aiokafka"


def _stored(storage: ChdbStorage) -> int:
    return int(storage.query("SELECT uniqExact(span_id) FROM spans").scalar())


async def _stored_over(storage: ChdbStorage, least: int) -> bool:
    return await asyncio.to_thread(_stored, storage) >= least


def _is_storage_line(line: str) -> bool:
    return "tracestream.sink" in line or "clickhouse" in line.lower() or "urllib3" in line


async def test_a_30s_storage_outage_commits_nothing_and_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    group = KafkaNames(topic_prefix).sink_group
    with RecordingClickHouse(tmp_path / "chdb") as endpoint:
        env = {
            "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "TRACESTREAM_TOPIC_PREFIX": topic_prefix,
            "TRACESTREAM_TOPIC_PARTITIONS": str(KAFKA_TOPIC_PARTITIONS),
            "TRACESTREAM_CLICKHOUSE_URL": endpoint.url,
            "TRACESTREAM_SINK_RETRY_MAX_MS": str(RETRY_MAX_MS),
        }
        sink = SinkProcess(env, tmp_path / "sink")
        # 10 chunks of 10 span records a second.
        flow = SteadyProducer(
            kafka_bootstrap,
            topics.spans,
            per_s=10.0,
            batches=span_record_batches("outage", seed=16),
        )
        storage = ChdbStorage(tmp_path / "chdb", "tracestream")
        try:
            await asyncio.to_thread(sink.start)  # migrates the tables over HTTP first
            storage.open()
            flow.start()
            await until("a first span stored", lambda: _stored_over(storage, 1), sink)
            await asyncio.sleep(2.0)  # mid-stream

            lines_before = len(sink.log_lines())
            endpoint.stop()
            stopped_at = time.monotonic()
            await until("the sink pausing", lambda: sink_pausing(sink), sink)
            committed_early, _ = await group_offsets(kafka_bootstrap, group, topics.spans)
            stored_early = _stored(storage)
            await asyncio.sleep(OUTAGE_S - (time.monotonic() - stopped_at))
            committed_late, ends_late = await group_offsets(kafka_bootstrap, group, topics.spans)
            stored_late = _stored(storage)
            alive_through = sink.running()
            outage_lines = sink.log_lines()[lines_before:]
            retries = metric_value(sink.metrics(), "tracestream_sink_insert_retries_total")
            endpoint.restart()
            back_at = time.monotonic()

            await until("a span stored again", lambda: _stored_over(storage, stored_late + 1), sink)
            resumed_s = time.monotonic() - back_at
            await asyncio.sleep(max(0.0, 3.0 - resumed_s))  # traffic after recovery too
            sent = await flow.stop()
            await until("every span stored", lambda: _stored_over(storage, len(sent)), sink)
            catch_up_s = time.monotonic() - back_at
            await until(
                "the offsets committed to the end",
                lambda: all_committed(kafka_bootstrap, group, topics.spans),
                sink,
                timeout_s=30.0,
            )
            recovery_lines = sink.log_lines()[lines_before + len(outage_lines) :]
        finally:
            await flow.close()
            sink.stop()
        try:
            result = await count(kafka_bootstrap, topics, storage, sent, 0)
        finally:
            storage.close()

    waiting = sum(ends_late) - sum(committed_late)
    storage_lines = [line for line in outage_lines if _is_storage_line(line)]
    print(
        f"\nClickHouse endpoint down {OUTAGE_S:.0f}s under the sink (server URL refused): "
        f"committed offsets {sum(committed_early)} at the outage's start, "
        f"{sum(committed_late)} at its end, {waiting} records waiting on the topic; "
        f"{stored_early} -> {stored_late} spans stored during it; {retries:.0f} insert "
        f"retries; first span stored {resumed_s:.1f}s after the endpoint came back, "
        f"all of them (3 s more traffic) after {catch_up_s:.1f}s; "
        f"{result.line()}\n"
        f"sink log during the outage ({len(outage_lines)} lines):"
        + "".join(f"\n  ({len(line)} chars) {line[:240]}" for line in outage_lines)
        + f"\nsink log after it ({len(recovery_lines)} lines):"
        + "".join(f"\n  {line[:240]}" for line in recovery_lines[:10])
    )
    assert alive_through, "the sink exited during the outage"
    assert committed_late == committed_early, "offsets were committed with storage down"
    assert waiting > 0, "no record arrived during the outage: the offsets proved nothing"
    assert stored_late == stored_early
    assert retries > 5
    assert 1 <= len(storage_lines) <= MOST_OUTAGE_LINES, storage_lines
    assert any("storage accepts inserts again" in line for line in recovery_lines)
    assert result.lost == 0
    assert result.dead_lettered == 0
    assert result.duplicates_under_final == 0
    assert result.stored == result.sent
