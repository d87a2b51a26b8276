"""Trace-state changelog records back into what the assembler's store holds.

Most records a worker restores are emitted traces lingering for late events
(the linger is minutes, a trace is open for seconds). The assembler holds
those as their bytes (:class:`~tracestream.streams._trace_state.DormantTrace`);
parsing each into objects at restore, as the record of an open trace must be,
cost ~8x their size in memory and a full validation each, only for the
assembler to keep them as bytes again at their next check. So a record whose
header says "emitted, nothing due" is restored dormant: its few header fields
are read (msgspec skips the spans without building them) and the bytes kept.

A record that is not valid state is only found out when its trace wakes (a
late event: that event goes to the DLQ as a processing error) instead of at
restore; until its linger ends it costs nothing but its bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from ._trace_state import DormantTrace, StoredTrace, TraceState

__all__ = ["dormant_trace_from_bytes", "stored_trace_from_bytes"]


#: Aware datetimes only (the state writes UTC); anything else takes the full parse.
_Time = Annotated[datetime, msgspec.Meta(tz=True)]


class _Header(msgspec.Struct):
    """The fields of a state a dormant trace carries (names as ``TraceState`` writes them)."""

    trace_id: str
    first_seen: _Time
    last_seen: _Time
    version: int = 0
    emit_at: _Time | None = None
    expires_at: _Time | None = None


_HEADER = msgspec.json.Decoder(_Header)


def stored_trace_from_bytes(data: bytes) -> StoredTrace:
    """The store's form of one changelog record: dormant when it was emitted and nothing
    is due (as it went dormant), else the whole state.

    Raises:
        pydantic.ValidationError: a record that is not a dormant trace's is not valid state.
    """
    dormant = dormant_trace_from_bytes(data)
    return dormant if dormant is not None else TraceState.from_bytes(data)


def dormant_trace_from_bytes(data: bytes) -> DormantTrace | None:
    """The record as a dormant trace when its header says so (cheap: the spans are not
    built), else None (the whole state must be parsed); never raises."""
    try:
        head = _HEADER.decode(data)
    except (msgspec.MsgspecError, ValueError):
        return None
    if head.version <= 0 or head.emit_at is not None:
        return None
    return DormantTrace.holding(
        head.trace_id, head.first_seen, head.last_seen, head.version, head.expires_at, data
    )
