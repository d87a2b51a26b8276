"""OTLP/JSON's rules (hex ids, integer enums, unknown fields, 64-bit ints) and the bodies out."""

from __future__ import annotations

import orjson
import pytest
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tracestream.producers.otlp import UndecodableRequest, decode_request
from tracestream.producers.otlp._codec import encode_response, encode_status, request_json

pytestmark = pytest.mark.unit

JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def _body(span: dict[str, object], **top: object) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}], **top})


def test_json_ids_are_hex_any_case_enums_integers_int64_strings_or_numbers() -> None:
    request = decode_request(
        _body({
            "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174",
            "parentSpanId": "", "name": "op", "kind": 2,
            "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000,
            "status": {"code": 2},
            "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175"}],
            "someFutureField": {"x": 1},
        }, unknownTop=[1]),
        JSON,
    )  # fmt: skip
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.parent_span_id == b""
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.end_time_unix_nano == 1544712661000000000
    assert span.status.code == 2
    assert span.links[0].span_id.hex() == "eee19b7ec3c1b175"


def test_protobuf_round_trip_and_json_round_trip_with_hex_ids() -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes(range(1, 17)), bytes(range(1, 9)), "s"
    assert decode_request(request.SerializeToString(), PROTOBUF) == request
    text = request_json(request)
    assert b'"traceId":"0102030405060708090a0b0c0d0e0f10"' in text
    assert decode_request(text, JSON) == request


@pytest.mark.parametrize("body", [b"", b"{}", b"  "])
def test_empty_json_is_an_empty_request(body: bytes) -> None:
    assert decode_request(body, JSON) == ExportTraceServiceRequest()


def test_empty_protobuf_is_an_empty_request() -> None:
    assert decode_request(b"", PROTOBUF) == ExportTraceServiceRequest()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", JSON),
        (b"[1, 2]", JSON),
        (_body({"traceId": "xyz", "spanId": "00"}), JSON),
        (_body({"name": 5}), JSON),
        (_body({"startTimeUnixNano": "soon"}), JSON),
        (b"\xff\xff\xff\xff", PROTOBUF),
    ],
)
def test_undecodable_bodies(body: bytes, content_type: str) -> None:
    with pytest.raises(UndecodableRequest):
        decode_request(body, content_type)


def test_success_response_leaves_partial_success_unset() -> None:
    response = ExportTraceServiceResponse.FromString(encode_response(PROTOBUF))
    assert not response.HasField("partial_success")
    assert orjson.loads(encode_response(JSON)) == {}


def test_partial_success_response() -> None:
    response = ExportTraceServiceResponse.FromString(encode_response(PROTOBUF, 2, "bad ids"))
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "bad ids"
    assert orjson.loads(encode_response(JSON, 2, "bad ids")) == {
        "partialSuccess": {"rejectedSpans": "2", "errorMessage": "bad ids"}
    }


def test_status_bodies() -> None:
    status = status_pb2.Status.FromString(encode_status(PROTOBUF, 14, "Kafka down"))
    assert (status.code, status.message) == (14, "Kafka down")
    assert orjson.loads(encode_status(JSON, 3, "bad")) == {"code": 3, "message": "bad"}
