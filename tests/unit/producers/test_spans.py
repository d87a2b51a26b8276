"""Spans: nesting, kinds, what they record, errors, trace attributes, the wire contract."""

from __future__ import annotations

import pytest

from tracestream.producers import InMemoryTransport, Tracer, current_span
from tracestream.schemas import ScoreEvent, SpanEvent

from .conftest import parsed

pytestmark = pytest.mark.unit


def test_nested_spans_share_the_trace_and_parent_each_other(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    with tracer.trace(
        "answer", input="q?", session_id="sess", user_id="u1", tags=["a", "b"]
    ) as root:
        assert current_span() is root
        with tracer.step("plan") as step:
            with tracer.generation(
                model="gpt-4o", provider="openai", input=[{"role": "user"}]
            ) as gen:
                assert current_span() is gen
            assert current_span() is step
        assert current_span() is root
    assert current_span() is None
    events = parsed(transport)
    assert [e.name for e in events] == ["gpt-4o", "plan", "answer"]
    gen_ev, step_ev, root_ev = events
    assert {e.trace_id for e in events} == {root.trace_id}
    assert root_ev.parent_span_id is None
    assert step_ev.parent_span_id == root_ev.span_id
    assert gen_ev.parent_span_id == step_ev.span_id
    for e in events:
        assert isinstance(e, SpanEvent)
        assert e.project == "proj" and e.service == "svc" and e.environment == "test"
        assert e.trace is not None
        assert e.trace.name == "answer"
        assert e.trace.session_id == "sess" and e.trace.user_id == "u1"
        assert e.trace.tags == ("a", "b")
        assert e.status.value == "ok"
        assert e.end_time >= e.start_time


def test_generation_records_model_usage_and_output(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    with tracer.generation(
        "chat", model="gpt-4o", provider="openai", params={"temperature": 0.2}, input=["hi"]
    ) as gen:
        gen.record_output({"role": "assistant", "content": "hello"})
        gen.record_usage(input_tokens=10, output_tokens=3, cached_tokens=2, reasoning_tokens=1)
        gen.set_attribute("route", "fast")
        gen.record_decision("model", "gpt-4o", reason="cheap enough")
        gen.record_outcome("answered", success=True)
    (event,) = parsed(transport)
    assert isinstance(event, SpanEvent)
    assert event.kind.value == "generation"
    assert event.model is not None
    assert event.model.name == "gpt-4o" and event.model.provider == "openai"
    assert event.model.parameters == {"temperature": 0.2}
    assert event.input == ["hi"]
    assert event.output == {"role": "assistant", "content": "hello"}
    assert event.usage is not None and event.usage.total_tokens == 16
    assert event.attributes == {"route": "fast"}
    assert event.decisions[0].choice == "gpt-4o"
    assert event.outcome is not None and event.outcome.success is True


@pytest.mark.parametrize("kind", ["retrieval", "reasoning", "step", "agent"])
def test_kind_shorthands(tracer: Tracer, transport: InMemoryTransport, kind: str) -> None:
    with getattr(tracer, kind)("x", input={"query": "q"}):
        pass
    (event,) = parsed(transport)
    assert event.kind.value == kind
    assert event.input == {"query": "q"}


def test_tool_span_carries_arguments_and_result(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    with tracer.tool("search", arguments={"q": "kafka"}, call_id="c1") as tool:
        tool.record_output(["doc1"])
    (event,) = parsed(transport)
    assert event.tool is not None
    assert (event.tool.name, event.tool.call_id, event.tool.arguments) == (
        "search",
        "c1",
        {"q": "kafka"},
    )
    assert event.output == ["doc1"]


def test_escaping_exception_is_recorded_and_reraised_unchanged(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    error = KeyError("missing")
    with pytest.raises(KeyError) as caught, tracer.span("fails"):
        raise error
    assert caught.value is error
    (event,) = parsed(transport)
    assert event.status.value == "error"
    assert event.error is not None
    assert event.error.type == "KeyError"
    assert "missing" in event.error.message
    assert event.error.stack is not None and "raise error" in event.error.stack


def test_record_error_for_handled_errors(tracer: Tracer, transport: InMemoryTransport) -> None:
    with tracer.span("handled") as span:
        try:
            raise ValueError("bad")
        except ValueError as exc:
            span.record_error(exc)
        span.record_error("Timeout", message="upstream slow")
    (event,) = parsed(transport)
    assert event.error is not None and event.error.type == "Timeout"
    assert event.status.value == "error"


async def test_async_with(tracer: Tracer, transport: InMemoryTransport) -> None:
    async with tracer.span("outer") as outer:
        async with tracer.span("inner") as inner:
            assert inner.parent_span_id == outer.span_id
    assert len(parsed(transport)) == 2


def test_span_start_and_end_events_when_asked(transport: InMemoryTransport) -> None:
    tracer = Tracer(
        project="p", service="s", transport=transport, emit_start_events=True, flush_at_exit=False
    )
    with tracer.span("long", input="in") as span:
        span.record_output("out")
        span.set_attribute("k", 1)
    start, end = parsed(transport)
    assert start.event_type == "span.start" and end.event_type == "span.end"
    assert start.span_id == end.span_id
    assert start.input == "in" and end.output == "out"
    assert end.attributes == {"k": 1}
    tracer.shutdown()


def test_scores_on_trace_and_span(tracer: Tracer, transport: InMemoryTransport) -> None:
    with tracer.trace("t") as root:
        tracer.score(None, "helpful", True, source="human", comment="thanks")
    tracer.score(root.trace_id, "quality", 0.75, source="evaluator")
    tracer.score(root, "label", "good")
    scores = [e for e in parsed(transport) if isinstance(e, ScoreEvent)]
    assert [(s.name, s.value, s.span_id) for s in scores] == [
        ("helpful", True, root.span_id),
        ("quality", 0.75, None),
        ("label", "good", root.span_id),
    ]
    assert scores[0].source.value == "human" and scores[0].comment == "thanks"


@pytest.mark.parametrize(
    ("target", "value", "source"),
    [("nope", 1.0, "api"), ("a" * 32, float("nan"), "api"), ("a" * 32, "", "api"),
     ("a" * 32, 1.0, "robot"), (None, 1.0, "api"), ("a" * 32, object(), "api")],
)  # fmt: skip
def test_invalid_scores_are_counted_not_raised(
    tracer: Tracer, transport: InMemoryTransport, target: str | None, value: object, source: str
) -> None:
    tracer.score(target, "n", value, source=source)  # type: ignore[arg-type]
    assert transport.records == []
    assert tracer.stats().dropped_by_reason == {"invalid_score": 1}


def test_ended_span_emits_once_and_later_spans_after_shutdown_are_counted(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    span = tracer.start_span("manual")
    span.end()
    span.end()
    assert len(transport.records) == 1
    tracer.shutdown()
    with tracer.span("late"):
        pass
    assert tracer.stats().dropped_by_reason == {"shutdown": 1}


def test_events_validate_and_ids_are_well_formed(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    for _ in range(50):
        with tracer.span("x"):
            pass
    events = parsed(transport)
    ids = [e.event_id for e in events]
    assert len(set(ids)) == 50
    assert ids == sorted(ids)  # UUIDv7: time-ordered


def test_trace_inside_a_span_updates_trace_attributes(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    with tracer.span("outer") as outer, tracer.trace("inner", user_id="late-user") as inner:
        assert inner.trace_id == outer.trace_id
    inner_ev, outer_ev = parsed(transport)
    assert inner_ev.trace is not None and inner_ev.trace.user_id == "late-user"
    assert outer_ev.trace is not None and outer_ev.trace.name == "outer"


def test_release_and_explicit_trace_id(transport: InMemoryTransport) -> None:
    tracer = Tracer(
        project="p", service="s", transport=transport, release="1.2.3", flush_at_exit=False
    )
    with tracer.trace("t", trace_id="ab" * 16):
        pass
    (event,) = parsed(transport)
    assert event.trace_id == "ab" * 16
    assert event.trace is not None and event.trace.release == "1.2.3"
    tracer.shutdown()


def test_disabled_tracer_records_nothing(transport: InMemoryTransport) -> None:
    tracer = Tracer(
        project="p", service="s", transport=transport, enabled=False, flush_at_exit=False
    )
    with tracer.span("x") as span:
        span.record_output("y")
    assert transport.records == []
    assert tracer.stats().sampled_out == 1
    tracer.shutdown()
