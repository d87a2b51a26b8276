"""The fast event path writes exactly what the pydantic contract writes, or defers to it."""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from pydantic import BaseModel
from pydantic.functional_validators import AfterValidator

from benchmarks.otlp import make_batches
from tracestream.producers.otlp import convert_request
from tracestream.producers.otlp._convert import (
    Conversion,
    decode_attributes,
    resource_context,
    scope_attributes,
    span_event,
    span_input,
)
from tracestream.producers.otlp._event_json import event_json, plain_event_json
from tracestream.schemas import SpanEvent

pytestmark = pytest.mark.unit

FIXTURES = sorted((Path(__file__).parents[4] / "tests" / "data" / "otlp").glob("*.pb"))

#: The contract the fast path was written against: its JSON schema and validators.
#: When this changes, read the checks of producers/otlp/_event_json.py against the
#: new contract (a new constraint on a field the conversion fills needs one), then
#: record the new digest here.
CONTRACT_DIGEST = "9aceb8ffd3eaabd4"


def _records(conversion: Conversion) -> list[tuple[bytes, bytes, tuple[Any, ...], bool]]:
    # A dead letter's timestamp header is the time it was written: not compared.
    return [
        (r.key, r.value, tuple(h for h in r.headers if not h[0].endswith("timestamp")), r.dlq)
        for r in conversion.records
    ]


def _spans_values(request: ExportTraceServiceRequest) -> Iterator[dict[str, Any]]:
    for rs in request.resource_spans:
        context = resource_context(decode_attributes(rs.resource.attributes), "development")
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield span_event(
                    span_input(span),
                    project="p",
                    context=context,
                    scope=scope_attributes(ss.scope.name, ss.scope.version),
                )


def _same_as_pydantic(request: ExportTraceServiceRequest) -> None:
    fast = convert_request(request, project="p")
    plain = convert_request(request, project="p", fast=False)
    assert _records(fast) == _records(plain)
    assert (fast.rejected, fast.messages) == (plain.rejected, plain.messages)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_take_the_fast_path_and_match_pydantic(path: Path) -> None:
    request = ExportTraceServiceRequest.FromString(path.read_bytes())
    _same_as_pydantic(request)
    for values in _spans_values(request):
        fast = event_json(values)
        assert fast is not None, values["name"]  # every fixture span is valid
        assert fast == plain_event_json(values)


def test_bench_spans_take_the_fast_path() -> None:
    (request,) = make_batches(1, spans_per_batch=16)
    _same_as_pydantic(request)
    assert all(event_json(v) is not None for v in _spans_values(request))


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"name": "n" * 513},
        {"trace_id": "0" * 32},
        {"trace_id": "AB" * 16},
        {"span_id": "abc"},
        {"parent_span_id": "0" * 16},
        {"project": ""},
        {"environment": "e" * 257},
        {"status": "unfinished"},
        {"kind": "generation"},  # a str, not the enum: not what the conversion builds
        {"decisions": ({"name": "d", "choice": 1},)},
        {"trace": {"session_id": "s", "unknown": 1}},
        {"model": {"provider": "openai"}},  # no name
        {"attributes": {"x": object()}},
        {"input": "x" * 1_000_001},
    ],
)
def test_what_it_cannot_vouch_for_goes_to_pydantic(change: dict[str, Any]) -> None:
    (request,) = make_batches(1, spans_per_batch=1)
    values = next(_spans_values(request)) | change
    assert event_json(values) is None


def test_an_end_before_the_start_goes_to_pydantic() -> None:
    (request,) = make_batches(1, spans_per_batch=1)
    values = next(_spans_values(request))
    values["end_time"] = values["start_time"].replace(year=2000)
    assert event_json(values) is None


