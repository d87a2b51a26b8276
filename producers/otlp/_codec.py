"""OTLP/HTTP payloads in and out: protobuf and JSON, request bodies and responses.

JSON follows the OTLP rules, which differ from protobuf's standard JSON
mapping in one way that matters: trace and span ids are hex, not base64.
:func:`decode_request` reads it with :func:`parse_otlp_json` (the rules and why
it is not ``json_format`` are there); :func:`request_json` writes it with
``google.protobuf.json_format`` and turns the ids it writes as base64 into hex.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ._otlp_json import OtlpJsonError, parse_otlp_json

__all__ = [
    "JSON",
    "PROTOBUF",
    "UndecodableRequest",
    "decode_json",
    "decode_request",
    "encode_response",
    "encode_status",
    "not_otlp_json",
    "request_json",
]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"

_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId")


class UndecodableRequest(ValueError):
    """The body is not an ``ExportTraceServiceRequest`` in the declared encoding."""


def _b64_to_hex(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value


def _each_id_holder(obj: Any) -> list[dict[str, Any]]:
    """The span and link objects of a JSON ``ExportTraceServiceRequest``."""
    holders: list[dict[str, Any]] = []
    if not isinstance(obj, dict):
        return holders
    for rs in obj.get("resourceSpans") or obj.get("resource_spans") or ():
        if not isinstance(rs, dict):
            continue
        for ss in rs.get("scopeSpans") or rs.get("scope_spans") or ():
            if not isinstance(ss, dict):
                continue
            for span in ss.get("spans") or ():
                if isinstance(span, dict):
                    holders.append(span)
                    holders.extend(
                        link for link in span.get("links") or () if isinstance(link, dict)
                    )
    return holders


def _convert_ids(obj: Any, convert: Any) -> None:
    for holder in _each_id_holder(obj):
        for name in _ID_FIELDS:
            for key in (name, _snake(name)):
                if key in holder:
                    holder[key] = convert(holder[key])


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def decode_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """The request in ``body``, encoded as ``content_type`` (:data:`PROTOBUF` or :data:`JSON`).

    Raises:
        UndecodableRequest: the body does not decode (answered with 400).
    """
    request = ExportTraceServiceRequest()
    if content_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise UndecodableRequest(f"not a protobuf ExportTraceServiceRequest: {exc}") from None
        return request
    obj = decode_json(body)
    try:
        return parse_otlp_json(obj)
    except OtlpJsonError as exc:
        raise not_otlp_json(exc) from None


def decode_json(body: bytes) -> Any:
    """The parsed JSON of a request body (an empty body is an empty request).

    Raises:
        UndecodableRequest: the body is not JSON.
    """
    try:
        return orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise UndecodableRequest(f"not JSON: {exc}") from None


def not_otlp_json(exc: OtlpJsonError) -> UndecodableRequest:
    """What a JSON body that is not an OTLP request is answered with (400)."""
    return UndecodableRequest(f"not an OTLP/JSON ExportTraceServiceRequest: {exc}")


def request_json(request: ExportTraceServiceRequest) -> bytes:
    """``request`` in OTLP/JSON (hex ids), as a DLQ record keeps a rejected span."""
    obj = json_format.MessageToDict(request)
    _convert_ids(obj, _b64_to_hex)
    return orjson.dumps(obj)


def encode_response(content_type: str, rejected_spans: int = 0, message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` is set only when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected_spans or message:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected_spans, error_message=message)
        )
    if content_type == PROTOBUF:
        return response.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(response))


def encode_status(content_type: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` body for a failure (``code`` is a gRPC status code)."""
    status = status_pb2.Status(code=code, message=message)
    if content_type == PROTOBUF:
        encoded: bytes = status.SerializeToString()
        return encoded
    return orjson.dumps(json_format.MessageToDict(status))
