"""Facts of the event contract the redactor's event walk needs, derived from it.

Which groups of fields each event class has, the longest string each redacted
field may hold (read from the models, not restated), shared ``Redaction``
records, and a fast copy of a model with some fields replaced.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple, TypeVar

from pydantic import BaseModel, TypeAdapter

from tracestream.schemas import (
    Decision,
    ErrorInfo,
    ModelInfo,
    Outcome,
    Redaction,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanStartEvent,
    ToolCall,
    TraceInfo,
)

__all__ = [
    "LIMITS",
    "SCORE",
    "SHAPES",
    "TRACE_FIELDS",
    "Closing",
    "Limits",
    "Opening",
    "Shape",
    "SpanLike",
    "redaction_records",
    "replaced",
    "shape_of",
]

M = TypeVar("M", bound=BaseModel)

SpanLike = SpanStartEvent | SpanEndEvent | SpanEvent
Opening = SpanStartEvent | SpanEvent
Closing = SpanEndEvent | SpanEvent


class Shape(NamedTuple):
    """Which groups of redactable fields an event class has."""

    opening: bool  # input, tool
    closing: bool  # output, error, outcome, decisions, redactions


SCORE = Shape(False, False)
# By exact class: a dict lookup instead of isinstance checks through pydantic's
# metaclass on every event; subclasses are classified once by _shape.
SHAPES: dict[type, Shape] = {
    ScoreEvent: SCORE,
    SpanStartEvent: Shape(True, False),
    SpanEndEvent: Shape(False, True),
    SpanEvent: Shape(True, True),
}


def _max_length(model: type[BaseModel], field: str) -> int:
    """The ``maxLength`` of string field ``field`` of ``model`` (of its items, for a
    tuple), read from the field's JSON Schema: the contract is the one source of these
    limits. (Per field: the schema of a whole event costs ~30 ms to build.)"""
    info = model.model_fields[field]
    annotated: Any = (
        Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    )
    prop: dict[str, Any] = TypeAdapter(annotated).json_schema()
    for option in prop.get("anyOf", (prop,)):
        item = option.get("items", option)
        if item.get("type") == "string" and "maxLength" in item:
            return int(item["maxLength"])
    raise LookupError(f"{model.__name__}.{field} has no string length limit")


class Limits(NamedTuple):
    """Longest string each redacted field may hold; a longer replacement is cut."""

    span_name: int
    trace_name: int
    user_id: int
    session_id: int
    release: int
    tag: int
    model_name: int
    provider: int
    tool_name: int
    call_id: int
    error_type: int
    message: int
    stack: int
    outcome_label: int
    decision_name: int
    reason: int
    score_name: int
    score_value: int
    comment: int
    path: int  # a Redaction's detector and field


LIMITS = Limits(
    span_name=_max_length(SpanStartEvent, "name"),
    trace_name=_max_length(TraceInfo, "name"),
    user_id=_max_length(TraceInfo, "user_id"),
    session_id=_max_length(TraceInfo, "session_id"),
    release=_max_length(TraceInfo, "release"),
    tag=_max_length(TraceInfo, "tags"),
    model_name=_max_length(ModelInfo, "name"),
    provider=_max_length(ModelInfo, "provider"),
    tool_name=_max_length(ToolCall, "name"),
    call_id=_max_length(ToolCall, "call_id"),
    error_type=_max_length(ErrorInfo, "type"),
    message=_max_length(ErrorInfo, "message"),
    stack=_max_length(ErrorInfo, "stack"),
    outcome_label=_max_length(Outcome, "label"),
    decision_name=_max_length(Decision, "name"),
    reason=_max_length(Decision, "reason"),
    score_name=_max_length(ScoreEvent, "name"),
    # A categorical value is held to a label's 1..256 by ScoreEvent's validator, which
    # the JSON Schema does not show; the test of these limits validates the result.
    score_value=_max_length(ScoreEvent, "name"),
    comment=_max_length(ScoreEvent, "comment"),
    path=min(_max_length(Redaction, "detector"), _max_length(Redaction, "field")),
)
# (field, path in redactions, limit, is an id) of the trace fields holding one string.
TRACE_FIELDS = (
    ("name", "trace.name", LIMITS.trace_name, False),
    ("user_id", "trace.user_id", LIMITS.user_id, True),
    ("session_id", "trace.session_id", LIMITS.session_id, True),
    ("release", "trace.release", LIMITS.release, False),
)


def shape_of(cls: type) -> Shape:
    """The shape of an event class not in ``SHAPES`` (a subclass), remembered there."""
    for base, shape in list(SHAPES.items()):
        if issubclass(cls, base):
            SHAPES[cls] = shape
            return shape
    raise TypeError(f"not an event: {cls.__name__}")


# Redaction records are immutable and few distinct ones occur (a detector and a field
# path), so equal ones are shared instead of validated again; the memo is bounded
# because paths include producers' attribute keys.
_RECORDS: dict[tuple[str, str, int], Redaction] = {}
_RECORDS_MAX = 8192


def redaction_records(counts: dict[tuple[str, str], int]) -> list[Redaction]:
    """One shared record per (detector, field path) counted, in the order counted."""
    records = _RECORDS
    out: list[Redaction] = []
    for (detector, path), count in counts.items():
        key = (detector, path, count)
        record = records.get(key)
        if record is None:
            record = Redaction(detector=detector, field=path[: LIMITS.path], count=count)
            if len(records) < _RECORDS_MAX:
                records[key] = record
        out.append(record)
    return out


_setattr = object.__setattr__
_new = object.__new__
_PLAIN: dict[type, bool] = {}


def replaced(model: M, update: dict[str, object]) -> M:
    """``model.model_copy(update=update)`` without its generic copying, for models
    without private attributes or extra fields (every event model)."""
    cls = type(model)
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = _PLAIN[cls] = not cls.__private_attributes__ and (
            cls.model_config.get("extra") != "allow"
        )
    if not plain:
        return model.model_copy(update=update)
    new = _new(cls)
    _setattr(new, "__dict__", {**model.__dict__, **update})
    fields_set = model.__pydantic_fields_set__
    # Holding every field, it cannot grow: keep it (a constructed model's is shared,
    # see schemas/_construct.py); else the copy gets a set of its own.
    if len(fields_set) != len(cls.__pydantic_fields__):
        fields_set = fields_set | update.keys()
    _setattr(new, "__pydantic_fields_set__", fields_set)
    _setattr(new, "__pydantic_extra__", None)
    _setattr(new, "__pydantic_private__", None)
    return new
