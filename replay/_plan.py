"""Pure parts of ``tracestream replay``: where to read, how to batch, what is in scope.

No Kafka, no storage: unit-tested without a broker. :mod:`._engine` does the I/O.

Terms, per partition of the events topic:

- ``start``: the first offset *in range*. Its events are replayed and their
  outputs written.
- ``warmup``: an earlier offset (``<= start``) from which reading begins, so
  that traces and windows which began shortly before ``start`` are assembled
  from all their events. Outputs caused only by warm-up events are not written
  (see :class:`Scope`).
- ``end``: one past the last offset read (the high watermark when reading
  started, or the first offset after ``--to-time``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "PartitionRange",
    "Scope",
    "batch_now_ms",
    "flush_horizon_ms",
    "resolve_ranges",
    "window_floor",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """Offsets of one partition to read: ``[warmup, start)`` warm-up, ``[start, end)`` replayed."""

    partition: int
    warmup: int
    start: int
    end: int

    @property
    def events(self) -> int:
        """Offsets in range (an upper bound on events: offsets may have gaps)."""
        return self.end - self.start

    @property
    def to_read(self) -> int:
        """Offsets to read, warm-up included."""
        return self.end - self.warmup


def resolve_ranges(
    bounds: Mapping[int, tuple[int, int]],
    *,
    start: Mapping[int, int | None] | int | None = None,
    warmup: Mapping[int, int | None] | None = None,
    end: Mapping[int, int | None] | None = None,
) -> list[PartitionRange]:
    """Clamp the requested positions to what each partition holds. Pure.

    Args:
        bounds: partition -> (log start offset, high watermark).
        start: one offset for every partition (``--from-offset``), or per
            partition the offset ``offsets_for_times`` found (``None``: no
            record at or after the time, so nothing in range). ``None``: the
            log start (replay everything retained).
        warmup: per partition the offset of the warm-up time (``None``: no
            record at or after it). Missing: no warm-up.
        end: per partition the first offset after ``--to-time`` (``None``:
            none, read to the high watermark). Missing: the high watermark.

    Every offset ends up with ``log_start <= warmup <= start <= end <= high``.
    """
    ranges = []
    for partition in sorted(bounds):
        low, high = bounds[partition]
        e = high
        if end is not None and end.get(partition) is not None:
            e = min(high, max(low, end[partition] or 0))
        if start is None:
            s = low
        elif isinstance(start, int):
            s = start
        else:
            found = start.get(partition)
            s = high if found is None else found
        s = min(max(s, low), e)
        w = s
        if warmup is not None:
            found_w = warmup.get(partition)
            w = s if found_w is None else min(max(found_w, low), s)
        ranges.append(PartitionRange(partition, w, s, e))
    return ranges


def batch_now_ms(timestamp_ms: int, within_ms: int) -> int:
    """The processing time a record is replayed at: the end of its ``within_ms`` bucket.

    The worker processes batches gathered over ``within_ms`` and stamps them
    with the clock; a replay stamps each time bucket with the bucket's end, a
    pure function of the record's own timestamp. So the same event gets the same
    ``processed_at`` whatever position a replay starts from, and two replays of
    one range produce identical rows.
    """
    return (max(timestamp_ms, 0) // within_ms + 1) * within_ms


def flush_horizon_ms(
    last_now_ms: int,
    *,
    grace_s: float,
    idle_timeout_s: float,
    window_s: float,
    allowed_lateness_s: float,
) -> int:
    """When the replay closes everything still open: late enough for every rule to fire.

    A trace whose roots ended is due ``grace_s`` after; an open one times out
    after ``idle_timeout_s``; windows flush after ``window_s +
    allowed_lateness_s`` of quiet. Deterministic (derived from the data, never
    the clock), unlike a literal "far future", and it keeps ``emitted_at``
    plausible.
    """
    longest = max(grace_s, idle_timeout_s, window_s + allowed_lateness_s)
    return last_now_ms + int(longest * 1000) + 1000


def window_floor(start: datetime | None, window_s: float) -> datetime | None:
    """The first window start at or after ``start`` (windows align to the epoch)."""
    if start is None:
        return None
    window = timedelta(seconds=window_s)
    index = -((start - _EPOCH) // -window)  # ceiling division
    return _EPOCH + index * window


@dataclass(slots=True)
class Scope:
    """Which outputs a replay writes. Mutated while reading; pure decisions.

    - spans and traces: only of traces none of whose events lie in the
      warm-up (a trace that began before ``start`` keeps the rows it has).
    - scores and dead letters: only of events in range.
    - metrics windows and anomalies: only windows starting at or after
      ``windows_from`` (earlier windows would be partial).
    - with ``project``: only that project's rows.
    """

    project: str | None = None
    windows_from: datetime | None = None
    warm_traces: set[str] = field(default_factory=set)

    def note_warmup(self, trace_id: str) -> None:
        """A warm-up event of ``trace_id`` was read: its trace is out of scope."""
        self.warm_traces.add(trace_id)

    def trace(self, project: str, trace_id: str) -> bool:
        """Write the spans and trace record of this trace?"""
        if self.project is not None and project != self.project:
            return False
        return trace_id not in self.warm_traces

    def window(self, project: str, window_start: datetime) -> bool:
        """Write this metrics window (or an anomaly of it)?"""
        if self.project is not None and project != self.project:
            return False
        return self.windows_from is None or window_start >= self.windows_from

    def score(self, project: str) -> bool:
        """Write a score event (in range) of this project?"""
        return self.project is None or project == self.project
