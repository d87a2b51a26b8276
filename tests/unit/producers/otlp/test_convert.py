"""OTLP spans -> span events: envelope, status, errors, events, links, resource, rejects."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.trace import Link, SpanContext, StatusCode, Tracer

from tracestream.producers import _kafka
from tracestream.producers.otlp import convert_request, decode_request
from tracestream.producers.otlp._convert import DLQ_HEADER_PREFIX, EVENT_HEADERS
from tracestream.schemas import EventParser
from tracestream.streams import _validate

from ._otlp import sdk_request

pytestmark = pytest.mark.unit

PARSER = EventParser()
TRACE = bytes.fromhex("5bf92f3577b34da6a3ce929d0e0e4737")
SPAN = bytes.fromhex("10f067aa0ba902b7")


def _events(request: ExportTraceServiceRequest, **kw: Any) -> list[dict[str, Any]]:
    conversion = convert_request(request, project="p", **kw)
    assert conversion.rejected == 0, conversion.messages
    for record in conversion.records:
        PARSER.parse(record.value)  # what the worker will do: it must validate
    return [orjson.loads(r.value) for r in conversion.records]


def _raw_request(**span_fields: Any) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = "svc"
    fields = {
        "trace_id": TRACE,
        "span_id": SPAN,
        "name": "op",
        "start_time_unix_nano": 1_764_000_000_123_456_789,
        "end_time_unix_nano": 1_764_000_001_000_000_000,
        **span_fields,
    }
    rs.scope_spans.add().spans.append(Span(**fields))
    return request


def test_envelope_from_the_span_and_its_resource() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass

    request = sdk_request(
        record,
        {"service.name": "bot", "deployment.environment.name": "prod", "service.version": "1.4",
         "host.name": "h1"},
    )  # fmt: skip
    child, root = _events(request)
    assert (child["event_type"], child["project"], child["service"]) == ("span", "p", "bot")
    assert child["environment"] == "prod"
    assert child["parent_span_id"] == root["span_id"] and root["parent_span_id"] is None
    assert child["trace_id"] == root["trace_id"]
    assert child["trace"] == {"release": "1.4", "session_id": None, "user_id": None,
                              "tags": [], "name": None}  # fmt: skip
    assert child["timestamp"] == child["end_time"]
    assert child["attributes"]["otel.scope.name"] == "test-scope"
    assert child["attributes"]["otel.scope.version"] == "1.2.3"
    assert child["attributes"]["otel.span.kind"] == "internal"
    resource = child["attributes"]["otel.resource"]
    assert resource["host.name"] == "h1" and "service.name" not in resource


def test_older_deployment_environment_and_defaults() -> None:
    request = sdk_request(lambda t: t.start_span("s").end(), {"deployment.environment": "stg"})
    (event,) = _events(request)
    assert event["environment"] == "stg"
    (event,) = _events(_raw_request(), default_environment="qa")
    assert (event["service"], event["environment"]) == ("svc", "qa")
    request = _raw_request()
    request.resource_spans[0].resource.Clear()
    (event,) = _events(request)
    assert event["service"] == "unknown_service"


def test_times_to_the_microsecond() -> None:
    (event,) = _events(_raw_request())
    assert event["start_time"] == "2025-11-24T16:00:00.123456Z"
    assert event["end_time"] == "2025-11-24T16:00:01Z"


def test_event_id_is_a_uuid7_and_the_same_for_a_resent_span() -> None:
    first = _events(_raw_request())[0]
    again = _events(_raw_request())[0]
    assert first["event_id"] == again["event_id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        first["event_id"])  # fmt: skip
    records = [convert_request(_raw_request(), project="p").records[0] for _ in range(2)]
    assert records[0].value == records[1].value  # byte-identical: a retry is a pure duplicate
    other = _events(_raw_request(span_id=bytes.fromhex("20f067aa0ba902b7")))[0]
    assert other["event_id"] != first["event_id"]


def test_key_and_headers_are_the_sdks() -> None:
    (record,) = convert_request(_raw_request(), project="p").records
    assert record.key == TRACE.hex().encode()
    assert list(record.headers) == _kafka.HEADERS == list(EVENT_HEADERS)
    assert not record.dlq


@pytest.mark.parametrize(
    ("code", "status"),
    [(Status.STATUS_CODE_UNSET, "unset"), (Status.STATUS_CODE_OK, "ok"),
     (Status.STATUS_CODE_ERROR, "error")],
)  # fmt: skip
def test_status(code: int, status: str) -> None:
    (event,) = _events(_raw_request(status=Status(code=code)))  # type: ignore[arg-type]
    assert event["status"] == status
    assert (event["error"] is None) == (status != "error")


def test_exception_event_is_the_error() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("boom") as span:
            span.add_event("before", {"n": 1})
            try:
                raise KeyError("missing")
            except KeyError as exc:
                span.record_exception(exc)
                span.set_status(StatusCode.ERROR, "lookup failed")

    (event,) = _events(sdk_request(record))
    assert event["status"] == "error"
    assert event["error"]["type"] == "KeyError"
    assert event["error"]["message"] == "'missing'"
    assert "Traceback" in event["error"]["stack"]
    assert [e["name"] for e in event["attributes"]["otel.events"]] == ["before"]
    assert event["attributes"]["otel.events"][0]["attributes"] == {"n": 1}


def test_error_status_without_exception_uses_error_type_and_message() -> None:
    attrs = Span(attributes=[]).attributes
    kv = attrs.add(key="error.type")
    kv.value.string_value = "timeout"
    request = _raw_request(
        status=Status(code=Status.STATUS_CODE_ERROR, message="took too long"), attributes=attrs
    )
    (event,) = _events(request)
    assert event["error"] == {"type": "timeout", "message": "took too long", "stack": None}
    assert event["attributes"]["error.type"] == "timeout"


def test_handled_exception_on_an_ok_span_is_no_error() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("retry") as span:
            span.record_exception(ValueError("first try"))
            span.set_status(StatusCode.OK)

    (event,) = _events(sdk_request(record))
    assert event["error"] is None and event["status"] == "ok"
    assert event["attributes"]["otel.events"][0]["name"] == "exception"


def test_links_trace_state_and_dropped_counts_are_kept() -> None:
    def record(tracer: Tracer) -> None:
        linked = SpanContext(int.from_bytes(TRACE), int.from_bytes(SPAN), is_remote=True)
        tracer.start_span("s", links=[Link(linked, {"why": "batch"})]).end()

    (event,) = _events(sdk_request(record))
    assert event["attributes"]["otel.links"] == [
        {"trace_id": TRACE.hex(), "span_id": SPAN.hex(), "attributes": {"why": "batch"}}
    ]
    (event,) = _events(_raw_request(trace_state="k=v", dropped_attributes_count=3))
    assert event["attributes"]["otel.trace_state"] == "k=v"
    assert event["attributes"]["otel.dropped_attributes_count"] == 3


def test_attribute_value_types() -> None:
    def record(tracer: Tracer) -> None:
        span = tracer.start_span("s")
        span.set_attributes({"s": "x", "i": 2**62, "f": 1.5, "b": False, "l": ["a", "b"],
                             "li": [1, 2]})  # fmt: skip
        span.end()

    (event,) = _events(sdk_request(record))
    attrs = event["attributes"]
    assert (attrs["s"], attrs["i"], attrs["f"], attrs["b"]) == ("x", 2**62, 1.5, False)
    assert (attrs["l"], attrs["li"]) == (["a", "b"], [1, 2])


def test_kvlist_and_bytes_values_from_json() -> None:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": TRACE.hex(), "spanId": SPAN.hex(), "name": "s",
        "startTimeUnixNano": "1", "endTimeUnixNano": "2",
        "attributes": [
            {"key": "kv", "value": {"kvlistValue": {"values": [
                {"key": "a", "value": {"intValue": "5"}}]}}},
            {"key": "raw", "value": {"bytesValue": "AAE="}},
            {"key": "empty", "value": {}},
        ]}]}]}]}  # fmt: skip
    (event,) = _events(decode_request(orjson.dumps(body), "application/json"))
    assert event["attributes"]["kv"] == {"a": 5}
    assert event["attributes"]["raw"] == "AAE="
    assert event["attributes"]["empty"] is None


def test_genai_span_end_to_end() -> None:
    def record(tracer: Tracer) -> None:
        span = tracer.start_span("chat gpt-4o")
        span.set_attributes({
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.conversation.id": "c-1",
            "gen_ai.input.messages": '[{"role": "user", "parts": []}]',
        })  # fmt: skip
        span.end()

    (event,) = _events(sdk_request(record))
    assert event["kind"] == "generation"
    assert event["model"] == {"name": "gpt-4o", "provider": "openai", "parameters": {}}
    assert event["usage"]["input_tokens"] == 800 and event["usage"]["cached_tokens"] == 200
    assert event["trace"]["session_id"] == "c-1"
    assert event["input"] == [{"role": "user", "parts": []}]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"trace_id": b"\x00" * 16}, "schema"),
        ({"trace_id": b"\x01\x02"}, "schema"),
        ({"span_id": b""}, "schema"),
        ({"name": ""}, "schema"),
        ({"end_time_unix_nano": 5}, "schema"),
    ],
)
def test_a_span_that_is_no_valid_event_goes_to_the_dlq(fields: dict[str, Any], reason: str) -> None:
    request = _raw_request(**fields)
    request.resource_spans[0].scope_spans[0].spans.append(
        Span(trace_id=TRACE, span_id=bytes.fromhex("30f067aa0ba902b7"), name="good",
             start_time_unix_nano=1, end_time_unix_nano=2)
    )  # fmt: skip
    conversion = convert_request(request, project="p")
    assert (conversion.rejected, conversion.accepted) == (1, 1)
    dead = next(r for r in conversion.records if r.dlq)
    headers = dict(dead.headers)
    assert headers[DLQ_HEADER_PREFIX + "reason"] == reason.encode()
    assert headers[DLQ_HEADER_PREFIX + "source"] == b"otlp"
    assert headers[DLQ_HEADER_PREFIX + "exception.message"]
    assert headers[DLQ_HEADER_PREFIX + "timestamp"].isdigit()
    # The dead letter is the rejected span alone, as an OTLP/JSON request that decodes.
    again = decode_request(dead.value, "application/json")
    (span,) = again.resource_spans[0].scope_spans[0].spans
    assert span == request.resource_spans[0].scope_spans[0].spans[0]
    assert again.resource_spans[0].resource == request.resource_spans[0].resource
    assert conversion.messages and conversion.messages[0].startswith(reason)


def test_an_event_over_the_size_limit_is_rejected_as_too_large() -> None:
    attrs = Span().attributes
    kv = attrs.add(key="big")
    kv.value.string_value = "x" * 5000
    conversion = convert_request(_raw_request(attributes=attrs), project="p", max_event_bytes=4096)
    (dead,) = conversion.records
    assert dead.dlq and dict(dead.headers)[DLQ_HEADER_PREFIX + "reason"] == b"too_large"
    # Too large for the DLQ as well: the dead letter keeps what identifies the span.
    assert orjson.loads(dead.value)["span_id"] == SPAN.hex()


def test_dlq_prefix_and_reasons_are_the_workers() -> None:
    assert DLQ_HEADER_PREFIX == _validate.DLQ_HEADER_PREFIX
    assert {"schema", "too_large", "processing_error"} <= set(_validate.DLQ_REASONS)


def test_empty_request_converts_to_nothing() -> None:
    conversion = convert_request(ExportTraceServiceRequest(), project="p")
    assert (conversion.records, conversion.rejected) == ([], 0)
