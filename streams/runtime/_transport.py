"""What the shared publisher needs from a runtime's Kafka producer.

:class:`~tracestream.streams.runtime._publisher.Publisher` owns the send /
retry / observe loop of both worker runtimes; each runtime hands it a
:class:`Transport` over its own producer (Faust's, or a plain aiokafka one).
A transport only queues records and replaces its producer when asked; it
never retries, sleeps or counts: that is the publisher's job, done once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Protocol

__all__ = ["Message", "Transport"]

#: (topic, partition or None for the default partitioner, key, value, headers)
Message = tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]] | None]


class Transport(Protocol):
    """Queues records on a Kafka producer. Called by one task at a time (the batch lock)."""

    async def send(self, messages: Sequence[Message], acks: list[Awaitable[object]]) -> None:
        """Queue every message; append to ``acks`` what resolves on the broker's acks.

        Raises whatever the producer raises when a record cannot be queued;
        the records queued until then have their awaitables in ``acks``
        already (the publisher collects them, then sends everything again).
        """
        ...

    async def reset(self) -> None:
        """Called after a failed attempt, before the resend: drop what would block it.

        The aiokafka transport replaces its idempotent producer (a fresh
        producer id, so the failed batch's sequence numbers cannot stall the
        resend); Faust's producer belongs to the app and stays. Must not raise.
        """
        ...
