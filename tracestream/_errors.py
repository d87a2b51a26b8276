"""The error hierarchy of tracestream.

    TracestreamError                 root of everything we raise on purpose
    ├── SettingsError (ValueError)   a setting has a bad value (tracestream._settings)
    ├── KafkaLocalError              the local broker could not be fetched/started/stopped
    └── StorageError                 ClickHouse/chDB refused or failed (tracestream.sinks)

Each class says on its type whether retrying the same call may succeed.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["KafkaLocalError", "TracestreamError"]


class TracestreamError(Exception):
    """Root of the errors tracestream raises on purpose."""

    retriable: ClassVar[bool] = False


class KafkaLocalError(TracestreamError):
    """The local broker could not be fetched, formatted, started or stopped."""

    retriable: ClassVar[bool] = False
