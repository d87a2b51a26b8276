"""Create the project's topics on a broker (idempotent)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._errors import KafkaLocalError

if TYPE_CHECKING:
    from tracestream.schemas import Topics

__all__ = ["delete_topics_with_prefix", "ensure_topics", "wait_until_led"]


async def ensure_topics(
    bootstrap: str,
    topics: Topics,
    partitions: int,
    replication_factor: int,
    events_retention_ms: int,
    *,
    ready_timeout_s: float = 30.0,
) -> list[str]:
    """Create every topic of ``topics`` that does not exist yet; return the names created.

    A coroutine (run it with ``asyncio.run`` outside a loop). Existing topics
    are left as they are (partitions and configs untouched). The raw events
    topic gets ``retention.ms=events_retention_ms``. Returns once the broker
    describes every created topic with all its partitions led (a topic is
    accepted before its metadata has spread: describing it at once can show
    no partitions, and producing to it fail).

    Raises:
        KafkaLocalError: the broker refused a topic for another reason than
            "already exists", or a created topic had no leaders after ``ready_timeout_s``.
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
        created, errors = [], []
        for entry in response.to_object()["topic_errors"]:
            name, code = entry["topic"], entry["error_code"]
            if code == 0:
                created.append(name)
            elif code != 36:  # TOPIC_ALREADY_EXISTS: a concurrent creator won; fine.
                errors.append(f"{name}: error {code} {entry.get('error_message') or ''}".strip())
        if errors:
            raise KafkaLocalError("could not create topics: " + "; ".join(errors))
        await wait_until_led(admin, created, partitions, ready_timeout_s)
    finally:
        await admin.close()
    return created


async def wait_until_led(admin: Any, names: list[str], partitions: int, timeout_s: float) -> None:
    """Wait until the broker describes each topic of ``names`` with ``partitions`` led partitions.

    ``admin``: a started aiokafka admin client. Call it after creating topics that
    are used at once (see :func:`ensure_topics`).

    Raises:
        KafkaLocalError: some topic still had no leaders after ``timeout_s``.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    waiting = list(names)
    while waiting:
        described = await admin.describe_topics(waiting)
        waiting = [
            t["topic"]
            for t in described
            if t["error_code"] != 0
            or len(t["partitions"]) < partitions
            or any(p["error_code"] != 0 or p["leader"] < 0 for p in t["partitions"])
        ]
        if not waiting:
            return
        if asyncio.get_running_loop().time() >= deadline:
            raise KafkaLocalError(
                f"topics created but without leaders after {timeout_s:.0f}s: "
                + ", ".join(sorted(waiting))
                + ". Check the broker's log (tracestream kafka status)."
            )
        await asyncio.sleep(0.1)


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
