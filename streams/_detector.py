"""The detector interface of the redaction core, and what a detector reports.

A detector finds one kind of sensitive value in a string. It is pure: no I/O,
no state between calls, safe to share between threads. Implementations live in
``streams/_detectors.py``; the :class:`~tracestream.streams.Redactor` runs them
and resolves overlaps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Detector", "Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A sensitive value at ``text[start:end]`` of the ORIGINAL text, found by ``detector``.

    Carries no copy of the value, so findings may be logged and counted freely.
    """

    detector: str
    start: int
    end: int


@runtime_checkable
class Detector(Protocol):
    """Finds one kind of sensitive value.

    ``name`` is the stable label used in placeholders (``<EMAIL>``), in
    ``Redaction.detector`` and in metrics: lower-case ``[a-z0-9_:]``.
    """

    @property
    def name(self) -> str: ...

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        """Yield ``(start, end)`` of each value in ``text``, in any order.

        Must not raise on any input and must not mutate shared state; may
        yield overlapping spans (the redactor keeps the longest, earliest).
        """
        ...
