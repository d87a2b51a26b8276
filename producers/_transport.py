"""The transport interface: where serialized events go after the tracer made them.

A transport receives each event as ready wire bytes plus its key (the trace
id), so the tracer owns the format and transports only move bytes. Shipped
implementations: :class:`~tracestream.producers.KafkaTransport` (production),
:class:`~tracestream.producers.InMemoryTransport` and
:class:`~tracestream.producers.JsonlTransport` (tests and offline use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Transport", "TransportStats"]


@dataclass(frozen=True, slots=True)
class TransportStats:
    """A snapshot of a transport's counters (all counts are events).

    Attributes:
        sent: events the destination acknowledged.
        dropped: events given up on, in total; ``dropped_by_reason`` splits it
            (``buffer_full``, ``delivery_failed``, ``shutdown``, ``write_failed``).
        buffered: events accepted but not yet acknowledged (queued or in flight).
        buffered_bytes: payload bytes of the queued events.
    """

    sent: int = 0
    dropped: int = 0
    buffered: int = 0
    buffered_bytes: int = 0
    dropped_by_reason: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class Transport(Protocol):
    """Moves serialized events to their destination.

    Contract for implementations: :meth:`send` is called on application
    threads and must neither block on I/O nor raise; :meth:`flush` and
    :meth:`shutdown` may block up to their timeout and must not raise either.
    """

    def send(self, key: bytes, value: bytes) -> bool:
        """Accept one event. Never blocks, never raises.

        Args:
            key: the partitioning key (the trace id, ASCII).
            value: the event as UTF-8 JSON.

        Returns:
            True when accepted, False when dropped (and counted).
        """
        ...

    def flush(self, timeout_s: float) -> bool:
        """Deliver what was accepted so far. Blocks up to ``timeout_s``.

        Returns:
            True when everything accepted before the call was delivered or
            definitively failed; False on timeout.
        """
        ...

    def shutdown(self, timeout_s: float) -> bool:
        """Flush within ``timeout_s``, then release resources; later sends drop.

        Idempotent. What could not be delivered in time is counted as dropped.

        Returns:
            True when the flush completed in time.
        """
        ...

    def stats(self) -> TransportStats:
        """The current counters. Cheap, thread-safe, never raises."""
        ...
