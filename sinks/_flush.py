"""When the sink writes its buffers: group commit, as a pure rule (no clock, no I/O).

Every table's buffer is written in one flush, and a flush is due when

* a table holds ``max_rows`` rows (a large batch is ready: write it now), or
* the oldest buffered record is ``max_ms`` old (under load the consumer is
  never caught up; this caps how long a record waits), or
* the consumer is caught up (every assigned partition read to its high
  watermark as of the last fetch) and ``min_interval_ms`` have passed since
  the last flush.

So batches grow with the load and shrink when it is quiet: a lone record is
written as soon as it is read, while a steady stream is written at most every
``min_interval_ms`` (a floor, because each insert has a fixed cost: ~40-90 ms
of CPU on chDB whatever its size, measured with 10-row inserts). At high
rates the sink is rarely caught up, so ``max_rows`` and ``max_ms`` size the
batches as before: about one insert per second per table, ClickHouse's
guidance for a server.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from ._writer import Record

__all__ = ["FlushRule", "flush_blocks"]

R = TypeVar("R", bound=Record)

#: Longest single fetch wait: the loop checks its deadlines at least this often.
_FETCH_WAIT_CAP_MS = 200


@dataclass(frozen=True, slots=True)
class FlushRule:
    """The sink's flush rule (module docstring). Times are in milliseconds.

    Args:
        max_rows: flush when one table holds this many rows.
        max_ms: flush when the oldest buffered record is this old.
        min_interval_ms: when caught up, flush if this long has passed since
            the last flush (0: at once).
    """

    max_rows: int
    max_ms: int
    min_interval_ms: int

    def due(
        self, *, largest_rows: int, oldest_age_ms: float, since_flush_ms: float, caught_up: bool
    ) -> bool:
        """Whether to flush now.

        Args:
            largest_rows: rows in the fullest table buffer (0: nothing buffered).
            oldest_age_ms: age of the oldest buffered record (since it was fetched).
            since_flush_ms: time since the last flush ended.
            caught_up: every assigned partition read to its known high watermark.
        """
        if largest_rows <= 0:
            return False
        if largest_rows >= self.max_rows or oldest_age_ms >= self.max_ms:
            return True
        return caught_up and since_flush_ms >= self.min_interval_ms

    def fetch_wait_ms(
        self, *, buffered: bool, oldest_age_ms: float, since_flush_ms: float, caught_up: bool
    ) -> int:
        """How long the next fetch may wait for records before a flush can fall due."""
        if not buffered:
            return _FETCH_WAIT_CAP_MS
        wait = min(_FETCH_WAIT_CAP_MS, self.max_ms - oldest_age_ms)
        if caught_up:
            wait = min(wait, self.min_interval_ms - since_flush_ms)
        return max(0, int(wait))


def flush_blocks(rows: Sequence[R], size: int) -> list[list[R]]:
    """One table's rows of a flush as insert blocks (each its own dedup token).

    Every whole offset-aligned chunk of ``size`` rows of a partition is a block
    of its own, then the partial chunks of all partitions make one last block.
    Aligned boundaries make the same offsets form the same blocks (and so the
    same dedup tokens) on a replay, however the fetches fell; joining the
    partial rest makes a small flush one insert per table, not one per
    partition (each insert has a fixed cost).

    ``rows`` hold each partition's records in offset order, as fetched.
    """
    chunks: dict[tuple[str, int, int], list[R]] = defaultdict(list)
    for row in rows:
        chunks[(row.topic, row.partition, row.offset // size)].append(row)
    blocks: list[list[R]] = []
    rest: list[R] = []
    for key in sorted(chunks):
        chunk = chunks[key]
        if len(chunk) == size and chunk[0].offset % size == 0:
            blocks.append(chunk)
        else:
            rest.extend(chunk)
    if rest:
        blocks.append(rest)
    return blocks
