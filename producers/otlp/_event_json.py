"""A ``span`` event's JSON bytes straight from the values the conversion built.

The contract is the pydantic model :class:`~tracestream.schemas.SpanEvent`.
Validating the conversion's values with it and dumping the model cost 27 µs of
the ~70 µs an LLM-sized span took to convert (issue 12 asks the receiver for
10,000 spans/s per process); orjson writes the same bytes in under 5.

Nothing here restates the contract: the key order and the defaults of the
event and of each nested model are read from the models' fields, and the
length limits from their metadata. What the conversion guarantees by
construction (labels cut to 256 characters, ids from bytes of the right size,
JSON values from OTLP values) is not checked again; what it cannot promise
(the span's name, the project and environment it was given, ids of the wrong
size, an end before the start, a string past the contract's longest) makes
:func:`event_json` answer ``None``, and the caller then takes the pydantic
path, which gives the verdict and the reason. So does any value of a type this
path does not write.

``tests/unit/producers/otlp/test_event_json.py`` holds the bytes equal to
``SpanEvent.model_validate(values).model_dump_json()`` on every fixture of
``tests/data/otlp`` and on hypothesis-generated spans, and fails when the
contract gains a constraint this path does not check.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

import annotated_types as at
import orjson
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import StringConstraints

from tracestream.schemas import SpanEvent, SpanKind, SpanStatus

__all__ = ["event_json", "plain_event_json"]

_HEX_DIGITS: Final = "0123456789abcdef"
_OPTIONS: Final = orjson.OPT_UTC_Z


def _default(info: FieldInfo) -> Any:
    return None if info.is_required() else info.get_default(call_default_factory=True)


def _nested_model(info: FieldInfo) -> type[BaseModel] | None:
    """The model of a ``Model | None`` field, else None."""
    annotation = info.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if isinstance(a, type)]
        models = [a for a in models if issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


@dataclass(frozen=True, slots=True)
class _Shape:
    """A model's fields in its order with their defaults, and which are required."""

    template: dict[str, Any]
    required: frozenset[str]

    @classmethod
    def of(cls, model: type[BaseModel]) -> _Shape:
        fields = model.model_fields
        return cls(
            template={name: _default(info) for name, info in fields.items()},
            required=frozenset(name for name, info in fields.items() if info.is_required()),
        )

    def complete(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """``values`` in the model's order with its defaults; None on an unknown or missing key."""
        if not self.required <= values.keys():
            return None
        out = self.template | values
        return out if len(out) == len(self.template) else None


def _max_length(model: type[BaseModel], name: str) -> int:
    """The ``max_length`` the contract gives ``model.name``."""
    for item in model.model_fields[name].metadata:
        if isinstance(item, StringConstraints | at.MaxLen) and item.max_length is not None:
            return item.max_length
    raise TypeError(f"{model.__name__}.{name} has no max_length")


_EVENT: Final = _Shape.of(SpanEvent)
#: The fields the OTLP conversion sets; any other must keep its default, as
#: nothing here writes or checks them (decisions, outcome, resources, ...).
_FILLED: Final = frozenset({
    "event_type", "event_id", "project", "service", "environment", "trace_id", "span_id",
    "parent_span_id", "timestamp", "trace", "kind", "name", "start_time", "end_time",
    "status", "input", "output", "model", "tool", "usage", "error", "attributes",
})  # fmt: skip
#: The nested models among them, by field: their values come as dicts.
_NESTED: Final = {
    name: (model, _Shape.of(model))
    for name, info in SpanEvent.model_fields.items()
    if name in _FILLED and (model := _nested_model(info)) is not None
}
#: What a producer may send (``unfinished`` is the worker's).
_STATUSES: Final = frozenset(SpanStatus) - {SpanStatus.UNFINISHED}
_NAME_MAX: Final = _max_length(SpanEvent, "name")
_LABEL_MAX: Final = _max_length(SpanEvent, "project")
#: Events past this size may hold a string past the models' ``str_max_length``:
#: left to pydantic (the worker's event limit is about the same size).
_STR_MAX: Final = SpanEvent.model_config.get("str_max_length") or 0


def event_json(values: dict[str, Any]) -> bytes | None:
    """The JSON pydantic would write for ``SpanEvent.model_validate(values)``, or None.

    ``values`` are those the OTLP conversion builds: ids as lower-case hex of
    bytes of any size, datetimes in UTC, nested models as dicts (``usage`` as a
    :class:`~tracestream.schemas.Usage`). None means "ask pydantic": the event
    may be invalid, or hold something this path does not write. Never raises.
    """
    try:
        return _event_json(values)
    except (TypeError, ValueError, OverflowError):
        # orjson's JSONEncodeError is a TypeError: a value it does not write.
        return None


def _event_json(values: dict[str, Any]) -> bytes | None:
    if not values.keys() <= _FILLED or values.get("event_type") != "span":
        return None
    if values.get("status") not in _STATUSES or not isinstance(values.get("kind"), SpanKind):
        return None
    name = values.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= _NAME_MAX:
        return None
    for label in ("project", "service", "environment"):
        text = values.get(label)
        if not isinstance(text, str) or not 0 < len(text) <= _LABEL_MAX:
            return None
    if not (_hex_id(values.get("trace_id"), 32) and _hex_id(values.get("span_id"), 16)):
        return None
    parent = values.get("parent_span_id")
    if parent is not None and not _hex_id(parent, 16):
        return None
    start, end = values.get("start_time"), values.get("end_time")
    if not (_utc(start) and _utc(end) and _utc(values.get("timestamp"))):
        return None
    if end < start:
        return None
    event = _EVENT.complete(values)
    if event is None:
        return None
    for field, (model, shape) in _NESTED.items():
        nested = event[field]
        if nested is None:
            continue
        if isinstance(nested, dict):
            nested = shape.complete(nested)
        elif type(nested) is model:
            # A model instance is valid already; its __dict__ holds its fields in order.
            nested = vars(nested)
        else:
            return None
        if nested is None:
            return None
        event[field] = nested
    data = orjson.dumps(event, option=_OPTIONS)
    return data if len(data) <= _STR_MAX else None


def _utc(value: object) -> TypeGuard[datetime]:
    return isinstance(value, datetime) and value.tzinfo is UTC


def _hex_id(value: object, digits: int) -> bool:
    """Lower-case hex of ``digits`` digits, not all zero (the OpenTelemetry invalid id)."""
    return (
        isinstance(value, str)
        and len(value) == digits
        and not value.strip(_HEX_DIGITS)
        and value.strip("0") != ""
    )


def plain_event_json(values: dict[str, Any]) -> bytes:
    """The event's JSON by the contract itself: the verdict when :func:`event_json` has none.

    Raises:
        pydantic.ValidationError: the values are no valid ``span`` event.
    """
    return SpanEvent.model_validate(values).model_dump_json().encode()
