"""The wire contract of tracestream: event models, downstream records, topic names."""

from ._common import (
    SCHEMA_VERSION,
    Decision,
    ErrorInfo,
    ModelInfo,
    Outcome,
    Redaction,
    Resources,
    ScoreSource,
    SpanKind,
    SpanStatus,
    ToolCall,
    TraceInfo,
    Usage,
    UtcDatetime,
    utc_now,
)
from ._construct import construct, construct_from
from ._errors import TracestreamError
from ._events import (
    EVENT_ADAPTER,
    Envelope,
    Event,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanStartEvent,
)
from ._exact import exact
from ._jsonschema import SCHEMA_FILE, event_json_schema, render_event_json_schema
from ._otel import GENAI_OPERATION, from_genai_usage, to_genai_attributes
from ._parse import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_EVENT_BYTES,
    EventParser,
    InvalidEvent,
    InvalidReason,
)
from ._records import (
    AnomalyRecord,
    Cost,
    MetricWindow,
    SpanRecord,
    TimelineEntry,
    TraceRecord,
    TraceStatus,
)
from ._topics import Topics

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_EVENT_BYTES",
    "EVENT_ADAPTER",
    "GENAI_OPERATION",
    "SCHEMA_FILE",
    "SCHEMA_VERSION",
    "AnomalyRecord",
    "Cost",
    "Decision",
    "Envelope",
    "ErrorInfo",
    "Event",
    "EventParser",
    "InvalidEvent",
    "InvalidReason",
    "MetricWindow",
    "ModelInfo",
    "Outcome",
    "Redaction",
    "Resources",
    "ScoreEvent",
    "ScoreSource",
    "SpanEndEvent",
    "SpanEvent",
    "SpanKind",
    "SpanRecord",
    "SpanStartEvent",
    "SpanStatus",
    "TimelineEntry",
    "ToolCall",
    "Topics",
    "TraceInfo",
    "TraceRecord",
    "TraceStatus",
    "TracestreamError",
    "Usage",
    "UtcDatetime",
    "construct",
    "construct_from",
    "event_json_schema",
    "exact",
    "from_genai_usage",
    "render_event_json_schema",
    "to_genai_attributes",
    "utc_now",
]
