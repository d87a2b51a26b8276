"""Create the project's topics on a broker (idempotent)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import KafkaLocalError

if TYPE_CHECKING:
    from .schemas._topics import Topics

__all__ = ["delete_topics_with_prefix", "ensure_topics"]


async def ensure_topics(
    bootstrap: str,
    topics: Topics,
    partitions: int,
    replication_factor: int,
    events_retention_ms: int,
) -> list[str]:
    """Create every topic of ``topics`` that does not exist yet; return the names created.

    A coroutine (run it with ``asyncio.run`` outside a loop). Existing topics
    are left as they are (partitions and configs untouched). The raw events
    topic gets ``retention.ms=events_retention_ms``.

    Raises:
        KafkaLocalError: the broker refused a topic for another reason than
            "already exists".
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in topics.all() if name not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(
                name,
                partitions,
                replication_factor,
                topic_configs=(
                    {"retention.ms": str(events_retention_ms)} if name == topics.events else {}
                ),
            )
            for name in wanted
        ]
        response: Any = await admin.create_topics(new)
    finally:
        await admin.close()
    created, errors = [], []
    for entry in response.to_object()["topic_errors"]:
        name, code = entry["topic"], entry["error_code"]
        if code == 0:
            created.append(name)
        elif code != 36:  # TOPIC_ALREADY_EXISTS: a concurrent creator won; fine.
            errors.append(f"{name}: error {code} {entry.get('error_message') or ''}".strip())
    if errors:
        raise KafkaLocalError("could not create topics: " + "; ".join(errors))
    return created


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix``; return the names.

    For benchmarks and tests that create topics under a random prefix: left
    behind, a day of runs piles up thousands of partitions on the broker
    (the local one's heap filled up with 13k). Best effort: a failure is
    logged, never raised, since what was measured or tested stands.
    """
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    if not prefix:
        raise ValueError("refusing to delete every topic: the prefix is empty")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    names: list[str] = []
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:  # noqa: BLE001 - cleanup only
        logging.getLogger(__name__).warning("could not delete topics %s*: %s", prefix, exc)
    finally:
        await admin.close()
    return names
