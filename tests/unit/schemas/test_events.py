"""The wire contract: valid events parse, invalid ones fail with a precise reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tracestream.schemas import (
    EventParser,
    InvalidEvent,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanKind,
    SpanStartEvent,
    SpanStatus,
)

pytestmark = pytest.mark.unit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
EVENT_ID = "01936f3e-8f5a-7cc2-9d5e-0a1b2c3d4e5f"


def span_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": EVENT_ID,
        "event_type": "span",
        "project": "acme",
        "service": "support-bot",
        "environment": "production",
        "trace_id": TRACE,
        "span_id": SPAN,
        "parent_span_id": None,
        "timestamp": "2026-11-24T07:30:00.123456Z",
        "trace": {"name": "answer", "session_id": "s-1", "user_id": "u-1", "tags": ["beta"]},
        "kind": "generation",
        "name": "chat",
        "start_time": "2026-11-24T07:30:00.000000Z",
        "end_time": "2026-11-24T07:30:01.250000Z",
        "status": "ok",
        "input": [{"role": "user", "content": "hi"}],
        "output": {"role": "assistant", "content": "hello"},
        "model": {"name": "gpt-4o", "provider": "openai", "parameters": {"temperature": 0.2}},
        "usage": {"input_tokens": 10, "output_tokens": 3, "cached_tokens": 0},
    }
    event.update(overrides)
    return event


def score_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": EVENT_ID,
        "event_type": "score",
        "project": "acme",
        "service": "eval",
        "trace_id": TRACE,
        "timestamp": "2026-11-24T07:30:00Z",
        "name": "x",
        "value": 1.0,
    }
    event.update(overrides)
    return event


def parse(obj: Any, parser: EventParser | None = None) -> Any:
    return (parser or EventParser()).parse(orjson.dumps(obj))


def reason_of(
    obj: Any, parser: EventParser | None = None, raw: bytes | None = None
) -> tuple[str, str]:
    with pytest.raises(InvalidEvent) as info:
        (parser or EventParser()).parse(raw if raw is not None else orjson.dumps(obj))
    return info.value.reason, info.value.detail


def test_full_span_parses_to_its_model() -> None:
    event = parse(span_event())
    assert isinstance(event, SpanEvent)
    assert event.kind is SpanKind.GENERATION
    assert event.status is SpanStatus.OK
    assert event.start_time == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    assert event.usage is not None and event.usage.total_tokens == 13
    assert event.trace is not None and event.trace.tags == ("beta",)


def test_each_event_type_is_discriminated() -> None:
    start = {
        k: v for k, v in span_event().items() if k not in {"end_time", "status", "output", "usage"}
    }
    start["event_type"] = "span.start"
    assert isinstance(parse(start), SpanStartEvent)
    end = {
        k: v
        for k, v in span_event().items()
        if k not in {"kind", "name", "start_time", "input", "model"}
    }
    end["event_type"] = "span.end"
    assert isinstance(parse(end), SpanEndEvent)
    score = score_event(name="helpfulness", value=0.8, source="evaluator")
    parsed = parse(score)
    assert isinstance(parsed, ScoreEvent)
    assert parsed.value == 0.8
    assert parse({**score, "value": True}).value is True
    assert parse({**score, "value": "good"}).value == "good"


def test_non_utc_offsets_are_normalised_to_utc() -> None:
    event = parse(span_event(start_time="2026-11-24T08:30:00+01:00"))
    assert event.start_time == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "reason", "needle"),
    [
        ({"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736"}, "schema", "trace_id"),
        ({"trace_id": "abc"}, "schema", "trace_id"),
        ({"trace_id": "0" * 32}, "schema", "all zeros"),
        ({"span_id": "00f067aa0ba902"}, "schema", "span_id"),
        ({"parent_span_id": "zz" * 8}, "schema", "parent_span_id"),
        ({"event_id": "01936f3e-8f5a-4cc2-9d5e-0a1b2c3d4e5f"}, "schema", "event_id"),
        ({"timestamp": "2026-11-24T07:30:00"}, "schema", "timezone"),
        ({"kind": "llm"}, "schema", "kind"),
        ({"status": "unfinished"}, "schema", "worker"),
        ({"end_time": "2026-11-24T07:29:00Z"}, "schema", "before start_time"),
        ({"usage": {"input_tokens": -1}}, "schema", "usage.input_tokens"),
        ({"colour": "red"}, "schema", "colour"),
        ({"project": ""}, "schema", "project"),
        ({"schema_version": 2}, "unknown_schema_version", "2"),
        ({"event_type": "log"}, "unknown_event_type", "log"),
    ],
)
def test_invalid_fields_give_the_reason_and_the_field(
    overrides: dict[str, Any], reason: str, needle: str
) -> None:
    got_reason, detail = reason_of(span_event(**overrides))
    assert got_reason == reason
    assert needle in detail


def test_score_value_must_not_be_nan() -> None:
    raw = orjson.dumps(score_event(value=0.0)).replace(b"0.0", b"NaN")
    assert reason_of(None, raw=raw)[0] == "not_json"


def test_bytes_that_are_not_json_or_not_objects() -> None:
    assert reason_of(None, raw=b"{not json")[0] == "not_json"
    assert reason_of(None, raw=b"\xff\xfe{}")[0] in {"not_json", "not_utf8"}
    assert reason_of([1, 2])[0] == "not_object"


def test_size_limit_is_configurable() -> None:
    big = span_event(input="x" * 5_000)
    assert reason_of(big, EventParser(max_event_bytes=4_096))[0] == "too_large"
    assert isinstance(parse(big, EventParser(max_event_bytes=8_192)), SpanEvent)


def test_depth_limit_is_configurable() -> None:
    nested: Any = "leaf"
    for _ in range(10):
        nested = {"a": nested}
    event = span_event(input=nested)
    reason, detail = reason_of(event, EventParser(max_depth=8))
    assert reason == "too_deep"
    assert "8" in detail
    assert isinstance(parse(event, EventParser(max_depth=16)), SpanEvent)


@pytest.mark.parametrize("levels", range(1, 15))
@pytest.mark.parametrize("limit", [6, 12])
@pytest.mark.parametrize("brackets_in_strings", ["", "[[[[{{{{"])
def test_depth_limit_is_exact_whether_or_not_the_walk_is_skipped(
    levels: int, limit: int, brackets_in_strings: str
) -> None:
    # The parser skips its depth walk when the bytes hold no more "{"/"[" than the
    # limit; the limit must give the same answer as parse_object (which always walks).
    nested: Any = "leaf" + brackets_in_strings
    for _ in range(levels):
        nested = [nested]
    event = span_event(input=nested, name="n" + brackets_in_strings)
    parser = EventParser(max_depth=limit)
    depth = levels + 1  # the event object itself is one level
    if depth > limit:
        assert reason_of(event, parser)[0] == "too_deep"
        with pytest.raises(InvalidEvent, match="too_deep"):
            parser.parse_object(event)
    else:
        assert parse(event, parser) == parser.parse_object(event)


def test_round_trip_through_json_is_lossless() -> None:
    event = parse(span_event())
    again = EventParser().parse(event.model_dump_json().encode())
    assert again == event
