"""An OTLP ``ExportTraceServiceRequest`` -> our ``span`` events, and the spans it rejects.

Pure code (protobuf objects in, Kafka records out; no I/O). Every OTLP span
is a finished span, so it becomes one ``span`` event (start and end in one).
What each field comes from:

- envelope: ``project`` from the receiver (the ingest key's project), ``service``
  from the resource's ``service.name``, ``environment`` from
  ``deployment.environment.name`` (or the older ``deployment.environment``),
  ``timestamp`` = the span's end, ``event_id`` derived from the span's identity
  (:func:`span_event_id`), so a re-sent batch yields byte-identical events;
- status: ``STATUS_CODE_OK``/``ERROR``/``UNSET`` -> ok/error/unset; the error
  from the first ``exception`` event (type, message, stack trace), else
  ``error.type`` and the status message;
- GenAI fields from the attributes and events (:func:`map_genai`);
- kept in ``attributes``, never dropped: unmapped attributes, the remaining
  events (``otel.events``), links (``otel.links``), the span kind, the
  instrumentation scope, the other resource attributes (``otel.resource``),
  the trace state and the dropped-item counts.

A span that does not make a valid event (bad ids, no name, an end before its
start, too large) is rejected: it goes to the DLQ as an OTLP/JSON request
holding that span alone, with the reason in the DLQ headers.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from pydantic import JsonValue, ValidationError

from tracestream.schemas import DEFAULT_MAX_EVENT_BYTES, SCHEMA_VERSION

from ._codec import request_json
from ._event_json import event_json, plain_event_json
from ._genai import OtelEvent, map_genai
from ._identity import span_event_id
from ._span_input import SpanInput

__all__ = [
    "DLQ_HEADER_PREFIX",
    "EVENT_HEADERS",
    "Conversion",
    "OutRecord",
    "convert_request",
    "decode_attributes",
    "decode_value",
]

#: The worker's DLQ header prefix (``streams/_validate.py``), held equal by a test:
#: a rejected OTLP span reads like any dead letter.
DLQ_HEADER_PREFIX: Final = "__tracestream.errors."

#: The headers the SDK's Kafka transport puts on every event (held equal by a test).
EVENT_HEADERS: Final[tuple[tuple[str, bytes], ...]] = (
    ("content-type", b"application/json"),
    ("schema-version", str(SCHEMA_VERSION).encode()),
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_STATUS: Final[dict[int, str]] = {Status.STATUS_CODE_OK: "ok", Status.STATUS_CODE_ERROR: "error"}
_SPAN_KINDS: Final[dict[int, str]] = {
    Span.SPAN_KIND_INTERNAL: "internal",
    Span.SPAN_KIND_SERVER: "server",
    Span.SPAN_KIND_CLIENT: "client",
    Span.SPAN_KIND_PRODUCER: "producer",
    Span.SPAN_KIND_CONSUMER: "consumer",
}
_LABEL_MAX: Final = 256
_MESSAGE_MAX: Final = 65_536
_STACK_MAX: Final = 262_144
_ENVIRONMENT_KEYS: Final = ("deployment.environment.name", "deployment.environment")
_MAPPED_RESOURCE_KEYS: Final = frozenset({"service.name", "service.version", *_ENVIRONMENT_KEYS})


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record to produce: to the events topic or, with ``dlq`` set, the DLQ."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    dlq: bool = False


@dataclass(frozen=True, slots=True)
class Conversion:
    """What a request turned into."""

    records: list[OutRecord]
    #: How many spans were rejected (their dead letters are among ``records``).
    rejected: int
    #: One line per distinct rejection reason, for the partial-success message.
    messages: tuple[str, ...]

    @property
    def accepted(self) -> int:
        return len(self.records) - self.rejected


def decode_value(value: AnyValue) -> JsonValue:
    """An OTLP ``AnyValue`` as a JSON value (bytes as base64 text, as OTLP/JSON writes them)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [decode_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def decode_attributes(attributes: Iterable[KeyValue]) -> dict[str, JsonValue]:
    """OTLP ``KeyValue`` attributes as a dict (a repeated key: the last one wins)."""
    return {kv.key: decode_value(kv.value) for kv in attributes}


def _datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _iso(ns: int) -> str:
    return _datetime(ns).isoformat().replace("+00:00", "Z")


def _label(value: JsonValue) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)[:_LABEL_MAX]
        return text or None
    return None


