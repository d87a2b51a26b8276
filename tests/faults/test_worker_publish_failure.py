"""Publishing fails mid-batch: nothing is lost, the batch goes out again.

The broker is made to refuse records of the spans topic (``max.message.bytes``
far below a span record) while the worker runs. Each batch then fails half way:
records to other topics are acknowledged, the spans are not. The worker must
neither skip the batch nor stop: it keeps the batch unacknowledged (offsets
not committed) and sends it again with backoff. Then:

1. worker 1 is SIGKILLed mid-retry (a crash), the topic is repaired, and worker
   2 starts from the committed offsets and the changelog: every span must reach
   the spans topic (duplicates allowed: sinks deduplicate by event id/version);
2. the same with the repair while the worker is still up: it recovers by
   itself, without a restart.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.integration.streams._kafka_io import consume, produce
from tests.integration.streams.test_worker_dlq import worker_env
from tracestream._worker_process import WorkerProcess, metric_value
from tracestream.schemas import Topics

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

N_SPANS = 40


async def _set_max_message_bytes(bootstrap: str, topic: str, value: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(value)})]
        )
    finally:
        await admin.close()


def _events(tag: int) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    now = datetime.now(UTC)
    out: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    for i in range(N_SPANS):
        trace_id = f"{tag:04x}{i + 1:028x}"
        event = {
            "event_id": f"01936f4e-7c2a-7def-8a4b-{tag:04x}{i:08x}",
            "event_type": "span",
            "project": "faults",
            "service": "checkout",
            "trace_id": trace_id,
            "span_id": f"{i + 1:016x}",
            "timestamp": now.isoformat(),
            "kind": "tool",
            "name": "search",
            "start_time": (now - timedelta(milliseconds=50)).isoformat(),
            "end_time": now.isoformat(),
            "status": "ok",
        }
        out.append((trace_id.encode(), orjson.dumps(event), []))
    return out


async def _wait_for_failures(worker: WorkerProcess, timeout_s: float = 60.0) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(worker.metrics)
        failures = metric_value(text, "tracestream_publish_failures_total")
        if failures >= 2:  # failed, and failed again on the retry
            return failures
        await asyncio.sleep(0.3)
    raise AssertionError(f"the worker never reported a publish failure:\n{worker.log_tail()}")


async def _spans_by_event(bootstrap: str, topics: Topics, want: int) -> dict[str, int]:
    records = await consume(bootstrap, topics.spans, want, timeout_s=60)
    seen: dict[str, int] = {}
    for r in records:
        for event_id in orjson.loads(r.value)["event_ids"]:
            seen[event_id] = seen.get(event_id, 0) + 1
    return seen


def _env(bootstrap: str, prefix: str) -> dict[str, str]:
    # A short session: the crashed worker's partitions are reassigned within seconds.
    return {
        **worker_env(bootstrap, prefix),
        "TRACESTREAM_GRACE_S": "0",
        "TRACESTREAM_WORKER_SESSION_TIMEOUT_MS": "6000",
    }


async def test_crash_while_publish_fails_replays_the_batch(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    await _set_max_message_bytes(kafka_bootstrap, topics.spans, 64)
    await produce(kafka_bootstrap, topics.events, _events(1))
    worker = WorkerProcess(_env(kafka_bootstrap, topic_prefix), tmp_path / "first").start()
    try:
        await _wait_for_failures(worker)
        # The failing batches never got their spans out, and were not acknowledged.
        assert not await consume(kafka_bootstrap, topics.spans, 1, timeout_s=2)
    finally:
        worker.kill()  # a crash: no clean shutdown, no final commit
    await _set_max_message_bytes(kafka_bootstrap, topics.spans, 1_048_588)

    with WorkerProcess(_env(kafka_bootstrap, topic_prefix), tmp_path / "second"):
        seen = await _spans_by_event(kafka_bootstrap, topics, N_SPANS)
    expected = {orjson.loads(v)["event_id"] for _, v, _ in _events(1) if v is not None}
    assert set(seen) == expected  # nothing lost; duplicates would be allowed
    assert not await consume(kafka_bootstrap, topics.events_dlq, 1, timeout_s=2)


async def test_worker_recovers_by_itself_when_the_broker_accepts_again(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    await _set_max_message_bytes(kafka_bootstrap, topics.spans, 64)
    await produce(kafka_bootstrap, topics.events, _events(2))
    with WorkerProcess(_env(kafka_bootstrap, topic_prefix), tmp_path / "w") as worker:
        failures = await _wait_for_failures(worker)
        await _set_max_message_bytes(kafka_bootstrap, topics.spans, 1_048_588)
        seen = await _spans_by_event(kafka_bootstrap, topics, N_SPANS)
        text = await asyncio.to_thread(worker.metrics)
    expected = {orjson.loads(v)["event_id"] for _, v, _ in _events(2) if v is not None}
    assert set(seen) == expected
    assert metric_value(text, "tracestream_publish_failures_total") >= failures
    assert metric_value(text, "tracestream_events_in_total") == N_SPANS  # consumed once
