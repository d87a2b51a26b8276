"""Estimated memory of the assembler's trace states, for its byte budget.

An open trace holds its events as model objects, plus the span records built
from them. Measured with tracemalloc (``tests/unit/streams/test_state_size.py``
keeps the estimate within its bounds), that is 5-8 times the events' JSON
size: 3.1 KB per 607-byte event of the demo workload (start/end halves), 4.4 KB
per 578-byte whole-span event of the pipeline bench. A dormant trace (emitted,
lingering for late events) is its compressed changelog bytes plus its holder
and index entries: 0.6-1.9 KB more.

Measuring each state's real size would cost more than assembling it, so the
budget works on this estimate: per held event, a multiple of its JSON size
plus a fixed part for the objects every event makes whatever its size.
"""

from __future__ import annotations

__all__ = ["dormant_bytes", "open_event_bytes", "reopened_bytes"]

#: Heap bytes per byte of an event's JSON while its trace is open.
OPEN_BYTES_PER_JSON_BYTE = 4
#: Heap bytes every held event costs besides its content (model objects, datetimes, ids).
OPEN_BYTES_PER_EVENT = 1200
#: Heap bytes of a dormant trace besides its compressed bytes (the holder, index entries).
DORMANT_OVERHEAD_BYTES = 1536


def open_event_bytes(json_bytes: int) -> int:
    """What one event of ``json_bytes`` adds to an open trace."""
    return OPEN_BYTES_PER_JSON_BYTE * json_bytes + OPEN_BYTES_PER_EVENT


def dormant_bytes(packed_bytes: int) -> int:
    """A dormant trace whose compressed changelog record is ``packed_bytes`` long."""
    return packed_bytes + DORMANT_OVERHEAD_BYTES


def reopened_bytes(data_bytes: int, events: int) -> int:
    """A trace back in object form (woken, or restored) from ``data_bytes`` of state
    holding ``events`` events."""
    return OPEN_BYTES_PER_JSON_BYTE * data_bytes + OPEN_BYTES_PER_EVENT * events
