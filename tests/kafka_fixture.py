"""Pytest plugin: a real Kafka broker for the integration suites.

Registered in ``tests/conftest.py`` (``pytest_plugins``). Fixtures:

- ``kafka_bootstrap`` (session): ``host:port`` of a broker that answers. If
  ``TRACESTREAM_KAFKA_BOOTSTRAP`` is set and a broker answers there, it is
  used as is. Otherwise the project's own starter
  (:func:`tracestream.broker.start`, what ``deploy/kafka/kafka.sh start``
  runs) starts one, or reuses the one already running on the default port.
  When it cannot start, the fixture FAILS with the reason; it never skips.
- ``topic_prefix``: a unique prefix per test (``t-<8 hex>.``).
- ``kafka_topics``: the project's topics created under that prefix.

The broker is deliberately left running at session end: several test
sessions share it on this machine. Stop it with ``deploy/kafka/kafka.sh stop``
(or ``make kafka-stop``).

A test session uses the checkout's broker layout, ``<repo>/.cache`` (unless
``TRACESTREAM_CACHE_DIR`` says otherwise), as ``make`` and ``kafka.sh`` do:
so ``.venv/bin/pytest`` and ``make test`` start, reuse and stop one broker,
and the commands the tests spawn inherit the same cache.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracestream._settings import load_settings
from tracestream.broker import (
    KafkaLocalError,
    broker_ready,
    delete_topics_with_prefix,
    ensure_topics,
    start,
)
from tracestream.cli._kafka import broker_layout
from tracestream.schemas import Topics

KAFKA_TOPIC_PARTITIONS = 3
REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Point the session (and the commands it spawns) at the checkout's broker cache."""
    os.environ.setdefault("TRACESTREAM_CACHE_DIR", str(REPO / ".cache"))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of a running broker; fails the test when none can be had."""
    explicit = os.environ.get("TRACESTREAM_KAFKA_BOOTSTRAP")
    if explicit and broker_ready(explicit, 2.0):
        return explicit
    settings = load_settings()
    try:
        found = start(broker_layout(settings), heap_mb=settings.kafka_heap_mb, timeout_s=90.0)
    except KafkaLocalError as exc:
        pytest.fail(f"could not start the local Kafka broker: {exc}", pytrace=False)
    return found.bootstrap


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A topic prefix unique to this test, so tests never see each other's records.

    After a test that used the broker, every topic under the prefix (the project's
    and those the worker created) is deleted: a whole suite otherwise leaves
    thousands of partitions on the shared broker, and its heap fills up.
    """
    prefix = f"t-{uuid.uuid4().hex[:8]}."
    yield prefix
    if "kafka_bootstrap" in request.fixturenames:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        # A thread with its own loop: the test's event loop is closed by now.
        worker = threading.Thread(
            target=asyncio.run, args=(delete_topics_with_prefix(bootstrap, prefix),)
        )
        worker.start()
        worker.join(30)


@pytest.fixture
async def kafka_topics(kafka_bootstrap: str, topic_prefix: str) -> Topics:
    """The project's topics under ``topic_prefix``, created with 3 partitions, RF 1."""
    topics = Topics(topic_prefix)
    await ensure_topics(kafka_bootstrap, topics, KAFKA_TOPIC_PARTITIONS, 1, 3_600_000)
    return topics
