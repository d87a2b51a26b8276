"""Send many records through aiokafka as a few record batches, one per topic-partition.

``AIOKafkaProducer.send`` costs a Python future, a partitioner call and an
accumulator lookup per record; for a worker that publishes one to two records
per consumed event that was a fifth of its CPU. :func:`send_batches` groups a
whole output batch by topic and partition first and hands each group to the
producer as :class:`~aiokafka.producer.message_accumulator.BatchBuilder` s
(``create_batch``/``send_batch``): one future per record batch. Idempotence,
acks and retries stay the producer's (the builder is the one ``send`` uses).

Records without an explicit partition are placed as the default partitioner
places them: keyed ones by murmur2 of the key (so the placement is the same as
with ``send``), unkeyed ones round-robin.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from ._changelog_store import murmur2_partition

__all__ = ["Message", "send_batches"]

#: (topic, partition or None for the default partitioner, key, value, headers)
Message = tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]] | None]

_round_robin = itertools.count()


async def send_batches(
    producer: AIOKafkaProducer, messages: Sequence[Message], futures: list[asyncio.Future[Any]]
) -> None:
    """Queue every message; append one future per record batch to ``futures`` (each
    resolves on its ack).

    Raises whatever the producer raises when a batch cannot be queued; the
    batches queued until then are in ``futures`` already (callers wait for or
    discard them, then resend everything).
    """
    counts: dict[str, int] = {}
    # A trace's spans share its key: hash each key once (murmur2 is pure Python).
    placed: dict[tuple[bytes, int], int] = {}
    groups: dict[tuple[str, int], list[Message]] = {}
    for message in messages:
        topic, partition, key = message[0], message[1], message[2]
        if partition is None:
            count = counts.get(topic)
            if count is None:
                count = counts[topic] = len(await producer.partitions_for(topic))
            if key is None:
                partition = next(_round_robin) % count
            else:
                partition = placed.get((key, count))
                if partition is None:
                    partition = placed[(key, count)] = murmur2_partition(key, count)
        group = groups.get((topic, partition))
        if group is None:
            groups[(topic, partition)] = [message]
        else:
            group.append(message)
    for (topic, partition), group in groups.items():
        builder = producer.create_batch()
        for _, _, key, value, headers in group:
            if builder.append(timestamp=None, key=key, value=value, headers=headers or []) is None:
                # Full: ship it and start the next one (a first record always fits,
                # however large; the broker judges its size).
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = producer.create_batch()
                builder.append(timestamp=None, key=key, value=value, headers=headers or [])
        futures.append(await producer.send_batch(builder, topic, partition=partition))
