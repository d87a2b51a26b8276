"""The aiokafka runtime's changelogs are created compactable, and existing ones made so.

On the real broker: the settings are read back with DescribeConfigs, as the
broker's log cleaner sees them.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tracestream.streams.runtime._changelog_topics import (
    CHANGELOG_CONFIGS,
    ensure_changelog_topics,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture(autouse=True)
def worker_engine() -> str:
    """The aiokafka runtime's own topics: no worker child, one run."""
    return "aiokafka"


async def _topic_settings(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's own settings (set on the topic, not the broker's defaults), once the
    broker describes every one (a topic just created may not be described yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 15
        while True:
            found: dict[str, dict[str, str]] = {}
            errors: list[tuple[str, int]] = []
            for response in await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
            ):
                for resource in response.to_object()["resources"]:
                    if resource["error_code"]:
                        errors.append((resource["resource_name"], resource["error_code"]))
                    found[resource["resource_name"]] = {
                        e["config_names"]: e["config_value"]
                        for e in resource["config_entries"]
                        if e["config_source"] == 1  # DYNAMIC_TOPIC_CONFIG
                    }
            if not errors:
                return found
            assert time.monotonic() < deadline, f"not described: {errors}"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def test_new_changelogs_are_created_with_the_compaction_settings(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    names = [f"{topic_prefix}w.trace-state", f"{topic_prefix}w.window-state"]
    await ensure_changelog_topics(kafka_bootstrap, "test", names, 3, 1)
    settings = await _topic_settings(kafka_bootstrap, names)
    assert settings == dict.fromkeys(names, CHANGELOG_CONFIGS)
    await ensure_changelog_topics(kafka_bootstrap, "test", names, 3, 1)  # idempotent


async def test_an_existing_changelog_gets_them_and_keeps_its_other_settings(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    name = f"{topic_prefix}w.trace-state"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        # As an earlier release created it, plus a setting an operator added.
        old = {"cleanup.policy": "compact", "max.message.bytes": "2000000"}
        await admin.create_topics([NewTopic(name, 3, 1, topic_configs=old)])
    finally:
        await admin.close()
    assert (await _topic_settings(kafka_bootstrap, [name]))[name] == old
    await ensure_changelog_topics(kafka_bootstrap, "test", [name], 3, 1)
    got = (await _topic_settings(kafka_bootstrap, [name]))[name]
    assert got == {**CHANGELOG_CONFIGS, "max.message.bytes": "2000000"}