@dataclass(frozen=True, slots=True)
class _ResourceContext:
    service: str
    environment: str
    release: str | None
    kept: dict[str, JsonValue]


def resource_context(attrs: dict[str, JsonValue], default_environment: str) -> _ResourceContext:
    """What every span of a resource takes from its (decoded) attributes."""
    environment = next((e for k in _ENVIRONMENT_KEYS if (e := _label(attrs.get(k)))), None)
    return _ResourceContext(
        # The OTel SDKs' own default when service.name is not set.
        service=_label(attrs.get("service.name")) or "unknown_service",
        environment=environment or default_environment,
        release=_label(attrs.get("service.version")),
        kept={k: v for k, v in attrs.items() if k not in _MAPPED_RESOURCE_KEYS},
    )


def _error(
    span: SpanInput, events: list[OtelEvent], attrs: Mapping[str, JsonValue]
) -> tuple[dict[str, JsonValue] | None, list[OtelEvent]]:
    """The error of a span and the events left once its exception event is read."""
    exception = next((e for e in events if e.name == "exception"), None)
    code = span.status_code
    failed = code == Status.STATUS_CODE_ERROR
    if not failed and (exception is None or code == Status.STATUS_CODE_OK):
        return None, events
    error: dict[str, JsonValue] = {"type": "error", "message": span.status_message[:_MESSAGE_MAX]}
    if (error_type := _label(attrs.get("error.type"))) is not None:
        error["type"] = error_type
    if exception is not None:
        e = exception.attributes
        error["type"] = _label(e.get("exception.type")) or error["type"]
        if isinstance(message := e.get("exception.message"), str):
            error["message"] = message[:_MESSAGE_MAX]
        if isinstance(stack := e.get("exception.stacktrace"), str):
            error["stack"] = stack[:_STACK_MAX]
        events = [e for e in events if e is not exception]
    return error, events


def span_input(span: Span) -> SpanInput:
    """What the conversion reads of a protobuf span."""
    return SpanInput(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        trace_state=span.trace_state,
        name=span.name,
        kind=span.kind,
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
        attributes=decode_attributes(span.attributes),
        events=[
            OtelEvent(e.name, e.time_unix_nano, decode_attributes(e.attributes))
            for e in span.events
        ],
        links=[
            {
                "trace_id": link.trace_id.hex(),
                "span_id": link.span_id.hex(),
                "attributes": decode_attributes(link.attributes),
                **({"trace_state": link.trace_state} if link.trace_state else {}),
            }
            for link in span.links
        ],
        status_code=span.status.code,
        status_message=span.status.message,
        dropped_attributes_count=span.dropped_attributes_count,
        dropped_events_count=span.dropped_events_count,
        dropped_links_count=span.dropped_links_count,
    )


