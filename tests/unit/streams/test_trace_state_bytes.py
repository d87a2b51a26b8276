"""Trace-state changelog bytes: what pydantic writes with exclude_defaults (events aside).

The states' fields are read off the models here too: a state with every field
away from its default is built from ``model_fields``, so a field added to
TraceState or SpanState is written, and held equal to pydantic, without a change
to these tests (or the test says which value to give a field of a new type).
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from tests.unit.streams._spans import TRACE as TRACE_ID
from tests.unit.streams._spans import at, end, start, whole
from tracestream.schemas import Redaction, SpanEndEvent, SpanStartEvent, TraceInfo, construct
from tracestream.streams._assembly import Assembler, SpanEventLike
from tracestream.streams._json import model_json
from tracestream.streams._pricing import Pricer
from tracestream.streams._trace_state import SpanState, TraceState

pytestmark = pytest.mark.unit

GEN: dict[str, Any] = {"kind": "generation", "model": {"name": "gpt-4o", "provider": "openai"}}


def _reference_span(span: SpanState) -> bytes:
    """A span as written before its JSON was cached: pydantic for all but the events."""
    rest: bytes = span.__pydantic_serializer__.to_json(
        span, exclude={"start", "end"}, exclude_defaults=True
    )
    kept = span._kept()
    halves = [
        b'"' + name + b'":' + (kept.get(f"_{name.decode()}_json") or model_json(half))
        for name, half in ((b"start", span.start), (b"end", span.end))
        if half is not None
    ]
    if not halves:
        return rest
    return b"{" + b",".join(halves) + (b"," + rest[1:] if len(rest) > 2 else b"}")


def _reference(state: TraceState) -> bytes:
    head: bytes = state.__pydantic_serializer__.to_json(
        state, exclude={"spans"}, exclude_defaults=True
    )
    if not state.spans:
        return head
    spans = b",".join(orjson.dumps(k) + b":" + _reference_span(s) for k, s in state.spans.items())
    return head[:-1] + b',"spans":{' + spans + b"}}"


def _assert_written_as_pydantic(state: TraceState) -> None:
    data = state.to_bytes()
    # The head's field order may differ (pydantic follows how the state was
    # built); each span's bytes are exactly pydantic's.
    assert orjson.loads(data) == orjson.loads(_reference(state))
    for span in state.spans.values():
        assert span.to_json() in data
    assert TraceState.from_bytes(data) == state


def _events() -> list[SpanEventLike]:
    return [
        start(1, None, 0, kind="workflow", name="checkout", input={"q": "hi"}),
        start(2, 1, 0.1, **GEN),
        end(3, 2, 1.0),  # headless for a while
        end(2, 1, 1.2, usage={"input_tokens": 800, "output_tokens": 100}),
        whole(4, 1, 1.3, 1.5, kind="tool", tool={"name": "search"}),
        start(3, 2, 0.5),
        start(5, 1, 1.6),  # never ends: emitted unfinished
        end(1, None, 2.0, output={"a": 1}, redactions=[{"detector": "phone", "field": "output"}]),
    ]


def test_every_write_is_what_pydantic_writes() -> None:
    asm = Assembler(Pricer(), grace_s=5, linger_s=600)
    state: TraceState | None = None
    for i, event in enumerate(_events()):
        redactions = [Redaction(detector="email", field="input")] if i % 2 else []
        asm.apply(event, at(i), redactions=redactions)
        stored = asm.store[TRACE_ID]
        assert isinstance(stored, TraceState)
        state = stored
        _assert_written_as_pydantic(state)
    assert state is not None
    asm.due(at(20))  # emits (unfinished span 5), then goes dormant
    assert state.spans["0000000000000005"].emitted_unfinished
    _assert_written_as_pydantic(state)
    _assert_written_as_pydantic(TraceState.from_bytes(state.to_bytes()))  # no kept bytes


def _away_from_default(owner: type[BaseModel], name: str) -> Any:
    """A value of field ``name`` of ``owner`` that is not its default."""
    annotation: Any = owner.model_fields[name].annotation
    if isinstance(annotation, types.UnionType):  # X | None: a value of X
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    kind = typing.get_origin(annotation) or annotation
    values: dict[Any, Any] = {
        str: f"{name}-value",
        int: 7,
        bool: True,
        datetime: at(2.000001),
        set: {f"{name}-1", f"{name}-2"},
        TraceInfo: TraceInfo(name="n", session_id="s", user_id="u", tags=("a",), release="r"),
        tuple: (Redaction(detector="email", field="input", count=3),),
        SpanStartEvent: start(1, None, 0),
        SpanEndEvent: end(1, None, 1),
    }
    assert kind in values, f"{owner.__name__}.{name}: give the test a value of {annotation}"
    value = values[kind]
    assert value != owner.model_fields[name].get_default(call_default_factory=True)
    return value


def test_a_state_with_every_field_set_is_written_as_pydantic_writes_it() -> None:
    fields = {n: _away_from_default(TraceState, n) for n in TraceState.model_fields if n != "spans"}
    full = TraceState.model_validate(fields)
    _assert_written_as_pydantic(full)
    assert full.to_bytes() == _reference(full)  # in field order: the same bytes
    bare = TraceState(
        trace_id=TRACE_ID, project="p", environment="e", first_seen=at(0), last_seen=at(1.5)
    )
    assert bare.to_bytes() == _reference(bare)
    for name in fields:  # each field alone away from its default
        one = bare.model_copy(update={name: fields[name]})
        assert one.to_bytes() == _reference(one), name
    partial = bare.model_copy(update={"trace": TraceInfo(tags=("x",))})
    assert partial.to_bytes() == _reference(partial)


def test_a_span_with_every_field_set_is_written_as_pydantic_writes_it() -> None:
    fields = {n: _away_from_default(SpanState, n) for n in SpanState.model_fields}
    full = SpanState.model_validate(fields)
    assert full.to_json() == _reference_span(full)
    for name, value in fields.items():  # each field alone away from its default
        one = SpanState.model_validate({name: value})
        assert one.to_json() == _reference_span(one), name
    state = TraceState(
        trace_id=TRACE_ID, project="p", environment="e", first_seen=at(0), last_seen=at(1)
    )
    state.spans["0000000000000001"] = full
    _assert_written_as_pydantic(state)


def test_every_field_is_written_as_pydantic_writes_it() -> None:
    span = SpanState()
    span.set_start(start(1, None, 0), None)
    assert span.to_json() == _reference_span(span)
    span.emitted_version = 2
    assert b'"emitted_version":2' in span.to_json()
    assert span.to_json() == _reference_span(span)
    span.emitted_unfinished = True
    span.redactions = (Redaction(detector="email", field="input", count=3),)
    assert span.to_json() == _reference_span(span)
    span.redactions = (Redaction(detector="phone", field="output"),)
    assert b"phone" in span.to_json()
    assert span.to_json() == _reference_span(span)
    span.set_end(end(1, None, 1), b'{"kept":"as sent"}')
    assert b'"end":{"kept":"as sent"}' in span.to_json()
    assert span.to_json() == _reference_span(span)
    span.emitted_unfinished = False
    assert span.to_json() == _reference_span(span)


def test_the_kept_bytes_are_not_state() -> None:
    event = start(1, None, 0)
    written, fresh = SpanState(), SpanState()
    for span in (written, fresh):
        span.set_start(event, None)
    written.to_json()
    assert written == fresh
    fresh.emitted_version = 1
    assert written != fresh
    assert SpanState().to_json() == b"{}" == _reference_span(SpanState())


def test_construct_builds_fresh_states_as_pydantic_builds_them() -> None:
    span = construct(SpanState)
    assert span == SpanState() and span.__pydantic_private__ == SpanState().__pydantic_private__
    assert span.__dict__ is not construct(SpanState).__dict__
    assert span.__pydantic_private__ is not construct(SpanState).__pydantic_private__
    opened = _open()
    validated = TraceState(
        trace_id=TRACE_ID, project="p", environment="e", first_seen=at(0), last_seen=at(0)
    )
    assert opened == validated
    assert list(opened.__dict__) == list(TraceState.model_fields)
    assert opened.spans is not _open().spans
    assert opened.seen_event_ids is not _open().seen_event_ids


def _open() -> TraceState:
    return construct(
        TraceState,
        trace_id=TRACE_ID,
        project="p",
        environment="e",
        first_seen=at(0),
        last_seen=at(0),
    )


def test_roots_ended_needs_a_root_and_every_root_ended() -> None:
    state = _open()
    assert not state.roots_ended()
    child = state.spans["c"] = construct(SpanState)
    child.set_start(whole(2, 1, 0, 1), None)
    assert not state.roots_ended()  # no root yet
    first = state.spans["r1"] = construct(SpanState)
    first.set_start(start(1, None, 0), None)
    second = state.spans["r2"] = construct(SpanState)
    second.set_end(end(3, None, 1), None)  # a headless root that ended
    assert not state.roots_ended()
    first.set_end(end(1, None, 2), None)
    assert state.roots_ended()


def test_the_kept_redactions_json_is_exact_size() -> None:
    import tracemalloc

    spans = [construct(SpanState) for _ in range(200)]
    tracemalloc.start()
    try:
        for span in spans:
            span.redactions = (Redaction(detector="email", field="input"),)
            span.to_json()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # orjson's own result would hold ~4 KiB each.
    assert held / len(spans) < 1024
