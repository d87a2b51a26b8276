"""SpanRecord carries every field of the span events, and build_span fills every field of it.

build_span copies the fields a record shares with the events by name (read off
the models); these checks fail naming a field that a record would lose, or one
it would leave at its default.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit import _contract
from tests.unit.streams._spans import at, end, start, whole
from tracestream.schemas import SpanEndEvent, SpanEvent, SpanRecord, SpanStartEvent
from tracestream.streams._pricing import Pricer
from tracestream.streams._trace_state import SpanState, TraceState, build_span

pytestmark = pytest.mark.unit


def test_span_record_carries_every_span_event_field() -> None:
    missing = _contract.uncarried_event_fields()
    assert not missing, (
        f"SpanRecord lacks the span event fields {missing}: add them to SpanRecord "
        "(build_span copies fields of the same name) or to NOT_CARRIED"
    )


def test_build_span_fills_every_span_record_field() -> None:
    missing = _contract.unfilled_record_fields()
    assert not missing, f"build_span leaves SpanRecord {missing} at their defaults"


def _record(first: SpanStartEvent | SpanEvent, last: SpanEndEvent | None = None) -> SpanRecord:
    state = TraceState(
        trace_id=start(1, None, 0).trace_id,
        project="acme",
        environment="development",
        first_seen=at(0),
        last_seen=at(0),
    )
    span = state.spans["0000000000000001"] = SpanState()
    span.set_start(first, None)
    if last is not None:
        span.set_end(last, None)
    built = build_span(state, "0000000000000001", Pricer(), at(5))
    assert built is not None
    record = built[0]
    # Built without validation: what validation makes of the same values.
    assert record == SpanRecord.model_validate(record.model_dump())
    assert list(record.__dict__) == list(SpanRecord.model_fields)
    return record


def test_a_whole_span_and_its_two_halves_make_the_same_record() -> None:
    opening: dict[str, Any] = {
        "kind": "tool",
        "name": "search",
        "input": {"q": 1},
        "tool": {"name": "search"},
    }
    closing: dict[str, Any] = {
        "status": "error",
        "output": "late",
        "error": {"type": "Timeout"},
        "outcome": {"label": "gave up"},
        "decisions": [{"name": "retry", "choice": False}],
        "resources": {"cpu_time_s": 0.5},
    }
    one = _record(whole(1, None, 0, 2, **opening, **closing))
    two = _record(start(1, None, 0, **opening), end(1, None, 2, **closing))
    assert one.model_copy(update={"event_ids": ()}) == two.model_copy(update={"event_ids": ()})
    assert one.error is not None and one.error.type == "Timeout"
    assert one.tool is not None and one.resources is not None and one.decisions
    unfinished = _record(start(1, None, 0, **opening))
    assert unfinished.status == "unfinished" and unfinished.end_time is None
    assert unfinished.output is None and unfinished.decisions == ()