def span_event(
    span: SpanInput,
    *,
    project: str,
    context: _ResourceContext,
    scope: Mapping[str, JsonValue],
) -> dict[str, Any]:
    """The ``span`` event of one OTLP span as a dict, not yet validated."""
    trace_id, span_id = span.trace_id.hex(), span.span_id.hex()
    attrs = span.attributes
    fields = map_genai(attrs, span.events, span_name=span.name)
    error, events = _error(span, fields.events, attrs)
    kept: dict[str, JsonValue] = dict(fields.attributes)
    if span.kind in _SPAN_KINDS:
        kept["otel.span.kind"] = _SPAN_KINDS[span.kind]
    kept.update(scope)
    if context.kept:
        kept["otel.resource"] = context.kept
    if span.trace_state:
        kept["otel.trace_state"] = span.trace_state
    if events:
        kept["otel.events"] = [
            {"name": e.name, "time": _iso(e.time_unix_nano), "attributes": e.attributes}
            for e in events
        ]
    if span.links:
        kept["otel.links"] = list(span.links)
    for name in ("attributes", "events", "links"):
        if dropped := getattr(span, f"dropped_{name}_count"):
            kept[f"otel.dropped_{name}_count"] = dropped
    trace: dict[str, JsonValue] = {}
    if fields.session_id is not None:
        trace["session_id"] = fields.session_id
    if fields.user_id is not None:
        trace["user_id"] = fields.user_id
    if fields.tags:
        trace["tags"] = list(fields.tags)
    if context.release is not None:
        trace["release"] = context.release
    end = _datetime(span.end_time_unix_nano)
    return {
        "event_type": "span",
        "event_id": span_event_id(project, trace_id, span_id, span.start_time_unix_nano),
        "project": project,
        "service": context.service,
        "environment": context.environment,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": span.parent_span_id.hex() or None,
        "timestamp": end,
        "trace": trace or None,
        "kind": fields.kind,
        "name": span.name,
        "start_time": _datetime(span.start_time_unix_nano),
        "end_time": end,
        "status": _STATUS.get(span.status_code, "unset"),
        "input": fields.input,
        "output": fields.output,
        "model": fields.model,
        "tool": fields.tool,
        "usage": fields.usage,
        "error": error,
        "attributes": kept,
    }


def scope_attributes(name: str, version: str) -> dict[str, JsonValue]:
    """What every span of an instrumentation scope keeps of it."""
    scope: dict[str, JsonValue] = {}
    if name:
        scope["otel.scope.name"] = name
    if version:
        scope["otel.scope.version"] = version
    return scope


#: The protobuf pieces of a span, for its dead letter.
SpanSource = tuple[ResourceSpans, ScopeSpans, Span]


