"""Building blocks of the event contract: ids, enums and small value models.

All models are frozen pydantic v2 models with ``extra="forbid"``: a producer
that misspells a field hears about it (its event goes to the DLQ with the field
named) instead of losing the value silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)

__all__ = [
    "SCHEMA_VERSION",
    "Decision",
    "ErrorInfo",
    "EventId",
    "ModelInfo",
    "Outcome",
    "Redaction",
    "Resources",
    "ScoreSource",
    "SpanId",
    "SpanKind",
    "SpanStatus",
    "ToolCall",
    "TraceId",
    "TraceInfo",
    "Usage",
    "UtcDatetime",
    "WireModel",
    "utc_now",
]

#: Major version of the wire contract. See ``schemas/EVOLUTION.md`` for the rule.
SCHEMA_VERSION = 1


class WireModel(BaseModel):
    """Base of every contract model: strict about unknown fields, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_max_length=1_000_000,
        use_enum_values=False,
        ser_json_timedelta="float",
    )


def _not_all_zero(value: str) -> str:
    # OpenTelemetry reserves the all-zero ids as "invalid".
    if value.count("0") == len(value):
        raise ValueError("must not be all zeros (the OpenTelemetry invalid id)")
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (UTC, e.g. 2026-11-24T07:30:00.123456Z)")
    return value.astimezone(UTC)


#: 32 lower-case hex digits, OpenTelemetry-compatible.
TraceId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{32}$"),
    AfterValidator(_not_all_zero),
    Field(description="32 lower-case hex digits (OpenTelemetry trace id)"),
]
#: 16 lower-case hex digits, OpenTelemetry-compatible.
SpanId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{16}$"),
    AfterValidator(_not_all_zero),
    Field(description="16 lower-case hex digits (OpenTelemetry span id)"),
]
#: A UUIDv7 in canonical lower-case form: unique, time-ordered, the idempotency key.
EventId = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    ),
    Field(description="UUIDv7, canonical lower-case form"),
]
#: A timezone-aware instant, normalised to UTC (microsecond precision).
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]

Name = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class SpanKind(StrEnum):
    """What a span is. Maps onto OpenTelemetry GenAI operation names."""

    WORKFLOW = "workflow"
    AGENT = "agent"
    STEP = "step"
    GENERATION = "generation"
    TOOL = "tool"
    RETRIEVAL = "retrieval"
    REASONING = "reasoning"
    EVENT = "event"


class SpanStatus(StrEnum):
    """How a span ended. ``unfinished`` is set by the worker, never by producers."""

    UNSET = "unset"
    OK = "ok"
    ERROR = "error"
    UNFINISHED = "unfinished"


class ScoreSource(StrEnum):
    """Who made a judgement."""

    HUMAN = "human"
    EVALUATOR = "evaluator"
    HEURISTIC = "heuristic"
    API = "api"


class TraceInfo(WireModel):
    """Trace-level attributes, carried on every event of a trace so storage needs no join."""

    name: Name | None = None
    session_id: Label | None = None
    user_id: Label | None = None
    tags: tuple[Label, ...] = Field(default=(), max_length=64)
    release: Label | None = None


class ModelInfo(WireModel):
    """The model a generation called (``gen_ai.request.model``, ``gen_ai.system``)."""

    name: Label
    provider: Label | None = None
    parameters: dict[str, JsonValue] = Field(
        default_factory=dict, description="temperature, max_tokens, top_p, ..."
    )


class Usage(WireModel):
    """Tokens by kind. Each kind is counted once: ``input_tokens`` excludes cached and
    cache-write tokens, ``output_tokens`` excludes reasoning tokens."""

    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cached_tokens: int = Field(0, ge=0, description="input tokens read from the provider's cache")
    cache_write_tokens: int = Field(0, ge=0, description="input tokens written to the cache")
    reasoning_tokens: int = Field(0, ge=0)

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cached_tokens
            + self.cache_write_tokens
            + self.reasoning_tokens
        )


class ErrorInfo(WireModel):
    """An error with its type, message and stack."""

    type: Label
    message: str = Field("", max_length=65_536)
    stack: str | None = Field(None, max_length=262_144)


class ToolCall(WireModel):
    """A tool invocation: what was asked and what came back."""

    name: Label
    call_id: Label | None = None
    arguments: JsonValue = None
    result: JsonValue = None


class Decision(WireModel):
    """A process decision: which option was chosen and why."""

    name: Label
    choice: JsonValue
    reason: str | None = Field(None, max_length=65_536)


class Outcome(WireModel):
    """The final result of a span or workflow."""

    label: Label
    success: bool | None = None
    detail: JsonValue = None


class Resources(WireModel):
    """Resource usage where known."""

    cpu_time_s: float | None = Field(None, ge=0)
    memory_bytes: int | None = Field(None, ge=0)


class Redaction(WireModel):
    """What the worker redacted: detector and field path, never the value."""

    detector: Label
    field: Label
    count: int = Field(1, ge=1)


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def _json_depth(value: Any, limit: int) -> int:
    """Depth of nested containers in a parsed JSON value, stopping past ``limit``."""
    depth = 0
    level: list[Any] = [value]
    while level:
        containers = [v for v in level if isinstance(v, dict | list)]
        if not containers:
            break
        depth += 1
        if depth > limit:
            break
        level = []
        for c in containers:
            level.extend(c.values() if isinstance(c, dict) else c)
    return depth
