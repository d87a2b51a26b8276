"""In-process transports: memory (for tests) and JSON Lines files (offline use).

Both write on the caller's thread: appending to a list, or to a buffered file.
Neither talks to a network, so neither can stall the application the way a
broker can; both still never raise into it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO, Any

import orjson

from ._buffer import DropCounter
from ._transport import TransportStats

__all__ = ["InMemoryTransport", "JsonlTransport"]


class InMemoryTransport:
    """Keeps every event in a list: the test double users put in their own tests.

    Example:
        >>> transport = InMemoryTransport()
        >>> tracer = Tracer(project="p", service="s", transport=transport)
        >>> with tracer.span("step"):
        ...     pass
        >>> transport.events()[0]["name"]
        'step'

    Args:
        max_events: keep at most this many (later ones are dropped and counted);
            None keeps all.
    """

    def __init__(self, *, max_events: int | None = None) -> None:
        self._records: list[tuple[bytes, bytes]] = []
        self._lock = threading.Lock()
        self._max_events = max_events
        self._drops = DropCounter(what="InMemoryTransport")
        self._closed = False

    def send(self, key: bytes, value: bytes) -> bool:
        """Store the record. Never blocks, never raises."""
        with self._lock:
            if not self._closed and (
                self._max_events is None or len(self._records) < self._max_events
            ):
                self._records.append((key, value))
                return True
        self._drops.add("shutdown" if self._closed else "buffer_full")
        return False

    def flush(self, timeout_s: float = 0.0) -> bool:
        """Nothing to deliver: returns True at once."""
        return True

    def shutdown(self, timeout_s: float = 0.0) -> bool:
        """Refuse later sends; keeps what was stored for inspection."""
        with self._lock:
            self._closed = True
        return True

    def stats(self) -> TransportStats:
        """``sent`` counts the stored events."""
        with self._lock:
            sent = len(self._records)
        return TransportStats(
            sent=sent, dropped=self._drops.total, dropped_by_reason=self._drops.by_reason()
        )

    @property
    def records(self) -> list[tuple[bytes, bytes]]:
        """A copy of the stored ``(key, value)`` records, oldest first."""
        with self._lock:
            return list(self._records)

    def events(self) -> list[dict[str, Any]]:
        """The stored events decoded from JSON, oldest first."""
        return [orjson.loads(value) for _, value in self.records]

    def spans(self, name: str | None = None) -> list[dict[str, Any]]:
        """The decoded span events (``span``, ``span.start``, ``span.end``), by name if given."""
        return [
            e
            for e in self.events()
            if e["event_type"] != "score" and (name is None or e.get("name") == name)
        ]

    def clear(self) -> None:
        """Forget the stored events."""
        with self._lock:
            self._records.clear()


class JsonlTransport:
    """Appends each event as one line of JSON to a file.

    Writes go through a buffered file on the caller's thread under a lock;
    :meth:`flush` pushes them to the OS. I/O errors (disk full, file removed)
    are counted as drops (reason ``write_failed``), never raised.

    Args:
        path: the file; created with its parent folders, appended to if present.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = self.path.open("ab")
        self._lock = threading.Lock()
        self._drops = DropCounter(what="JsonlTransport")
        self._sent = 0

    def send(self, key: bytes, value: bytes) -> bool:
        """Append the event and a newline. Never raises."""
        with self._lock:
            if self._file is None:
                reason = "shutdown"
            else:
                try:
                    self._file.write(value + b"\n")
                except (OSError, ValueError):
                    reason = "write_failed"
                else:
                    self._sent += 1
                    return True
        self._drops.add(reason)
        return False

    def flush(self, timeout_s: float = 0.0) -> bool:
        """Flush Python's buffer to the OS. Blocks on the file system only."""
        with self._lock:
            if self._file is None:
                return True
            try:
                self._file.flush()
            except (OSError, ValueError):
                return False
            return True

    def shutdown(self, timeout_s: float = 0.0) -> bool:
        """Flush and close the file. Idempotent."""
        ok = self.flush(timeout_s)
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    ok = False
                self._file = None
        return ok

    def stats(self) -> TransportStats:
        """``sent`` counts lines written."""
        with self._lock:
            sent = self._sent
        return TransportStats(
            sent=sent, dropped=self._drops.total, dropped_by_reason=self._drops.by_reason()
        )
