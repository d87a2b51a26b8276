"""OTLP/JSON -> the conversion's input, straight from the parsed JSON.

:func:`convert_json_request` turns a parsed OTLP/JSON body into the same
:class:`~tracestream.producers.otlp._convert.Conversion` as
``convert_request(parse_otlp_json(obj))``, without building protobuf objects
(the walk plus the upb messages and reading them back cost ~70 us of a
512-span batch's LLM-sized span). ``tests/unit/producers/otlp/
test_json_spans.py`` holds the two equal on the fixtures and on generated
requests.

The walk reads the shapes OTLP exporters write: lowerCamelCase keys, ids in
hex, enums as integers or names, 64-bit integers as numbers or decimal
strings, unknown keys ignored. Known fields the conversion does not read
(``flags``, scope attributes, ...) are checked by building their protobuf
message, as the reference walk would. Anything else (a proto-style
``snake_case`` key, a ``null``, ``bytesValue``, an out-of-range number, a
malformed value) makes the whole request take the reference path, which
converts it or says why it is not OTLP: the walk never decides a rare case
differently.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from pydantic import JsonValue

from tracestream.schemas import DEFAULT_MAX_EVENT_BYTES

from ._codec import JSON, decode_json, decode_request, not_otlp_json
from ._convert import (
    Conversion,
    OutRecord,
    convert_request,
    dead_letter,
    finish_conversion,
    resource_context,
    scope_attributes,
    span_event,
)
from ._genai import OtelEvent
from ._otlp_json import OtlpJsonError, _float, _integer, _kwargs, _table, parse_otlp_json
from ._span_input import SpanInput

__all__ = ["convert_body", "convert_json_request"]

_U32: Final = 1 << 32
_U64: Final = 1 << 64
_I32: Final = 1 << 31
_I64: Final = 1 << 63
_SPAN_KIND_NAMES: Final = Span.SpanKind.DESCRIPTOR.values_by_name
_STATUS_NAMES: Final = Status.StatusCode.DESCRIPTOR.values_by_name


class _Reference(Exception):
    """This request is for the reference path (protobuf objects) to convert or refuse."""


def _fields(obj: Any, descriptor: Descriptor, read: frozenset[str]) -> dict[str, Any]:
    """The keys of ``read`` present in ``obj``; the message's other known fields checked."""
    if not isinstance(obj, dict):
        raise _Reference
    table = _table(descriptor)
    out: dict[str, Any] = {}
    rest: dict[str, Any] | None = None
    for key, value in obj.items():
        field = table.get(key)
        if field is None:
            continue  # unknown keys MUST be ignored
        if value is None or key != field.json_name:
            raise _Reference
        if key in read:
            out[key] = value
        else:
            if rest is None:
                rest = {}
            rest[key] = value
    if rest is not None:
        # The reference walk builds these too: the same checks, the same errors.
        message_factory.GetMessageClass(descriptor)(**_kwargs(rest, descriptor))
    return out


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Reference
    return value


def _unsigned(value: Any, limit: int) -> int:
    number = _integer(value)
    if not 0 <= number < limit:
        raise _Reference
    return number


def _enum(value: Any, names: Any) -> int:
    if isinstance(value, str):
        named = names.get(value)
        return 0 if named is None else int(named.number)  # unknown name: left unset
    number = _integer(value)
    if not -_I32 <= number < _I32:
        raise _Reference
    return number


def _id(value: Any) -> bytes:
    return bytes.fromhex(_string(value))


_ANY_READ: Final = frozenset({"stringValue", "boolValue", "intValue", "doubleValue",
                              "arrayValue", "kvlistValue"})  # fmt: skip
_VALUES: Final = frozenset({"values"})
_KVLIST: Final = KeyValueList.DESCRIPTOR


