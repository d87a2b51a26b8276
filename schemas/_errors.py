"""The root of every error tracestream raises on purpose.

    TracestreamError                        (here: the bottom package, so every room can use it)
    ├── InvalidEvent (ValueError)           an event breaks the contract (tracestream.schemas)
    ├── RedactionConfigError (ValueError)   a redaction policy is invalid (tracestream.streams)
    ├── SketchError (ValueError)            a latency sketch cannot be merged or read (streams)
    ├── KafkaRuntimeError (RuntimeError)    the worker lost Kafka for good (streams.runtime)
    ├── StorageError                        ClickHouse/chDB refused or failed (tracestream.sinks)
    │   ├── StorageUnavailable / StorageRejected / StorageQueryError / MigrationError
    ├── KafkaLocalError                     the local broker could not be fetched/started/stopped
    │                                       (tracestream.broker)
    ├── SettingsError (ValueError)          a setting has a bad value (tracestream front)
    └── WorkerProcessError                  a worker child process failed (tracestream front)

Each class says on its type whether retrying the same call may succeed
(``retriable``); callers decide with it, never by parsing messages. Errors
that also derive from a builtin (``ValueError``...) keep working in code that
catches the builtin.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["TracestreamError"]


class TracestreamError(Exception):
    """Root of the errors tracestream raises on purpose."""

    retriable: ClassVar[bool] = False