def dead_letter(
    source: SpanSource, reason: str, exc: BaseException, *, max_event_bytes: int
) -> OutRecord:
    """The DLQ record of a rejected span: a one-span OTLP/JSON request, with the reason."""
    resource_spans, scope_spans, span = source
    single = ExportTraceServiceRequest()
    rs = single.resource_spans.add(schema_url=resource_spans.schema_url)
    rs.resource.CopyFrom(resource_spans.resource)
    ss = rs.scope_spans.add(schema_url=scope_spans.schema_url)
    ss.scope.CopyFrom(scope_spans.scope)
    ss.spans.append(span)
    value = request_json(single)
    if len(value) > max_event_bytes:
        # Too large for the DLQ topic as well: keep what identifies the span.
        value = orjson.dumps(
            {
                "trace_id": span.trace_id.hex(),
                "span_id": span.span_id.hex(),
                "name": span.name[:_LABEL_MAX],
                "otlp_json_bytes": len(value),
            }
        )
    message = str(exc).encode("utf-8", "replace")[:8192]
    prefix = DLQ_HEADER_PREFIX
    headers = (
        ("content-type", b"application/json"),
        (prefix + "reason", reason.encode()),
        (prefix + "source", b"otlp"),
        (prefix + "exception.class", type(exc).__name__.encode()),
        (prefix + "exception.message", message),
        (prefix + "timestamp", str(time.time_ns() // 1_000_000).encode()),
    )
    return OutRecord(key=span.trace_id.hex().encode(), value=value, headers=headers, dlq=True)


#: The trace-level fields one span of a trace may carry for all of them.
_TRACE_WIDE: Final = ("session_id", "user_id", "tags")


def share_trace_fields(events: list[dict[str, Any]]) -> None:
    """Give every event of a trace the session, user and tags one of its spans names.

    Instrumentations set ``session.id``/``user.id`` (and OpenInference's tags)
    on the span where the application knows them, usually the root; our
    contract carries them on every event of the trace (``TraceInfo``), and the
    trace's row takes the trace info of the last event it assembled. So within
    one request, a field a span of the trace names is copied to the spans of
    that trace that name none: the root's value where it has one, else the
    first span's. A span's own value is never replaced. Spans of the trace that
    arrive in another request are not reached.
    """
    shared: dict[str, dict[str, JsonValue]] = {}
    for values in events:
        trace = values["trace"]
        if not trace:
            continue
        fields = shared.setdefault(values["trace_id"], {})
        root = values["parent_span_id"] is None
        for name in _TRACE_WIDE:
            if name in trace and (root or name not in fields):
                fields[name] = trace[name]
    if not any(shared.values()):
        return
    for values in events:
        found = shared.get(values["trace_id"])
        if not found:
            continue
        trace = values["trace"] or {}
        if any(name not in trace for name in found):
            values["trace"] = found | trace


def convert_request(
    request: ExportTraceServiceRequest,
    *,
    project: str,
    default_environment: str = "development",
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    fast: bool = True,
) -> Conversion:
    """Every span of ``request`` as an event record, or a DLQ record saying why not.

    Never raises: whatever goes wrong with one span rejects that span only.

    Args:
        project: the tenant every event belongs to.
        default_environment: when the resource names no deployment environment.
        max_event_bytes: the largest event accepted (the worker's limit).
        fast: write events with :func:`event_json` where it can vouch for them;
            False takes the pydantic path for every span (the same records,
            slower: the reference the fast path is tested against).
    """
    built: list[tuple[Any, dict[str, Any] | Exception]] = []
    for resource_spans in request.resource_spans:
        attrs = decode_attributes(resource_spans.resource.attributes)
        context = resource_context(attrs, default_environment)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_attributes(scope_spans.scope.name, scope_spans.scope.version)
            for span in scope_spans.spans:
                values: dict[str, Any] | Exception
                try:
                    values = span_event(
                        span_input(span), project=project, context=context, scope=scope
                    )
                except Exception as exc:  # noqa: BLE001 - one bad span must not fail the batch
                    values = exc
                built.append(((resource_spans, scope_spans, span), values))
    return finish_conversion(built, dead_letter, max_event_bytes=max_event_bytes, fast=fast)


def finish_conversion(
    built: list[tuple[Any, dict[str, Any] | Exception]],
    letter: Callable[..., OutRecord],
    *,
    max_event_bytes: int,
    fast: bool,
) -> Conversion:
    """Each span's event record, or its dead letter from ``letter(source, reason, exc, ...)``.

    Args:
        built: per span, in request order, what :func:`letter` needs to write its
            dead letter and its event dict (or why none could be made).
    """
    share_trace_fields([values for _, values in built if isinstance(values, dict)])
    records: list[OutRecord] = []
    rejected = 0
    reasons: dict[str, str] = {}
    for source, values in built:
        reason = "schema"
        try:
            if isinstance(values, Exception):
                raise values
            value = (fast and event_json(values)) or plain_event_json(values)
            if len(value) > max_event_bytes:
                reason = "too_large"
                raise ValueError(
                    f"event of {len(value)} bytes is over the limit of {max_event_bytes}"
                )
        except Exception as exc:  # noqa: BLE001 - one bad span must not fail the batch
            if not isinstance(exc, ValidationError | ValueError):
                reason = "processing_error"
            rejected += 1
            reasons.setdefault(reason, _first_line(exc))
            records.append(letter(source, reason, exc, max_event_bytes=max_event_bytes))
            continue
        records.append(
            OutRecord(key=values["trace_id"].encode(), value=value, headers=EVENT_HEADERS)
        )
    messages = tuple(f"{reason}: {text}" for reason, text in reasons.items())
    return Conversion(records=records, rejected=rejected, messages=messages)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    if isinstance(exc, ValidationError):
        # "1 validation error for SpanEvent\ntrace_id\n  must not be all zeros ..." -> one line
        return " ".join(line.strip() for line in lines[1:3])[:300]
    return (lines[0] if lines else type(exc).__name__)[:300]
