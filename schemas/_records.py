"""What the worker publishes downstream: the contract between ``streams/`` and ``sinks/``.

These are the payloads of ``tracestream.spans``, ``tracestream.traces``,
``tracestream.metrics`` and ``tracestream.anomalies`` (``tracestream.scores``
carries :class:`~tracestream.schemas.ScoreEvent` as is). Each record is one
row of its ClickHouse table; ``version`` lets a ReplacingMergeTree keep the
newest when the worker re-emits (late spans, replays).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from ._common import (
    Decision,
    ErrorInfo,
    Label,
    ModelInfo,
    Name,
    Outcome,
    Redaction,
    Resources,
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
    "AnomalyRecord",
    "Cost",
    "MetricWindow",
    "SpanRecord",
    "TimelineEntry",
    "TraceRecord",
    "TraceStatus",
]

TraceStatus = Literal["ok", "error", "incomplete", "unfinished"]


class Cost(WireModel):
    """USD cost of a generation, priced per usage type so nothing is counted twice."""

    input_usd: float = Field(0.0, ge=0)
    output_usd: float = Field(0.0, ge=0)
    cached_usd: float = Field(0.0, ge=0)
    cache_write_usd: float = Field(0.0, ge=0)
    reasoning_usd: float = Field(0.0, ge=0)
    total_usd: float = Field(0.0, ge=0)
    price_source: Label = Field("genai-prices", description="genai-prices, override:<name>, ...")


class SpanRecord(WireModel):
    """One span after validation, redaction and pricing: start and end merged."""

    project: Label
    service: Label
    environment: Label
    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    trace: TraceInfo = TraceInfo()
    kind: SpanKind
    name: Name
    status: SpanStatus
    start_time: UtcDatetime
    end_time: UtcDatetime | None = None
    duration_ms: float | None = Field(None, ge=0)
    input: JsonValue = None
    output: JsonValue = None
    model: ModelInfo | None = None
    tool: ToolCall | None = None
    usage: Usage | None = None
    cost: Cost | None = Field(
        None, description="None when not a generation or the model is unknown"
    )
    error: ErrorInfo | None = None
    outcome: Outcome | None = None
    decisions: tuple[Decision, ...] = ()
    resources: Resources | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    redactions: tuple[Redaction, ...] = ()
    event_ids: tuple[str, ...] = Field((), description="Source event ids (start, end)")
    version: int = Field(1, ge=1)
    processed_at: UtcDatetime


class TimelineEntry(WireModel):
    """One span on a trace's timeline, offsets from the trace start."""

    span_id: SpanId
    parent_span_id: SpanId | None = None
    name: Name
    kind: SpanKind
    status: SpanStatus
    start_offset_ms: float
    end_offset_ms: float | None = None
    depth: int = Field(ge=0)


class TraceRecord(WireModel):
    """An assembled trace with its aggregates."""

    project: Label
    trace_id: TraceId
    environment: Label
    services: tuple[Label, ...]
    trace: TraceInfo = TraceInfo()
    root_span_id: SpanId | None = None
    name: Name | None = None
    status: TraceStatus
    start_time: UtcDatetime
    end_time: UtcDatetime | None = None
    duration_ms: float | None = Field(None, ge=0)
    span_count: int = Field(ge=0)
    depth: int = Field(ge=0)
    usage: Usage = Usage()
    cost_usd: float | None = Field(
        None, ge=0, description="None when no generation could be priced"
    )
    cost: Cost | None = None
    unpriced_generations: int = Field(0, ge=0)
    error_count: int = Field(0, ge=0)
    tool_call_count: int = Field(0, ge=0)
    models: tuple[Label, ...] = ()
    input: JsonValue = None
    output: JsonValue = None
    timeline: tuple[TimelineEntry, ...] = ()
    orphan_span_count: int = Field(0, ge=0)
    dropped_span_count: int = Field(0, ge=0, description="Spans beyond the per-trace cap")
    version: int = Field(1, ge=1)
    emitted_at: UtcDatetime


class MetricWindow(WireModel):
    """One closed tumbling window of rolling metrics."""

    project: Label
    service: Label
    model: str = Field("", max_length=256, description="Empty for spans without a model")
    kind: SpanKind
    name: Name
    window_start: UtcDatetime
    window_end: UtcDatetime
    count: int = Field(ge=0)
    error_count: int = Field(ge=0)
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cached_tokens: int = Field(0, ge=0)
    reasoning_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_sketch: str | None = Field(None, description="Serialized mergeable sketch (base64)")
    emitted_at: UtcDatetime


class AnomalyRecord(WireModel):
    """A window whose metric is far from its recent baseline."""

    project: Label
    service: Label
    model: str = Field("", max_length=256)
    kind: SpanKind
    name: Name
    metric: Literal["latency_p95_ms", "error_rate", "cost_usd", "token_rate"]
    window_start: UtcDatetime
    window_end: UtcDatetime
    value: float
    baseline: float
    scale: float = Field(ge=0, description="Robust spread of the baseline (scaled MAD)")
    score: float = Field(description="Robust z-score: (value - baseline) / scale")
    threshold: float
    direction: Literal["high", "low"]
    severity: Literal["warning", "critical"] = Field(
        "warning", description="critical when |score| is at least twice the threshold"
    )
    detected_at: UtcDatetime
