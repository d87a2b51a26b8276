"""Checks that hold the contract's representations to the models, read off the models.

Each function answers what a representation lacks, by name, so a test that
asserts an empty answer fails naming the field and where it is missing. They
take nothing but the models as they are imported, so the test that adds a
field to a copy of the contract (``tests/unit/test_one_contract.py``) runs the
very same checks on the copy.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, JsonValue

from tracestream.schemas import SpanEndEvent, SpanEvent, SpanRecord, SpanStartEvent
from tracestream.sinks import TABLE_MAPPINGS, RetentionPolicy
from tracestream.streams._trace_state import BUILT_FIELDS, NOT_CARRIED

#: A leaf of a record: the keys (and list indices) that lead to it.
Path = tuple[str | int, ...]


def uncarried_event_fields() -> list[str]:
    """Span event fields that no SpanRecord field carries (and NOT_CARRIED does not list)."""
    fields = {*SpanStartEvent.model_fields, *SpanEndEvent.model_fields, *SpanEvent.model_fields}
    return sorted(fields - NOT_CARRIED - set(SpanRecord.model_fields))


def unfilled_record_fields() -> list[str]:
    """SpanRecord fields that build_span neither copies from an event nor builds."""
    events = {*SpanStartEvent.model_fields, *SpanEndEvent.model_fields}
    return sorted(set(SpanRecord.model_fields) - events - BUILT_FIELDS)


def _bare(annotation: Any) -> Any:
    """The annotation without Annotated metadata and without ``| None``."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        present = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(present) == 1:
            return _bare(present[0])
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    bare = _bare(annotation)
    return bare if isinstance(bare, type) and issubclass(bare, BaseModel) else None


def _example(annotation: Any, path: Path) -> Any:
    """A JSON value of ``annotation`` (the record's JSON form), marked with ``path``."""
    bare = _bare(annotation)
    origin = typing.get_origin(bare)
    model = _model_of(bare)
    if model is not None:
        return {
            name: _example(f.annotation, (*path, name)) for name, f in model.model_fields.items()
        }
    if origin is tuple:
        return [_example(typing.get_args(bare)[0], (*path, 0))]
    if origin is dict:
        return {"k": _example(typing.get_args(bare)[1], (*path, "k"))}
    if origin is Literal:
        return typing.get_args(bare)[0]
    if bare is JsonValue or origin in (Union, types.UnionType):  # JSON, or float | bool | str
        return {"at": ".".join(map(str, path))}
    if isinstance(bare, type) and issubclass(bare, Enum):
        return next(iter(bare)).value
    examples: dict[Any, Any] = {
        str: "-".join(map(str, path)),
        int: 7,
        float: 0.25,
        bool: True,
        datetime: "2026-11-24T08:00:00.250000Z",
    }
    assert bare in examples, f"{path}: give the example a value of {annotation}"
    return examples[bare]


def full_span_record(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` (a valid span record's JSON) with every field the model has filled in.

    Values ``base`` holds are kept (its ids and times are valid for the table's
    constraints); absent, null or empty ones are set to examples of their type.
    """
    record = dict(base)
    for name, field in SpanRecord.model_fields.items():
        value = record.get(name)
        model = _model_of(field.annotation)
        if model is not None and isinstance(value, dict):
            filled = _example(model, (name,))
            record[name] = {
                k: v if v not in (None, "", [], {}) else filled[k]
                for k, v in {**filled, **value}.items()
            }
        elif value in (None, "", [], {}):
            record[name] = _example(field.annotation, (name,))
    return record


def leaves(
    model: type[BaseModel], record: dict[str, Any], prefix: Path = ()
) -> Iterator[tuple[Path, Any]]:
    """Every leaf path of ``record`` as ``model`` declares it, with the leaf's annotation.

    Nested models are descended, tuples of models through their first item; any
    other value (strings, numbers, JSON values, lists of scalars) is a leaf.
    """
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        nested = _model_of(field.annotation)
        bare = _bare(field.annotation)
        if nested is not None:
            yield from leaves(nested, record[name], path)
        elif typing.get_origin(bare) is tuple and _model_of(typing.get_args(bare)[0]) is not None:
            item = _model_of(typing.get_args(bare)[0])
            assert item is not None
            yield from leaves(item, record[name][0], (*path, 0))
        else:
            yield path, field.annotation


def _changed(value: Any, annotation: Any) -> Any:
    bare = _bare(annotation)
    if bare is datetime:
        when = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(seconds=1)
        return when.isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        # A hex id stays a hex id (the tables check them); any other text changes too.
        return value[:-1] + ("1" if value[-1:] != "1" else "2")
    if isinstance(value, list):
        return [*value, value[0]]
    if isinstance(value, dict):
        return {**value, "changed": 1}
    raise AssertionError(f"no change for {value!r}")


def perturbed(record: dict[str, Any], path: Path, annotation: Any) -> dict[str, Any]:
    """A copy of ``record`` with the leaf at ``path`` changed (and still of its type)."""
    copy: Any = orjson.loads(orjson.dumps(record))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = _changed(holder[path[-1]], annotation)
    result: dict[str, Any] = copy
    return result


def unmapped_record_paths(base: dict[str, Any]) -> list[str]:
    """SpanRecord leaves the spans row mapping ignores: changing one leaves the row as it was.

    ``base``: a valid span record's JSON (see :func:`full_span_record`).
    """
    row = TABLE_MAPPINGS["spans"].row
    policy = RetentionPolicy()
    full = full_span_record(base)
    before = row(full, policy)
    return [
        ".".join(map(str, path))
        for path, annotation in leaves(SpanRecord, full)
        if row(perturbed(full, path, annotation), policy) == before
    ]