def _value(obj: Any) -> JsonValue:
    """An ``AnyValue`` as :func:`~tracestream.producers.otlp._convert.decode_value` gives it."""
    if not isinstance(obj, dict):
        raise _Reference
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "stringValue" and isinstance(value, str):
            return value  # most of an LLM span's JSON
    fields = _fields(obj, AnyValue.DESCRIPTOR, _ANY_READ)
    if len(fields) != len(obj) or len(fields) > 1:
        raise _Reference  # another member (bytes, a string index), or two of them
    if not fields:
        return None
    ((key, value),) = fields.items()
    if key == "stringValue":
        return _string(value)
    if key == "boolValue":
        if not isinstance(value, bool):
            raise _Reference
        return value
    if key == "intValue":
        number = _integer(value)
        if not -_I64 <= number < _I64:
            raise _Reference
        return number
    if key == "doubleValue":
        return _float(value)
    items = _fields(value, ArrayValue.DESCRIPTOR if key == "arrayValue" else _KVLIST, _VALUES)
    listed = items.get("values", [])
    if not isinstance(listed, list):
        raise _Reference
    if key == "arrayValue":
        return [_value(item) for item in listed]
    return _attributes(listed)


_KEY_VALUE: Final = frozenset({"key", "value"})


def _attributes(items: Any) -> dict[str, JsonValue]:
    """Repeated ``KeyValue`` as a dict (a repeated key: the last one wins)."""
    if not isinstance(items, list):
        raise _Reference
    out: dict[str, JsonValue] = {}
    for item in items:
        if isinstance(item, dict) and len(item) == 2 and "key" in item and "value" in item:
            kv = item
        else:
            kv = _fields(item, KeyValue.DESCRIPTOR, _KEY_VALUE)
        value = kv.get("value")
        out[_string(kv.get("key", ""))] = None if value is None else _value(value)
    return out


_EVENT_READ: Final = frozenset({"timeUnixNano", "name", "attributes"})
_LINK_READ: Final = frozenset({"traceId", "spanId", "traceState", "attributes"})
_STATUS_READ: Final = frozenset({"message", "code"})
_SPAN_READ: Final = frozenset(
    {"traceId", "spanId", "parentSpanId", "traceState", "name", "kind", "startTimeUnixNano",
     "endTimeUnixNano", "attributes", "events", "links", "status", "droppedAttributesCount",
     "droppedEventsCount", "droppedLinksCount"}
)  # fmt: skip


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Reference
    return value


def _span(obj: Any) -> SpanInput:
    f = _fields(obj, Span.DESCRIPTOR, _SPAN_READ)
    events = []
    for item in _list(f.get("events", [])):
        e = _fields(item, Span.Event.DESCRIPTOR, _EVENT_READ)
        events.append(
            OtelEvent(
                _string(e.get("name", "")),
                _unsigned(e.get("timeUnixNano", 0), _U64),
                _attributes(e.get("attributes", [])),
            )
        )
    links: list[dict[str, JsonValue]] = []
    for item in _list(f.get("links", [])):
        link = _fields(item, Span.Link.DESCRIPTOR, _LINK_READ)
        state = _string(link.get("traceState", ""))
        links.append(
            {
                "trace_id": _id(link.get("traceId", "")).hex(),
                "span_id": _id(link.get("spanId", "")).hex(),
                "attributes": _attributes(link.get("attributes", [])),
                **({"trace_state": state} if state else {}),
            }
        )
    status = _fields(f.get("status", {}), Status.DESCRIPTOR, _STATUS_READ)
    return SpanInput(
        trace_id=_id(f.get("traceId", "")),
        span_id=_id(f.get("spanId", "")),
        parent_span_id=_id(f.get("parentSpanId", "")),
        trace_state=_string(f.get("traceState", "")),
        name=_string(f.get("name", "")),
        kind=_enum(f.get("kind", 0), _SPAN_KIND_NAMES),
        start_time_unix_nano=_unsigned(f.get("startTimeUnixNano", 0), _U64),
        end_time_unix_nano=_unsigned(f.get("endTimeUnixNano", 0), _U64),
        attributes=_attributes(f.get("attributes", [])),
        events=events,
        links=links,
        status_code=_enum(status.get("code", 0), _STATUS_NAMES),
        status_message=_string(status.get("message", "")),
        dropped_attributes_count=_unsigned(f.get("droppedAttributesCount", 0), _U32),
        dropped_events_count=_unsigned(f.get("droppedEventsCount", 0), _U32),
        dropped_links_count=_unsigned(f.get("droppedLinksCount", 0), _U32),
    )


