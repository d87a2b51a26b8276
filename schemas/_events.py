"""The trace events services emit: the wire contract of ``tracestream.events``.

Four event types share one envelope and are told apart by ``event_type``:

- ``span.start``: a span began (what went in);
- ``span.end``: it ended (what came out, usage, errors);
- ``span``: start and end in one event, the common case for short spans;
- ``score``: a named judgement on a trace or one of its spans.

Field names follow the OpenTelemetry GenAI semantic conventions where one
exists (see ``schemas/_otel.py`` for the mapping).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue, TypeAdapter, model_validator

from ._common import (
    Decision,
    ErrorInfo,
    EventId,
    Label,
    ModelInfo,
    Name,
    Outcome,
    Redaction,
    Resources,
    ScoreSource,
    SpanId,
    SpanKind,
    SpanStatus,
    ToolCall,
    TraceId,
    TraceInfo,
    Usage,
    UtcDatetime,
    WireModel,
)

__all__ = [
    "EVENT_ADAPTER",
    "Envelope",
    "Event",
    "ScoreEvent",
    "SpanEndEvent",
    "SpanEvent",
    "SpanStartEvent",
]


class Envelope(WireModel):
    """Fields on every event."""

    schema_version: Literal[1] = Field(
        1, description="Major version of the contract; see schemas/EVOLUTION.md"
    )
    event_id: EventId
    project: Label
    service: Label
    environment: Label = "development"
    trace_id: TraceId
    timestamp: UtcDatetime = Field(description="When the event was created (UTC, microseconds)")
    trace: TraceInfo | None = Field(
        None, description="Trace-level attributes, repeated on every event"
    )


class _SpanIdentity(Envelope):
    span_id: SpanId
    parent_span_id: SpanId | None = None


class _SpanOpening(WireModel):
    """What is known when a span starts."""

    kind: SpanKind
    name: Name
    start_time: UtcDatetime
    input: JsonValue = None
    model: ModelInfo | None = None
    tool: ToolCall | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class _SpanClosing(WireModel):
    """What is known when a span ends."""

    end_time: UtcDatetime
    status: SpanStatus = SpanStatus.UNSET
    output: JsonValue = None
    usage: Usage | None = None
    error: ErrorInfo | None = None
    outcome: Outcome | None = None
    decisions: tuple[Decision, ...] = ()
    resources: Resources | None = None
    redactions: tuple[Redaction, ...] = Field(
        (), description="Filled in by the worker; producers leave it empty"
    )

    @model_validator(mode="after")
    def _producers_do_not_set_unfinished(self) -> _SpanClosing:
        if self.status is SpanStatus.UNFINISHED:
            raise ValueError(
                "status 'unfinished' is set by the worker; a span that ended is ok, error or unset"
            )
        return self


class SpanStartEvent(_SpanIdentity, _SpanOpening):
    """A span began."""

    event_type: Literal["span.start"]


class SpanEndEvent(_SpanIdentity, _SpanClosing):
    """A span ended. Matched to its ``span.start`` by (trace_id, span_id)."""

    event_type: Literal["span.end"]
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class SpanEvent(_SpanIdentity, _SpanOpening, _SpanClosing):
    """A whole span in one event."""

    event_type: Literal["span"]

    @model_validator(mode="after")
    def _ends_after_start(self) -> SpanEvent:
        if self.end_time < self.start_time:
            raise ValueError("end_time is before start_time")
        return self


class ScoreEvent(Envelope):
    """A named judgement on a trace, or on one span of it when ``span_id`` is set."""

    event_type: Literal["score"]
    span_id: SpanId | None = Field(None, description="The scored span; absent for the whole trace")
    name: Label
    value: float | bool | str = Field(description="Numeric, boolean or categorical")
    source: ScoreSource = ScoreSource.API
    comment: str | None = Field(None, max_length=65_536)

    @model_validator(mode="after")
    def _finite(self) -> ScoreEvent:
        if isinstance(self.value, float) and self.value != self.value:
            raise ValueError("value must not be NaN")
        if isinstance(self.value, str) and not 0 < len(self.value) <= 256:
            raise ValueError("categorical value must be 1 to 256 characters")
        return self


Event = Annotated[
    SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent,
    Field(discriminator="event_type"),
]

#: One adapter over the discriminated union: bytes or dicts in, a model out.
EVENT_ADAPTER: TypeAdapter[SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent] = TypeAdapter(
    Event
)
