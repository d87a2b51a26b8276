"""A faster, stricter twin of the event validation, built on msgspec (the ``pipeline`` extra).

:class:`~._parse.EventParser` tries :func:`fast_validate` first and falls back to
the pydantic path whenever it answers ``None``. The contract stays defined by the
pydantic models in ``_events.py``/``_common.py``; the Structs here mirror them
field by field (same names, patterns, length and ``ge`` bounds, enums, tags,
``forbid_unknown_fields`` for ``extra="forbid"``) and, where a rule is awkward to
mirror exactly, are *stricter*. So the only promise this module keeps is:

- it never accepts a value the pydantic path rejects;
- what it accepts becomes the very model instances pydantic would build: equal
  field values of the same types, UTC datetimes with ``tzinfo`` ``datetime.UTC``,
  the StrEnum members, tuples, the same JSON bytes. One difference:
  ``__pydantic_fields_set__`` holds every field, not only those the producer sent
  (exactness cost 1-1.5 µs per event, and nothing here serializes with
  ``exclude_unset``).

It decodes the raw bytes (validating the values orjson would decode, with
``msgspec.convert``, cost more than the pydantic path). Where the two JSON
readers differ (integers past 64 bits, which orjson reads as floats; fractions of
a second past microseconds, which msgspec rounds and pydantic truncates) a byte
scan sends the event the pydantic way. Measured on the demo workload: 7.1 µs per
event against 8.3 µs for the pydantic path (about 2.4 µs decoding, 2.6 µs
building the pydantic objects, which is what keeps the gain small).

This module imports msgspec at import time; ``_parse`` imports it lazily and
guarded, so the bare SDK install (no msgspec) keeps the pydantic path only.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeAlias, cast

import msgspec
from msgspec import Meta, Struct
from msgspec.structs import asdict
from pydantic import BaseModel

from ._common import (
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
)
from ._construct import construct_from
from ._events import ScoreEvent, SpanEndEvent, SpanEvent, SpanStartEvent

__all__ = ["MIRRORS", "fast_validate"]

# Patterns end in \Z, not $: msgspec matches with Python's re, where "$" also
# matches before a final newline; pydantic's (Rust) regex does not. The look-ahead
# is the all-zero check of ``_not_all_zero``.
_TraceId = Annotated[str, Meta(pattern=r"^(?!0{32}\Z)[0-9a-f]{32}\Z")]
_SpanId = Annotated[str, Meta(pattern=r"^(?!0{16}\Z)[0-9a-f]{16}\Z")]
_EventId = Annotated[
    str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
]
_Name = Annotated[str, Meta(min_length=1, max_length=512)]
_Label = Annotated[str, Meta(min_length=1, max_length=256)]
# tz=True: a naive timestamp is rejected here as ``_as_utc`` rejects it there.
_Time = Annotated[datetime, Meta(tz=True)]
# A count is an int64 (the widest bound msgspec takes): orjson turns integers past
# 64 bits into floats, which pydantic may still accept as ints: those go the slow way.
_Count = Annotated[int, Meta(ge=0, le=2**63 - 1)]
# JsonValue: orjson already produced only JSON types, so nothing to check.
_Json: TypeAlias = Any


class _Mirror(Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    """Base of the mirrors. ``gc=False``: values decoded from JSON hold no cycles."""


class _TraceInfo(Struct, kw_only=True, forbid_unknown_fields=True, gc=False, frozen=True):
    # A _Mirror, but frozen, so hashable: equal trace infos share one model (see
    # _trace_info). Not a subclass: a frozen Struct cannot extend a mutable one.
    name: _Name | None = None
    session_id: _Label | None = None
    user_id: _Label | None = None
    tags: Annotated[tuple[_Label, ...], Meta(max_length=64)] = ()
    release: _Label | None = None


class _ModelInfo(_Mirror, kw_only=True):
    name: _Label
    provider: _Label | None = None
    parameters: dict[str, _Json] = {}


class _Usage(_Mirror, kw_only=True):
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cached_tokens: _Count = 0
    cache_write_tokens: _Count = 0
    reasoning_tokens: _Count = 0


class _ErrorInfo(_Mirror, kw_only=True):
    type: _Label
    message: Annotated[str, Meta(max_length=65_536)] = ""
    stack: Annotated[str, Meta(max_length=262_144)] | None = None


class _ToolCall(_Mirror, kw_only=True):
    name: _Label
    call_id: _Label | None = None
    arguments: _Json = None
    result: _Json = None


class _Decision(_Mirror, kw_only=True):
    name: _Label
    choice: _Json
    reason: Annotated[str, Meta(max_length=65_536)] | None = None


class _Outcome(_Mirror, kw_only=True):
    label: _Label
    success: bool | None = None
    detail: _Json = None


class _Resources(_Mirror, kw_only=True):
    cpu_time_s: Annotated[float, Meta(ge=0)] | None = None
    memory_bytes: _Count | None = None


class _Redaction(_Mirror, kw_only=True):
    detector: _Label
    field: _Label
    count: Annotated[int, Meta(ge=1, le=2**63 - 1)] = 1


# The event mirrors list their fields in the models' order, without inheritance
# (pydantic's field order is not a Struct's base-first order): a model's JSON keys
# follow its ``__dict__`` order, which the builders take from the Struct.
# ``event_type`` is the msgspec tag, so not a field.


class _SpanStart(_Mirror, kw_only=True, tag_field="event_type", tag="span.start"):
    kind: SpanKind
    name: _Name
    start_time: _Time
    input: _Json = None
    model: _ModelInfo | None = None
    tool: _ToolCall | None = None
    attributes: dict[str, _Json] = {}
    schema_version: Literal[1] = 1
    event_id: _EventId
    project: _Label
    service: _Label
    environment: _Label = "development"
    trace_id: _TraceId
    timestamp: _Time
    trace: _TraceInfo | None = None
    span_id: _SpanId
    parent_span_id: _SpanId | None = None


class _SpanEnd(_Mirror, kw_only=True, tag_field="event_type", tag="span.end"):
    end_time: _Time
    status: SpanStatus = SpanStatus.UNSET
    output: _Json = None
    usage: _Usage | None = None
    error: _ErrorInfo | None = None
    outcome: _Outcome | None = None
    decisions: tuple[_Decision, ...] = ()
    resources: _Resources | None = None
    redactions: tuple[_Redaction, ...] = ()
    schema_version: Literal[1] = 1
    event_id: _EventId
    project: _Label
    service: _Label
    environment: _Label = "development"
    trace_id: _TraceId
    timestamp: _Time
    trace: _TraceInfo | None = None
    span_id: _SpanId
    parent_span_id: _SpanId | None = None
    attributes: dict[str, _Json] = {}


class _Span(_Mirror, kw_only=True, tag_field="event_type", tag="span"):
    end_time: _Time
    status: SpanStatus = SpanStatus.UNSET
    output: _Json = None
    usage: _Usage | None = None
    error: _ErrorInfo | None = None
    outcome: _Outcome | None = None
    decisions: tuple[_Decision, ...] = ()
    resources: _Resources | None = None
    redactions: tuple[_Redaction, ...] = ()
    kind: SpanKind
    name: _Name
    start_time: _Time
    input: _Json = None
    model: _ModelInfo | None = None
    tool: _ToolCall | None = None
    attributes: dict[str, _Json] = {}
    schema_version: Literal[1] = 1
    event_id: _EventId
    project: _Label
    service: _Label
    environment: _Label = "development"
    trace_id: _TraceId
    timestamp: _Time
    trace: _TraceInfo | None = None
    span_id: _SpanId
    parent_span_id: _SpanId | None = None


class _Score(_Mirror, kw_only=True, tag_field="event_type", tag="score"):
    schema_version: Literal[1] = 1
    event_id: _EventId
    project: _Label
    service: _Label
    environment: _Label = "development"
    trace_id: _TraceId
    timestamp: _Time
    trace: _TraceInfo | None = None
    span_id: _SpanId | None = None
    name: _Label
    # msgspec turns a JSON integer into a float here, as pydantic's smart union does.
    value: float | bool | _Label
    source: ScoreSource = ScoreSource.API
    comment: Annotated[str, Meta(max_length=65_536)] | None = None


_AnyEvent: TypeAlias = _SpanStart | _SpanEnd | _Span | _Score

#: Each mirror Struct and the pydantic model it stands for.
MIRRORS: dict[type[Struct], type[BaseModel]] = {
    _TraceInfo: TraceInfo,
    _ModelInfo: ModelInfo,
    _Usage: Usage,
    _ErrorInfo: ErrorInfo,
    _ToolCall: ToolCall,
    _Decision: Decision,
    _Outcome: Outcome,
    _Resources: Resources,
    _Redaction: Redaction,
    _SpanStart: SpanStartEvent,
    _SpanEnd: SpanEndEvent,
    _Span: SpanEvent,
    _Score: ScoreEvent,
}


def _check_mirrors() -> dict[type[Struct], tuple[type[BaseModel], frozenset[str]]]:
    """Each mirror's model and field names; raises if a mirror lost step with its model.

    Run once at import: a field added to a model and not to its mirror must fail
    loudly here, not vanish on the fast path.
    """
    found = {}
    for mirror, model in MIRRORS.items():
        names = tuple(model.__pydantic_fields__)
        # The builders take ``asdict`` as the model's ``__dict__``, whose order is
        # the order of the model's JSON keys: so the mirror's fields must be the
        # model's, in its order (the msgspec tag ``event_type`` aside).
        if mirror.__struct_fields__ != tuple(n for n in names if n != "event_type"):
            raise TypeError(f"{mirror.__name__} does not mirror {model.__name__}")
        if model.__private_attributes__:
            raise TypeError(f"{model.__name__} has private attributes; _model does not set them")
        found[mirror] = (model, frozenset(names))
    return found


_MODELS = _check_mirrors()
_DECODER = msgspec.json.Decoder(_AnyEvent)
_intern = sys.intern

# Every digit read as "0", so one translate and two substring searches find the two
# number forms where msgspec and the orjson+pydantic path disagree:
# - a run of 19+ digits: orjson turns an integer past 64 bits into a float, msgspec
#   keeps the int (in a JsonValue both are valid, and unequal);
# - "." and 7+ digits: pydantic truncates a timestamp's fraction to microseconds,
#   msgspec rounds it.
# Both are rare in real events; any float or string that looks like them merely
# takes the slow path.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else b for b in range(256))
_LONG_DIGIT_RUN = b"0" * 19
_LONG_FRACTION = b".0000000"


def fast_validate(data: bytes) -> SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent | None:
    """The event in ``data`` if the fast path can vouch for it, else ``None``.

    ``None`` says nothing about validity: the caller must then take the pydantic
    path, which gives the verdict (and the reason). The caller must also have
    checked that ``data`` is at most 1,000,000 bytes (pydantic's ``str_max_length``
    cannot be exceeded then) and has no more "{"/"[" than its depth limit.
    Never raises.
    """
    try:
        struct = _DECODER.decode(data)
    except (msgspec.MsgspecError, ValueError):
        # ValueError: msgspec lets a UnicodeDecodeError through for invalid UTF-8.
        return None
    scanned = data.translate(_DIGITS_AS_ZERO)
    if _LONG_DIGIT_RUN in scanned or _LONG_FRACTION in scanned:
        return None
    try:
        if type(struct) is _Span:
            return _span(struct)
        if type(struct) is _SpanStart:
            return _span_start(struct)
        if type(struct) is _SpanEnd:
            return _span_end(struct)
        # Only _Score is left; mypy 2.x does not narrow a union by `type(x) is` misses
        # (a subclass could pass them), and isinstance would cost a check per event.
        return _score(cast(_Score, struct))
    except (ValueError, OverflowError):
        # astimezone past year 1 or 9999, a rule the mirror cannot state: pydantic's
        # path answers (OverflowError there too, for the former).
        return None


def _leaf(struct: Struct) -> Any:
    # A nested mirror has no nested models nor datetimes: its values are final.
    return construct_from(_MODELS[type(struct)][0], asdict(struct))


def _opt(struct: Struct | None) -> Any:
    return None if struct is None else _leaf(struct)


#: TraceInfo models by their mirror. Every event of a trace repeats its trace info:
#: one shared (frozen) model instead of one per event saves building it, and the
#: memory of a copy per event of every open trace. Cleared when full (a bound,
#: not an LRU: a miss only costs a build).
_TRACE_INFOS: dict[_TraceInfo, TraceInfo] = {}
_TRACE_INFOS_MAX = 10_000


def _trace_info(struct: _TraceInfo) -> TraceInfo:
    found = _TRACE_INFOS.get(struct)
    if found is None:
        if len(_TRACE_INFOS) >= _TRACE_INFOS_MAX:
            _TRACE_INFOS.clear()
        found = _TRACE_INFOS[struct] = _leaf(struct)
    return found


def _utc(value: datetime) -> datetime:
    # msgspec gives datetime.UTC itself for "Z", "+00:00" and "-00:00"; any other
    # offset is converted as ``_as_utc`` converts it.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _envelope(s: _AnyEvent, values: dict[str, Any]) -> None:
    values["timestamp"] = _utc(s.timestamp)
    if s.trace is not None:
        values["trace"] = _trace_info(s.trace)
    # Repeated on every event (the ids on every event of a trace): the worker holds
    # the events of open traces, and one shared string instead of a copy per event
    # saves ~300 B of each. Interned strings are freed with their last holder.
    values["project"] = _intern(s.project)
    values["service"] = _intern(s.service)
    values["environment"] = _intern(s.environment)
    values["trace_id"] = _intern(s.trace_id)


def _opening(s: _SpanStart | _Span, values: dict[str, Any]) -> None:
    values["start_time"] = _utc(s.start_time)
    values["name"] = _intern(s.name)
    if s.parent_span_id is not None:
        values["parent_span_id"] = _intern(s.parent_span_id)
    if s.model is not None:
        values["model"] = _leaf(s.model)
    if s.tool is not None:
        values["tool"] = _leaf(s.tool)


def _closing(s: _SpanEnd | _Span, values: dict[str, Any]) -> None:
    values["end_time"] = _utc(s.end_time)
    if s.usage is not None:
        values["usage"] = _leaf(s.usage)
    if s.error is not None:
        values["error"] = _leaf(s.error)
    if s.outcome is not None:
        values["outcome"] = _leaf(s.outcome)
    if s.decisions:
        values["decisions"] = tuple(map(_leaf, s.decisions))
    if s.resources is not None:
        values["resources"] = _leaf(s.resources)
    if s.redactions:
        values["redactions"] = tuple(map(_leaf, s.redactions))


# The builders start from ``asdict`` (the mirror's fields are in the model's order,
# see _check_mirrors), replace nested Structs and non-UTC datetimes in place (which
# keeps the order) and put ``event_type`` where the model has it.


def _span_start(s: _SpanStart) -> SpanStartEvent:
    values = asdict(s)
    _opening(s, values)
    _envelope(s, values)
    values["event_type"] = "span.start"
    return construct_from(SpanStartEvent, values)


def _span_end(s: _SpanEnd) -> SpanEndEvent | None:
    if s.status is SpanStatus.UNFINISHED:
        return None  # set by the worker only; pydantic's path says so
    values = asdict(s)
    _closing(s, values)
    _envelope(s, values)
    attributes = values.pop("attributes")
    values["event_type"] = "span.end"
    values["attributes"] = attributes
    return construct_from(SpanEndEvent, values)


def _span(s: _Span) -> SpanEvent | None:
    values = asdict(s)
    _closing(s, values)
    _opening(s, values)
    if s.status is SpanStatus.UNFINISHED or values["end_time"] < values["start_time"]:
        return None  # pydantic's path says which rule
    _envelope(s, values)
    values["event_type"] = "span"
    return construct_from(SpanEvent, values)


def _score(s: _Score) -> ScoreEvent:
    return construct_from(
        ScoreEvent,
        {
            "schema_version": s.schema_version,
            "event_id": s.event_id,
            "project": s.project,
            "service": s.service,
            "environment": s.environment,
            "trace_id": s.trace_id,
            "timestamp": _utc(s.timestamp),
            "trace": None if s.trace is None else _trace_info(s.trace),
            "event_type": "score",
            "span_id": s.span_id,
            "name": s.name,
            "value": s.value,
            "source": s.source,
            "comment": s.comment,
        },
    )
