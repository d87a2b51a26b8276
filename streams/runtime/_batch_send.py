"""The aiokafka runtime's transport: an idempotent producer fed whole record batches.

:class:`KafkaTransport` is the
:class:`~tracestream.streams.runtime._transport.Transport` of the aiokafka
runtime. It hands a batch's output to
:func:`tracestream.producers.queue_record_batches`, the publish mechanism the
OTLP receiver uses too: one record batch per topic-partition, keyed records
placed as aiokafka's default partitioner places them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Sequence

from aiokafka import AIOKafkaProducer

from tracestream.producers import QueuedBatch, queue_record_batches

from ._transport import Message

__all__ = ["KafkaTransport"]


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
                # queue_record_batches hands the producer whole record batches, built once the
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
        queued: list[QueuedBatch] = []
        try:
            await queue_record_batches(await self.producer(), messages, queued)
        finally:
            # Those queued before a failure too: the publisher collects them.
            acks.extend(batch.ack for batch in queued)

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