_REQUEST: Final = ExportTraceServiceRequest.DESCRIPTOR
_REQUEST_READ: Final = frozenset({"resourceSpans"})
_RESOURCE_SPANS_READ: Final = frozenset({"resource", "scopeSpans"})
_SCOPE_SPANS_READ: Final = frozenset({"scope", "spans"})
_ATTRIBUTES: Final = frozenset({"attributes"})
_SCOPE_READ: Final = frozenset({"name", "version"})

#: A span's place in its request, for its dead letter: (resource spans, scope spans, span).
_JsonSource = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


def _json_dead_letter(
    source: _JsonSource, reason: str, exc: BaseException, *, max_event_bytes: int
) -> OutRecord:
    """The dead letter the reference path writes: made from the span's protobuf, built
    here for the rejected span only."""
    resource_spans, scope_spans, span = source
    single = parse_otlp_json(
        {"resourceSpans": [{**resource_spans, "scopeSpans": [{**scope_spans, "spans": [span]}]}]}
    )
    rs = single.resource_spans[0]
    ss = rs.scope_spans[0]
    return dead_letter((rs, ss, ss.spans[0]), reason, exc, max_event_bytes=max_event_bytes)


def _walk(
    obj: Any, *, project: str, default_environment: str
) -> list[tuple[Any, dict[str, Any] | Exception]]:
    built: list[tuple[Any, dict[str, Any] | Exception]] = []
    request = _fields(obj, _REQUEST, _REQUEST_READ)
    for resource_spans in _list(request.get("resourceSpans", [])):
        rs = _fields(resource_spans, ResourceSpans.DESCRIPTOR, _RESOURCE_SPANS_READ)
        holder = {k: v for k, v in resource_spans.items() if k != "scopeSpans"}
        resource = _fields(rs.get("resource", {}), Resource.DESCRIPTOR, _ATTRIBUTES)
        attrs = _attributes(resource.get("attributes", []))
        context = resource_context(attrs, default_environment)
        for scope_spans in _list(rs.get("scopeSpans", [])):
            ss = _fields(scope_spans, ScopeSpans.DESCRIPTOR, _SCOPE_SPANS_READ)
            scope = _fields(ss.get("scope", {}), InstrumentationScope.DESCRIPTOR, _SCOPE_READ)
            kept = scope_attributes(
                _string(scope.get("name", "")), _string(scope.get("version", ""))
            )
            rest = {k: v for k, v in scope_spans.items() if k != "spans"}
            for span in _list(ss.get("spans", [])):
                read = _span(span)  # a malformed span is the reference's to judge
                values: dict[str, Any] | Exception
                try:
                    values = span_event(read, project=project, context=context, scope=kept)
                except Exception as exc:  # noqa: BLE001 - one bad span must not fail the batch
                    values = exc
                built.append(((holder, rest, span), values))
    return built


def convert_json_request(
    obj: Any,
    *,
    project: str,
    default_environment: str = "development",
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    fast: bool = True,
) -> Conversion:
    """``convert_request(parse_otlp_json(obj), ...)``, read from the JSON directly.

    Raises:
        OtlpJsonError: ``obj`` is not an OTLP/JSON ``ExportTraceServiceRequest``.
    """
    try:
        built = _walk(obj, project=project, default_environment=default_environment)
    except Exception:  # noqa: BLE001 - the reference path decides, with its own error
        return convert_request(
            parse_otlp_json(obj),
            project=project,
            default_environment=default_environment,
            max_event_bytes=max_event_bytes,
            fast=fast,
        )
    return finish_conversion(built, _json_dead_letter, max_event_bytes=max_event_bytes, fast=fast)


def convert_body(
    body: bytes,
    content_type: str,
    *,
    project: str,
    default_environment: str = "development",
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Conversion:
    """Decode and convert a request body: JSON read directly, protobuf through its message.

    Raises:
        UndecodableRequest: the body is not a request in ``content_type`` (answered 400).
    """
    if content_type != JSON:
        return convert_request(
            decode_request(body, content_type),
            project=project,
            default_environment=default_environment,
            max_event_bytes=max_event_bytes,
        )
    try:
        return convert_json_request(
            decode_json(body),
            project=project,
            default_environment=default_environment,
            max_event_bytes=max_event_bytes,
        )
    except OtlpJsonError as exc:
        raise not_otlp_json(exc) from None
