"""A bounded, thread-safe event queue with drop counting and a rate-limited warning.

The application thread calls :meth:`EventBuffer.offer`: an O(1) append under
a lock, never a wait. When the queue is full by events or by bytes the event
is dropped and counted, as OpenTelemetry's ``BatchProcessor`` does, except
that every drop is counted and reported (a warning at most every
``warn_interval_s``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

__all__ = ["RECORD_OVERHEAD_BYTES", "DropCounter", "EventBuffer"]

logger = logging.getLogger("tracestream.producers")

#: Memory a queued record costs beyond its payload: the tuple, two bytes objects
#: and allocator rounding (measured: ~1 KB per 560-byte event). Counted against
#: ``max_bytes`` so the limit bounds real memory.
RECORD_OVERHEAD_BYTES = 400


class DropCounter:
    """Counts dropped events by reason and warns about them, rate-limited.

    Thread-safe. :meth:`add` never blocks on anything but a short lock and
    never raises.
    """

    def __init__(self, *, warn_interval_s: float = 10.0, what: str = "tracestream") -> None:
        self._lock = threading.Lock()
        self._by_reason: dict[str, int] = {}
        self._unreported = 0
        self._warn_interval_s = warn_interval_s
        self._last_warning = -float("inf")
        self._what = what
        #: While True, drops are counted but not warned about: the owner reports
        #: them itself (the transport during an outage, in its recovery line).
        self.muted = False

    def add(self, reason: str, count: int = 1) -> None:
        """Count ``count`` events dropped for ``reason``; warn if the interval passed."""
        with self._lock:
            self._by_reason[reason] = self._by_reason.get(reason, 0) + count
            self._unreported += count
            now = time.monotonic()
            if self.muted or now - self._last_warning < self._warn_interval_s:
                return
            self._last_warning = now
            unreported, self._unreported = self._unreported, 0
            summary = dict(self._by_reason)
        try:
            logger.warning(
                "%s dropped %d trace events since the last warning (totals by reason: %s); "
                "the application is not affected, the traces are incomplete",
                self._what,
                unreported,
                summary,
            )
        except Exception:  # noqa: BLE001 - a broken logging handler must not reach the host
            pass

    def mark_reported(self) -> None:
        """The owner just reported every drop so far: the next warning starts from here."""
        with self._lock:
            self._unreported = 0
            self._last_warning = time.monotonic()

    @property
    def total(self) -> int:
        """All drops so far."""
        with self._lock:
            return sum(self._by_reason.values())

    def by_reason(self) -> dict[str, int]:
        """A copy of the counts by reason."""
        with self._lock:
            return dict(self._by_reason)


class EventBuffer:
    """A FIFO of ``(key, value)`` records bounded by count and by bytes.

    Producers (any thread) call :meth:`offer`; one consumer drains with
    :meth:`take`. ``bytes`` counts payload plus :data:`RECORD_OVERHEAD_BYTES`
    per record.
    """

    def __init__(self, *, max_events: int, max_bytes: int, drops: DropCounter) -> None:
        if max_events < 1 or max_bytes < 1:
            raise ValueError("max_events and max_bytes must be positive")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._drops = drops
        self._queue: deque[tuple[bytes, bytes]] = deque()
        self._lock = threading.Lock()
        self._bytes = 0
        self.closed = False

    def offer(self, key: bytes, value: bytes) -> bool:
        """Append a record, or drop and count it when full or closed. Never blocks.

        Returns:
            True when queued.
        """
        size = len(key) + len(value) + RECORD_OVERHEAD_BYTES
        with self._lock:
            if (
                not self.closed
                and len(self._queue) < self.max_events
                and self._bytes + size <= self.max_bytes
            ):
                self._queue.append((key, value))
                self._bytes += size
                return True
        self._drops.add("shutdown" if self.closed else "buffer_full")
        return False

    def take(self, max_events: int) -> list[tuple[bytes, bytes]]:
        """Remove and return up to ``max_events`` records, oldest first."""
        with self._lock:
            n = min(max_events, len(self._queue))
            if not n:
                return []
            popleft = self._queue.popleft
            out = [popleft() for _ in range(n)]
            self._bytes -= sum(len(k) + len(v) for k, v in out) + n * RECORD_OVERHEAD_BYTES
            return out

    def requeue(self, records: list[tuple[bytes, bytes]]) -> bool:
        """Put records taken earlier back at the head, oldest first, to be taken again.

        For records that were accepted but could not be handed on (the broker
        went away mid-batch, or rejected them unwritten). They bypass the
        bounds, which they met when offered, so the buffer may briefly hold up
        to one taken batch more than ``max_events``.

        Returns:
            False when the buffer is closed: the records are not kept.
        """
        size = sum(len(k) + len(v) for k, v in records) + len(records) * RECORD_OVERHEAD_BYTES
        with self._lock:
            if self.closed:
                return False
            self._queue.extendleft(reversed(records))
            self._bytes += size
            return True

    def close(self) -> list[tuple[bytes, bytes]]:
        """Refuse further offers and return what was still queued."""
        with self._lock:
            self.closed = True
            out = list(self._queue)
            self._queue.clear()
            self._bytes = 0
            return out

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def bytes(self) -> int:
        """Bytes queued, overhead included."""
        return self._bytes
