"""The worker creates the topics it reads and writes when they do not exist yet."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics

from .test_worker_dlq import worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


async def _existing(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_worker_creates_its_topics(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    wanted = set(Topics(topic_prefix).all())
    assert not wanted & await _existing(kafka_bootstrap)  # a fresh prefix: nothing there
    with WorkerProcess(worker_env(kafka_bootstrap, topic_prefix), tmp_path):
        pass
    assert wanted <= await _existing(kafka_bootstrap)
