"""The broker tooling's error."""

from __future__ import annotations

from typing import ClassVar

from tracestream.schemas import TracestreamError

__all__ = ["KafkaLocalError"]


class KafkaLocalError(TracestreamError):
    """The local broker could not be fetched, formatted, started or stopped."""

    retriable: ClassVar[bool] = False
