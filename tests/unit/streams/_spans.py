"""Small builders of span events for the processing-core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import uuid6

from tracestream.schemas import SpanEndEvent, SpanEvent, SpanStartEvent

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
TRACE = "0af7651916cd43dd8448eb211c80319c"


def sid(n: int) -> str:
    return f"{n:016x}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _env(span: int, parent: int | None, trace_id: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid6.uuid7()),
        "project": "acme",
        "service": "api",
        "trace_id": trace_id,
        "timestamp": T0,
        "span_id": sid(span),
        "parent_span_id": sid(parent) if parent is not None else None,
    }


def start(
    span: int, parent: int | None, t: float, *, trace_id: str = TRACE, **kw: Any
) -> SpanStartEvent:
    fields = {"kind": "step", "name": f"s{span}", **kw}
    return SpanStartEvent.model_validate(
        {**_env(span, parent, trace_id), "event_type": "span.start", "start_time": at(t), **fields}
    )


def end(
    span: int, parent: int | None, t: float, *, trace_id: str = TRACE, **kw: Any
) -> SpanEndEvent:
    fields = {"status": "ok", **kw}
    return SpanEndEvent.model_validate(
        {**_env(span, parent, trace_id), "event_type": "span.end", "end_time": at(t), **fields}
    )


def whole(
    span: int, parent: int | None, t0: float, t1: float, *, trace_id: str = TRACE, **kw: Any
) -> SpanEvent:
    fields = {"kind": "step", "name": f"s{span}", "status": "ok", **kw}
    return SpanEvent.model_validate(
        {
            **_env(span, parent, trace_id),
            "event_type": "span",
            "start_time": at(t0),
            "end_time": at(t1),
            **fields,
        }
    )
