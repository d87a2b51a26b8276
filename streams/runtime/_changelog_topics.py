"""The aiokafka runtime's changelog topics: created compacted, and kept compactable.

A worker restores its state by reading its changelog partitions from the
beginning, so a restore reads every record the log still holds, not only each
key's last. ``cleanup.policy=compact`` alone does not bound that: Kafka
compacts only closed segments, and with the broker's defaults (a segment
closes at 1 GiB or after 7 days) every record a worker wrote in days stayed
in the active segment, about four per trace (open, emitted, dormant, and the
tombstone at the linger's end), and each tombstone then stayed a day
(``delete.retention.ms``) after compaction. :data:`CHANGELOG_CONFIGS` closes
a segment every minute and keeps tombstones five minutes, so what a restore
reads stays near the live states (lingering traces included), and has the
broker store it compressed.

Topics that exist already get those settings too when theirs differ (an
upgraded deployment), keeping any other setting an operator put on them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tracestream.schemas import TracestreamError

__all__ = ["CHANGELOG_CONFIGS", "KafkaRuntimeError", "ensure_changelog_topics"]

_log = logging.getLogger(__name__)

#: Topic settings of every changelog (the broker's own defaults for the rest).
CHANGELOG_CONFIGS: dict[str, str] = {
    "cleanup.policy": "compact",
    # A closed segment can be compacted; a minute of writes per partition is what
    # a restore reads at most beyond the live states (plus the cleaner's lag).
    "segment.ms": "60000",
    # A tombstone must outlive any restore that read its key's earlier value
    # (seconds); a state it deleted that came back would be an expired lingering
    # trace, dropped again at its next check.
    "delete.retention.ms": "300000",
    # Stored compressed by the broker (the worker's producer sends plain batches: no
    # CPU on its hot path). Trace states of one batch are alike: 100k lingering
    # traces, 747 MB of JSON, took ~120 MB per partition plain and a restore read
    # them in 2.1-3.6 s; with lz4 1.4-1.7 s (zstd 1.4-1.6 s, dearer to write).
    "compression.type": "lz4",
}

#: DescribeConfigs' config_source of a setting made on the topic itself.
_TOPIC_SETTING = 1
#: CreateTopics' error code when another worker created the topic first.
_ALREADY_EXISTS = 36


class KafkaRuntimeError(TracestreamError, RuntimeError):
    """The runtime cannot start: a changelog topic is missing partitions or was refused."""


async def ensure_changelog_topics(
    bootstrap: str,
    client_id: str,
    names: Sequence[str],
    partitions: int,
    replication_factor: int,
) -> None:
    """Create the missing changelog topics with :data:`CHANGELOG_CONFIGS` and set those
    settings on the existing ones where they differ (their other topic settings kept).

    Raises:
        KafkaRuntimeError: the broker refused a creation or a setting.
        aiokafka.errors.KafkaError: the broker could not be reached.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id=client_id, request_timeout_ms=30_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in names if n not in existing]
        if wanted:
            response: Any = await admin.create_topics(
                [
                    NewTopic(name, partitions, replication_factor, topic_configs=CHANGELOG_CONFIGS)
                    for name in wanted
                ]
            )
            for entry in response.to_object()["topic_errors"]:
                if entry["error_code"] not in (0, _ALREADY_EXISTS):
                    raise KafkaRuntimeError(
                        f"could not create {entry['topic']}: error {entry['error_code']}"
                    )
        present = [n for n in names if n in existing]
        if present:
            await _align_settings(admin, present)
    finally:
        await admin.close()


async def _align_settings(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    described: list[Any] = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )
    changes: list[ConfigResource] = []
    for response in described:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                # E.g. a topic another worker is creating at this moment: it gets
                # the settings from its creator.
                _log.warning(
                    "cannot read the settings of %s (error %d): left as they are",
                    resource["resource_name"],
                    resource["error_code"],
                )
                continue
            own = {
                e["config_names"]: e["config_value"]
                for e in resource["config_entries"]
                if e["config_source"] == _TOPIC_SETTING
            }
            if any(own.get(k) != v for k, v in CHANGELOG_CONFIGS.items()):
                # AlterConfigs replaces a topic's settings whole: send the ones it had.
                changes.append(
                    ConfigResource(
                        ConfigResourceType.TOPIC,
                        resource["resource_name"],
                        {**own, **CHANGELOG_CONFIGS},
                    )
                )
    if not changes:
        return
    for response in await admin.alter_configs(changes):
        for entry in response.to_object()["resources"]:
            if entry["error_code"] != 0:
                raise KafkaRuntimeError(
                    f"could not configure {entry['resource_name']}: error "
                    f"{entry['error_code']} {entry['error_message']}"
                )