def _walk(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _walk(arg)


def _validators(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    found = {f"{model.__name__}.{n}" for n in model.__pydantic_decorators__.model_validators}
    for name, info in model.model_fields.items():
        for item in [*info.metadata, *_walk(info.annotation)]:
            if isinstance(item, AfterValidator):
                found.add(f"{model.__name__}.{name}:{getattr(item.func, '__name__', item.func)}")
            elif isinstance(item, type) and issubclass(item, BaseModel) and item not in seen:
                seen.add(item)
                found |= _validators(item, seen)
    return found


def test_the_contract_is_the_one_the_fast_path_checks() -> None:
    text = json.dumps(
        [SpanEvent.model_json_schema(), sorted(_validators(SpanEvent, set()))], sort_keys=True
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert digest == CONTRACT_DIGEST, (
        "the span event contract changed: review producers/otlp/_event_json.py, then "
        f"set CONTRACT_DIGEST = {digest!r}"
    )


# --- hypothesis: spans of every shape, valid or not -------------------------------------

_KEYS = st.sampled_from(
    [
        "gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name", "gen_ai.system",
        "gen_ai.request.temperature", "gen_ai.input.messages", "gen_ai.output.messages",
        "gen_ai.system_instructions", "gen_ai.tool.name", "gen_ai.tool.call.id",
        "gen_ai.tool.call.arguments", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens", "gen_ai.conversation.id", "session.id",
        "user.id", "tag.tags", "metadata", "openinference.span.kind", "llm.model_name",
        "llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
        "input.value", "input.mime_type", "output.value", "error.type", "traceloop.span.kind",
        "llm.invocation_parameters", "x", "ünïcode.key",
    ]
)  # fmt: skip
_TEXT = st.text(max_size=40) | st.sampled_from(
    ['[{"role": "user", "parts": []}]', '{"a": 1.5e300, "b": [null, true]}', "application/json",
     "LLM", "TOOL", "chat", "execute_tool", "gpt-4o", "42", "", "\x00\x1f\x7f\u2028", "x" * 300]
)  # fmt: skip
_SCALAR = st.one_of(
    _TEXT.map(lambda s: AnyValue(string_value=s)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats().map(lambda f: AnyValue(double_value=f)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.binary(max_size=8).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)


def _nest(children: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[AnyValue]:
    def array(values: list[AnyValue]) -> AnyValue:
        value = AnyValue()
        value.array_value.values.extend(values)
        return value

    def kvlist(items: list[tuple[str, AnyValue]]) -> AnyValue:
        value = AnyValue()
        value.kvlist_value.values.extend(KeyValue(key=k, value=v) for k, v in items)
        return value

    return st.lists(children, max_size=3).map(array) | st.lists(
        st.tuples(st.text(max_size=5), children), max_size=3
    ).map(kvlist)


_VALUE = st.recursive(_SCALAR, _nest, max_leaves=8)
_ATTRIBUTES = st.lists(st.tuples(_KEYS, _VALUE), max_size=10).map(
    lambda items: [KeyValue(key=k, value=v) for k, v in items]
)


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten: most spans take the fast path, some must not."""
    return st.integers(0, 9).flatmap(lambda i: bad if i == 0 else good)


_ID16 = _mostly(
    st.binary(min_size=16, max_size=16).filter(any), st.sampled_from([b"\0" * 16, b"ab"])
)
_ID8 = _mostly(
    st.binary(min_size=8, max_size=8).filter(any), st.sampled_from([b"\0" * 8, b"", b"\x01" * 9])
)
_NS = _mostly(st.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9), st.integers(0, 2**64 - 1))
_NAME = _mostly(st.text(min_size=1, max_size=20), st.sampled_from(["", "n" * 512, "n" * 513]))


@st.composite
def _spans(draw: st.DrawFn) -> Span:
    span = Span(
        trace_id=draw(_ID16),
        span_id=draw(_ID8),
        parent_span_id=draw(_ID8),
        name=draw(_NAME),
        kind=draw(st.sampled_from(Span.SpanKind.values())),
        start_time_unix_nano=(start := draw(_NS)),
        end_time_unix_nano=draw(_mostly(st.integers(start, min(start + 10**12, 2**64 - 1)), _NS)),
        trace_state=draw(st.sampled_from(["", "k=v"])),
        dropped_attributes_count=draw(st.integers(0, 2)),
    )
    span.attributes.extend(draw(_ATTRIBUTES))
    span.status.code = draw(st.sampled_from(Status.StatusCode.values()))
    span.status.message = draw(st.text(max_size=10))
    for name in draw(st.lists(st.sampled_from(["exception", "gen_ai.choice", "log"]), max_size=2)):
        event = span.events.add(name=name, time_unix_nano=draw(_NS))
        event.attributes.extend(draw(_ATTRIBUTES))
    if draw(st.booleans()):
        link = span.links.add(trace_id=draw(_ID16), span_id=draw(_ID8))
        link.attributes.extend(draw(_ATTRIBUTES))
    return span


@given(spans=st.lists(_spans(), min_size=1, max_size=4), resource=_ATTRIBUTES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_spans_convert_as_pydantic_converts_them(
    spans: list[Span], resource: list[KeyValue]
) -> None:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend(resource)
    rs.scope_spans.add().spans.extend(spans)
    _same_as_pydantic(request)
    for values in _safe_values(request):
        fast = event_json(values)
        if fast is not None:
            assert fast == plain_event_json(values)
            assert orjson.loads(fast)["span_id"] == values["span_id"]


def _safe_values(request: ExportTraceServiceRequest) -> Iterator[dict[str, Any]]:
    """The values of each span the conversion can build (a time past year 9999 cannot)."""
    for rs in request.resource_spans:
        context = resource_context(decode_attributes(rs.resource.attributes), "development")
        for ss in rs.scope_spans:
            for span in ss.spans:
                try:
                    yield span_event(
                        span_input(span),
                        project="p",
                        context=context,
                        scope=scope_attributes(ss.scope.name, ss.scope.version),
                    )
                except OverflowError:
                    continue
