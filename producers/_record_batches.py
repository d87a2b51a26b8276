"""Hand many records to aiokafka as a few record batches: one per topic-partition.

The one publish mechanism of the worker (``tracestream.streams.runtime``) and
the OTLP receiver (``tracestream.producers.otlp``). ``AIOKafkaProducer.send``
costs a Python future, a partitioner call and an accumulator lookup per
record: a fifth of the worker's CPU, 40% of the receiver's per span before.
:func:`queue_record_batches` groups the records by topic and partition first
and hands each group to the producer as a
:class:`~aiokafka.producer.message_accumulator.BatchBuilder`
(``create_batch``/``send_batch``): one future per record batch. Idempotence,
acks and retries stay the producer's (the builder is the one ``send`` uses).

Records without an explicit partition are placed as aiokafka's default
partitioner places them: keyed ones by :func:`murmur2_partition` of the key (so
a record lands where ``send``, the SDK's path, would put it), unkeyed ones
round-robin.

Records from ``alone_from_bytes`` on are queued one by one with ``send``, so
that a record too large for the producer or the broker is refused alone and
its refusal is its own verdict, not its batch's.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Sequence
from typing import Any, NamedTuple

__all__ = ["QueuedBatch", "murmur2_partition", "queue_record_batches"]

#: (topic, partition or None for the default partitioner, key, value, headers)
_Record = tuple[str, int | None, bytes | None, bytes | None, Sequence[tuple[str, bytes]] | None]

_round_robin = itertools.count()


class QueuedBatch(NamedTuple):
    """Records queued together: they are acknowledged (or refused) as one."""

    #: Indices of the batch's records in the sequence given to :func:`queue_record_batches`.
    members: list[int]
    #: Resolves on the broker's ack; raises what refused the batch.
    ack: Awaitable[object]


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for the key bytes among ``partitions``."""
    # Deferred: `import tracestream.producers` must not load aiokafka (the SDK's
    # start-up cost); by the time a key is placed a producer has loaded it anyway.
    from aiokafka.partitioner import murmur2

    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


async def queue_record_batches(
    producer: Any,
    records: Sequence[_Record],
    queued: list[QueuedBatch],
    *,
    alone_from_bytes: int | None = None,
) -> None:
    """Queue every record on ``producer`` (a started ``AIOKafkaProducer``).

    Appends a :class:`QueuedBatch` to ``queued`` as each batch is handed over,
    so when this raises, the batches queued until then are in ``queued``
    already (callers wait for or discard their acks, then resend).

    Args:
        producer: the producer; its ``send_batch`` may wait while its buffer is full.
        records: what to send, in order per topic-partition.
        queued: where the queued batches go.
        alone_from_bytes: records whose value is at least this long are queued
            alone with ``send``; a ``send`` that raises (too large for the
            producer's ``max_request_size``) gives that record a failed ack
            rather than raising. None: every record goes in a batch (a first
            record always fits, however large; the broker judges its size).

    Raises:
        Whatever the producer raises when a batch cannot be queued.
    """
    counts: dict[str, int] = {}
    # A trace's spans share its key: hash each key once (murmur2 is pure Python).
    placed: dict[tuple[bytes, int], int] = {}
    groups: dict[tuple[str, int], list[int]] = {}
    alone: list[int] = []
    for i, (topic, partition, key, value, _) in enumerate(records):
        if alone_from_bytes is not None and value is not None and len(value) >= alone_from_bytes:
            alone.append(i)
            continue
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
            groups[(topic, partition)] = [i]
        else:
            group.append(i)
    for (topic, partition), group in groups.items():
        builder = producer.create_batch()
        members: list[int] = []
        for i in group:
            _, _, key, value, headers = records[i]
            # The C builder takes a list only.
            headers = headers if type(headers) is list else list(headers or ())
            if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                # Full: ship it and start the next one.
                ack = await producer.send_batch(builder, topic, partition=partition)
                queued.append(QueuedBatch(members, ack))
                builder, members = producer.create_batch(), []
                builder.append(timestamp=None, key=key, value=value, headers=headers)
            members.append(i)
        queued.append(
            QueuedBatch(members, await producer.send_batch(builder, topic, partition=partition))
        )
    for i in alone:
        # One by one, not extend: each is in queued as soon as it is queued.
        queued.append(QueuedBatch([i], await _send_alone(producer, records[i])))  # noqa: PERF401


async def _send_alone(producer: Any, record: _Record) -> Awaitable[object]:
    """Queue one record with ``send``: its ack, or a failed one when ``send`` refuses it."""
    topic, partition, key, value, headers = record
    try:
        ack: Awaitable[object] = await producer.send(
            topic, value, key=key, partition=partition, headers=list(headers or ())
        )
    except Exception as exc:  # noqa: BLE001 - the record's own verdict, read from its ack
        refused: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        refused.set_exception(exc)
        return refused
    return ack
