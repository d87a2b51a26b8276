"""The fast OTLP/JSON reader equals json_format (after the hex id fix-up) on every rule."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import StatusCode, Tracer

from tracestream.producers.otlp._codec import request_json
from tracestream.producers.otlp._otlp_json import OtlpJsonError, parse_otlp_json

from ._otlp import sdk_request

pytestmark = pytest.mark.unit

T, S = "5B8EFFF798038103D269B633813FC60C", "eee19b7ec3c1b174"


def _reference(obj: dict[str, Any]) -> ExportTraceServiceRequest:
    """json_format with OTLP's hex ids turned into the base64 it expects."""
    obj = orjson.loads(orjson.dumps(obj))
    for rs in obj.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for holder in [span, *span.get("links", [])]:
                    for key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id"):
                        if isinstance(holder.get(key), str):
                            holder[key] = base64.b64encode(bytes.fromhex(holder[key])).decode()
    return json_format.ParseDict(obj, ExportTraceServiceRequest(), ignore_unknown_fields=True)


def _request(span: dict[str, Any], **resource: Any) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [
        {"scope": {"name": "s", "version": "1"}, "spans": [span]}]}]}  # fmt: skip


CASES = {
    "camelCase keys, hex ids any case, int64 as strings and numbers": {
        "traceId": T, "spanId": S, "parentSpanId": "", "name": "op", "kind": 2,
        "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000,
        "droppedAttributesCount": 3, "flags": 256,
    },
    "snake_case keys as json_format accepts them": {
        "trace_id": T, "span_id": S, "name": "op", "start_time_unix_nano": "5",
    },
    "unknown fields and nulls": {
        "traceId": T, "spanId": S, "futureField": {"a": [1]}, "name": None, "status": None,
    },
    "every AnyValue kind": {
        "traceId": T, "spanId": S, "attributes": [
            {"key": "s", "value": {"stringValue": "x"}},
            {"key": "i", "value": {"intValue": "-9007199254740993"}},
            {"key": "d", "value": {"doubleValue": 1.5}},
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "b", "value": {"boolValue": True}},
            {"key": "y", "value": {"bytesValue": "AAH/"}},
            {"key": "a", "value": {"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "z"}]}}},
            {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "n", "value": {"intValue": 2}}]}}},
            {"key": "empty", "value": {}},
        ],
    },
    "string values, the walk's fast path (snake key, empty, null, beside another key)": {
        "traceId": T, "spanId": S, "attributes": [
            {"key": "camel", "value": {"stringValue": "x"}},
            {"key": "snake", "value": {"string_value": "y"}},
            {"key": "empty", "value": {"stringValue": ""}},
            {"key": "null", "value": {"stringValue": None}},
            {"key": "extra", "value": {"stringValue": "z", "futureField": 1}},
        ],
    },
    "events, links, status, enum by name": {
        "traceId": T, "spanId": S, "kind": "SPAN_KIND_CLIENT",
        "events": [{"timeUnixNano": "7", "name": "e", "attributes": [
            {"key": "k", "value": {"stringValue": "v"}}]}],
        "links": [{"traceId": T.lower(), "spanId": S, "traceState": "a=b", "flags": 1}],
        "status": {"code": 2, "message": "boom"}, "traceState": "x=y",
    },
}  # fmt: skip


@pytest.mark.parametrize("span", CASES.values(), ids=CASES.keys())
def test_equal_to_json_format(span: dict[str, Any]) -> None:
    obj = _request(span, attributes=[{"key": "service.name", "value": {"stringValue": "a"}}])
    obj["unknownTop"] = True
    assert parse_otlp_json(obj) == _reference(obj)


def test_equal_on_what_the_real_sdk_records() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("root") as root:
            root.set_attributes({"f": 0.25, "n": 2**40, "l": ["a"], "flags": [True, False]})
            root.add_event("evt", {"x": 1})
            root.set_status(StatusCode.ERROR, "bad")
            tracer.start_span("child").end()

    obj = orjson.loads(request_json(sdk_request(record)))
    assert parse_otlp_json(obj) == _reference(obj)


@pytest.mark.parametrize(
    "span",
    [
        {"traceId": "not hex"},
        {"name": 5},
        {"startTimeUnixNano": "soon"},
        {"startTimeUnixNano": 1.5},
        {"startTimeUnixNano": True},
        {"attributes": {"key": "not a list"}},
        {"attributes": [{"key": "b", "value": {"boolValue": "yes"}}]},
        {"attributes": [{"key": "s", "value": {"stringValue": 5}}]},
        {"droppedAttributesCount": 2**40},
    ],
)
def test_bad_shapes_and_types_are_errors(span: dict[str, Any]) -> None:
    obj = _request(span)
    with pytest.raises(OtlpJsonError):
        parse_otlp_json(obj)
    with pytest.raises((json_format.ParseError, ValueError, TypeError)):
        _reference(obj)  # the reference refuses them too


def test_not_an_object() -> None:
    with pytest.raises(OtlpJsonError):
        parse_otlp_json([1])


def test_an_unknown_enum_name_is_ignored_like_json_format() -> None:
    obj = _request({"traceId": T, "spanId": S, "kind": "SPAN_KIND_FROM_THE_FUTURE"})
    assert parse_otlp_json(obj) == _reference(obj)
    assert parse_otlp_json(obj).resource_spans[0].scope_spans[0].spans[0].kind == 0


def test_a_string_where_a_message_belongs_is_an_error_not_an_empty_message() -> None:
    # Stricter than json_format, which sets an empty status here.
    with pytest.raises(OtlpJsonError):
        parse_otlp_json(_request({"status": "ok"}))
