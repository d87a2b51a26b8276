"""Keeps aiokafka's log records off the host's stderr when the host configured no logging.

Why they reached it at all: a record that finds no handler on its logger or
any ancestor goes to :data:`logging.lastResort`, which prints WARNING and
above to stderr. aiokafka logs an ERROR per failed connection attempt, so an
application that never touched :mod:`logging` got every one of them while
Kafka was down.

While at least one :class:`~tracestream.producers.KafkaTransport` runs, a
handler that writes nothing is attached to the ``aiokafka`` logger. Its
presence alone means aiokafka's records "found a handler", so the last resort
stays silent; nothing else changes:

- the ``aiokafka`` logger's level and ``propagate`` are left alone, so a host
  that configured logging (handlers on the root or on ``aiokafka``) still
  receives every record, as before;
- the host's own loggers and handlers are never touched;
- the handler is removed when the last transport shuts down.

The SDK reports the state of Kafka in its own words instead (see
``KafkaTransport``: one line when delivery stops, one when it resumes).
"""

from __future__ import annotations

import logging
import threading

__all__ = ["LIBRARY_LOGGERS", "SilentHandler", "hold_library_logs", "release_library_logs"]

#: The logger namespaces whose records must not fall through to the last resort.
LIBRARY_LOGGERS = ("aiokafka",)


class SilentHandler(logging.Handler):
    """A handler that writes nothing.

    Attached to a library's logger, it stops :data:`logging.lastResort` from
    printing that library's records; records still propagate to the host's
    handlers, if it has any.
    """

    def emit(self, record: logging.LogRecord) -> None:
        pass


_lock = threading.Lock()
_holders = 0
_handler: SilentHandler | None = None


def hold_library_logs() -> None:
    """Attach the silent handler to each of :data:`LIBRARY_LOGGERS` (once; counted).

    Thread-safe. Pair every call with :func:`release_library_logs`.
    """
    global _holders, _handler
    with _lock:
        _holders += 1
        if _handler is None:
            _handler = SilentHandler()
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).addHandler(_handler)


def release_library_logs() -> None:
    """Undo one :func:`hold_library_logs`; the last one detaches the handler."""
    global _holders, _handler
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0 and _handler is not None:
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).removeHandler(_handler)
            _handler = None
