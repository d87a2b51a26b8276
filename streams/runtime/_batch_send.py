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

:class:`KafkaTransport` is the aiokafka runtime's
:class:`~tracestream.streams.runtime._transport.Transport` over it.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Sequence

from aiokafka import AIOKafkaProducer

from ._changelog_store import murmur2_partition
from ._transport import Message

__all__ = ["KafkaTransport", "send_batches"]

_round_robin = itertools.count()


async def send_batches(
    producer: AIOKafkaProducer, messages: Sequence[Message], futures: list[Awaitable[object]]
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


class KafkaTransport:
    """An idempotent aiokafka producer (acks=all) that sends whole record batches.

    Started on first use and replaced by :meth:`reset` after a failed
    attempt. Who may call it: one task at a time (the runtime's batch lock).

    Args:
        bootstrap_servers: the brokers.
        client_id: the producer's client id (the worker's group name).
    """

    def __init__(self, bootstrap_servers: str, *, client_id: str = "tracestream-worker") -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def producer(self) -> AIOKafkaProducer:
        """The started producer (starting one if there is none). Raises what ``start`` raises."""
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                # send_batches hands the producer whole record batches, built once the
                # batch's output is known: lingering only held each one back (5 ms per
                # topic-partition, and a partition's next batch waits for the previous).
                linger_ms=0,
                # Under the broker's default 1 MiB message.max.bytes: a batch's output
                # to one partition is usually a single record batch.
                max_batch_size=1_000_000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def send(self, messages: Sequence[Message], acks: list[Awaitable[object]]) -> None:
        """Queue ``messages`` as record batches; one ack awaitable per record batch."""
        await send_batches(await self.producer(), messages, acks)

    async def reset(self) -> None:
        """Stop the producer; the next send starts a fresh one (a new producer id)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            # Stopping a producer whose connection failed may fail too; it is gone either way.
            with contextlib.suppress(Exception):
                await producer.stop()

    async def close(self) -> None:
        """Stop the producer at shutdown (what was queued is flushed first)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
