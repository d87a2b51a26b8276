"""The local broker started by the project: up, topics, round trip, status, reuse."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from tracestream._settings import load_settings
from tracestream.broker import broker_ready, ensure_topics, start, status
from tracestream.cli._kafka import broker_layout
from tracestream.schemas import Topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"


def _env(bootstrap: str) -> dict[str, str]:
    return {
        **os.environ,
        "TRACESTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "TRACESTREAM_PYTHON": sys.executable,
    }


def test_broker_is_up(kafka_bootstrap: str) -> None:
    assert broker_ready(kafka_bootstrap, 5.0)


def test_broker_ready_is_false_where_nothing_listens() -> None:
    assert not broker_ready("127.0.0.1:1", 0)


async def test_ensure_topics_creates_all_with_partitions_and_is_idempotent(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    created = await ensure_topics(kafka_bootstrap, topics, 4, 1, 3_600_000)
    assert sorted(created) == sorted(topics.all())
    assert await ensure_topics(kafka_bootstrap, topics, 4, 1, 3_600_000) == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics.all()))
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions == dict.fromkeys(topics.all(), 4)


async def test_produce_consume_round_trip_keyed_by_trace_id(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    trace_id = uuid.uuid4().hex.encode()
    value = bytes(range(256)) + "é ✓".encode()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(kafka_topics.events, value, key=trace_id)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        kafka_topics.events,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (trace_id, value)
    assert (record.partition, record.offset) == (sent.partition, sent.offset)


def test_status_names_the_listen_address(kafka_bootstrap: str) -> None:
    done = subprocess.run(
        [str(KAFKA_SH), "status"],
        env=_env(kafka_bootstrap),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert kafka_bootstrap in done.stdout
    assert status(broker_layout(load_settings(kafka_bootstrap=kafka_bootstrap))).healthy


def test_start_again_reuses_the_running_broker(kafka_bootstrap: str) -> None:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    layout = broker_layout(settings)
    before = status(layout)
    again = start(layout, heap_mb=settings.kafka_heap_mb, timeout_s=30.0)
    assert again.reused and again.healthy
    assert again.pid == before.pid

    done = subprocess.run(
        [str(KAFKA_SH), "start"],
        env=_env(kafka_bootstrap),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reusing" in done.stdout


def test_kafka_sh_in_a_checkout_uses_the_checkouts_cache(kafka_bootstrap: str) -> None:
    """``make bootstrap`` fetches into ``<repo>/.cache``: kafka.sh's checkout default."""
    env = {k: v for k, v in _env(kafka_bootstrap).items() if not k.startswith("TRACESTREAM_")}
    env.update(TRACESTREAM_KAFKA_BOOTSTRAP=kafka_bootstrap, TRACESTREAM_PYTHON=sys.executable)
    done = subprocess.run(
        [str(KAFKA_SH), "fetch"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"{(REPO / '.cache').resolve()}/kafka/" in done.stdout
