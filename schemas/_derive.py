"""msgspec Structs read off the pydantic models, so the fast decoder is no second copy.

The pydantic models in ``_common.py``/``_events.py`` are the contract. What
msgspec needs to decode and validate the same events is read from their field
info when the decoder is built: names and order, annotations (``str``, ``int``,
``float``, ``bool``, datetimes, enums, literals, unions, tuples, dicts, nested
models, ``JsonValue``), the constraints in their metadata (pattern, min/max
length, ge/le/gt/lt), defaults and default factories, ``extra="forbid"``, and the
discriminator of the event union (the msgspec tag).

Two things cannot be read off metadata: the custom validators pydantic runs
(``AfterValidator`` functions, ``model_validator`` methods). Each has a twin in a
small explicit table (:data:`FIELD_VALIDATORS`, :data:`MODEL_VALIDATORS`); a
validator without one, or any annotation or setting this module does not know,
raises :class:`UnsupportedContract` when the decoder is built, so a contract change
can never make the fast path accept what the pydantic path rejects. Where the
rules could differ at the edges, the twins are stricter (see the tables).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union

import annotated_types as at
import msgspec
from pydantic import BaseModel, JsonValue
from pydantic.fields import FieldInfo
from pydantic.functional_validators import AfterValidator
from pydantic.types import StringConstraints
from pydantic_core import PydanticUndefined

from ._common import SpanStatus, _as_utc, _not_all_zero
from ._events import ScoreEvent, SpanEvent, _SpanClosing

__all__ = [
    "FIELD_VALIDATORS",
    "MODEL_VALIDATORS",
    "Convert",
    "FieldPlan",
    "FieldTwin",
    "StructPlan",
    "UnsupportedContract",
    "struct_plans",
    "utc",
]

#: msgspec's widest integers; pydantic's are unbounded, but orjson (the other JSON
#: reader) turns integers past 64 bits into floats: those events take the slow path.
_INT64 = (-(2**63), 2**63 - 1)


class UnsupportedContract(TypeError):
    """A model uses something the fast decoder cannot state exactly: add it here."""


def utc(value: datetime) -> datetime:
    """``value`` in UTC, as ``_as_utc`` leaves it (msgspec gives ``datetime.UTC`` for Z)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class FieldTwin:
    """What the fast path does in place of one pydantic ``AfterValidator``.

    Attributes:
        meta: adjusts the msgspec ``Meta`` keywords of the field's type.
        convert: applied to each decoded value, as the validator transforms it.
    """

    meta: Callable[[dict[str, Any]], None]
    convert: Callable[[Any], Any] | None = None


def _no_all_zero(meta: dict[str, Any]) -> None:
    # A look-ahead before the pattern; "0*" also refuses "", as count("0") == len does.
    pattern = meta.get("pattern", "^")
    meta["pattern"] = r"^(?!0*\Z)" + pattern.removeprefix("^")


def _aware(meta: dict[str, Any]) -> None:
    meta["tz"] = True  # a naive timestamp is refused, as _as_utc refuses it


#: The field validators of the contract and their twins.
FIELD_VALIDATORS: dict[Callable[..., Any], FieldTwin] = {
    _not_all_zero: FieldTwin(_no_all_zero),
    _as_utc: FieldTwin(_aware, utc),
}


def _score_value_ok(s: Any) -> bool:
    value = s.value
    if isinstance(value, str):
        return 0 < len(value) <= 256
    return not (isinstance(value, float) and math.isnan(value))


#: The model validators of the contract (by the function pydantic runs) and their
#: twins: a predicate on the decoded Struct, True when pydantic's validator passes.
#: False sends the event the pydantic way, which gives the reason.
MODEL_VALIDATORS: dict[object, Callable[[Any], bool]] = {
    _SpanClosing._producers_do_not_set_unfinished: lambda s: s.status is not SpanStatus.UNFINISHED,
    SpanEvent._ends_after_start: lambda s: s.end_time >= s.start_time,
    ScoreEvent._finite: _score_value_ok,
}


@dataclass(frozen=True, slots=True)
class Convert:
    """How a decoded value becomes the model's value (None values are left as they are).

    Attributes:
        leaf: a validator twin's function (UTC for datetimes).
        model: the nested model the value (a Struct) becomes.
        each: the value is a tuple whose items convert so.
    """

    leaf: Callable[[Any], Any] | None = None
    model: type[BaseModel] | None = None
    each: bool = False


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One field of a model as the fast decoder sees it.

    Attributes:
        name: the field's name (models with aliases are not supported).
        fast_type: its msgspec annotation.
        default: the Struct default (``msgspec.NODEFAULT`` when required, or a
            ``msgspec.field`` holding a factory).
        convert: how the decoded value becomes the model's, None when taken as is.
        text: the value is a string (or None).
    """

    name: str
    fast_type: Any
    default: Any
    convert: Convert | None
    text: bool


@dataclass(frozen=True, slots=True)
class StructPlan:
    """A model, the Struct that decodes it, and what turns the one into the other."""

    model: type[BaseModel]
    struct: type[msgspec.Struct]
    #: The model's fields in its order, the discriminator aside.
    fields: tuple[FieldPlan, ...]
    #: The discriminator (msgspec tag field) and this model's value of it, if tagged.
    tag: tuple[str, str] | None
    #: The twins of the model's validators, all of which must hold.
    checks: tuple[Callable[[Any], bool], ...]


_PlanOf = Callable[[type[BaseModel]], StructPlan]


def struct_plans(union: Any) -> dict[type[BaseModel], StructPlan]:
    """Plans (and Structs) for every model reachable from ``union``, the event union.

    ``union`` is ``Annotated[A | B | ..., Field(discriminator=...)]``; each member
    gets a Struct tagged by its literal value of the discriminator, nested models
    untagged ones.

    Raises:
        UnsupportedContract: a field, constraint, validator or setting the fast
            path cannot state exactly.
    """
    members, discriminator = _tagged_union(union)
    plans: dict[type[BaseModel], StructPlan] = {}

    def plan_of(model: type[BaseModel], tag: tuple[str, str] | None = None) -> StructPlan:
        found = plans.get(model)
        if found is not None:
            return found
        forbid = _forbid_extra(model)
        fields = tuple(
            _field_plan(model, name, info, plan_of)
            for name, info in model.__pydantic_fields__.items()
            if tag is None or name != tag[0]
        )
        struct = _make_struct(model, fields, tag, forbid)
        plan = plans[model] = StructPlan(model, struct, fields, tag, _model_checks(model))
        return plan

    for member in members:
        plan_of(member, (discriminator, _tag_value(member, discriminator)))
    return plans


def _tagged_union(union: Any) -> tuple[tuple[type[BaseModel], ...], str]:
    if typing.get_origin(union) is not Annotated:
        raise UnsupportedContract("the event union must be Annotated with its discriminator")
    inner, *meta = typing.get_args(union)
    discriminator = next(
        (m.discriminator for m in meta if isinstance(m, FieldInfo) and m.discriminator), None
    )
    if not isinstance(discriminator, str):
        raise UnsupportedContract("the event union needs a plain string discriminator")
    members = typing.get_args(inner) or (inner,)  # a union of one is the model itself
    if not all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
        raise UnsupportedContract("every member of the event union must be a model")
    return members, discriminator


def _tag_value(model: type[BaseModel], discriminator: str) -> str:
    info = model.__pydantic_fields__[discriminator]
    values = typing.get_args(info.annotation)
    if typing.get_origin(info.annotation) is not Literal or len(values) != 1:
        raise UnsupportedContract(f"{model.__name__}.{discriminator} must be one literal")
    value = values[0]
    if not isinstance(value, str):
        raise UnsupportedContract(f"{model.__name__}.{discriminator} must be a string literal")
    return value


#: Model settings that change what validation accepts, none of which the fast path
#: states (a model that sets one fails the build instead).
_UNSUPPORTED_CONFIG = (
    "strict",
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
    "str_min_length",
    "coerce_numbers_to_str",
    "use_enum_values",
    "validate_default",
)


def _forbid_extra(model: type[BaseModel]) -> bool:
    config = model.model_config
    for key in _UNSUPPORTED_CONFIG:
        if config.get(key):
            raise UnsupportedContract(f"{model.__name__}: model_config {key} is not supported")
    if config.get("regex_engine", "rust-regex") != "rust-regex":
        raise UnsupportedContract(f"{model.__name__}: only the default regex engine is supported")
    # str_max_length (1,000,000 on WireModel) cannot be exceeded by the events the
    # fast path sees: the parser gives it none longer than that many bytes.
    if (config.get("str_max_length") or 1_000_000) < 1_000_000:
        raise UnsupportedContract(f"{model.__name__}: str_max_length below 1,000,000")
    extra = config.get("extra")
    if extra == "allow":
        raise UnsupportedContract(f"{model.__name__}: extra='allow' is not supported")
    return extra == "forbid"


def _model_checks(model: type[BaseModel]) -> tuple[Callable[[Any], bool], ...]:
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.validators or decorators.root_validators:
        raise UnsupportedContract(f"{model.__name__}: field validators have no fast twin")
    checks = []
    for name, decorator in decorators.model_validators.items():
        twin = MODEL_VALIDATORS.get(decorator.func)
        if twin is None or decorator.info.mode != "after":
            raise UnsupportedContract(
                f"{model.__name__}.{name}: add the validator's twin to MODEL_VALIDATORS"
            )
        checks.append(twin)
    return tuple(checks)


def _field_plan(
    model: type[BaseModel],
    name: str,
    info: FieldInfo,
    plan_of: _PlanOf,
) -> FieldPlan:
    where = f"{model.__name__}.{name}"
    if info.alias is not None or info.validation_alias is not None:
        raise UnsupportedContract(f"{where}: aliases are not supported")
    fast_type, convert = _translate(info.annotation, list(info.metadata), where, plan_of)
    default: Any
    if info.default_factory is not None:
        default = msgspec.field(default_factory=info.default_factory)  # type: ignore[arg-type]
    elif info.default is PydanticUndefined:
        default = msgspec.NODEFAULT
    else:
        default = info.default
    return FieldPlan(name, fast_type, default, convert, _is_text(info.annotation))


def _is_text(annotation: Any) -> bool:
    """``str``, or an optional one, whatever its constraints."""
    if typing.get_origin(annotation) is Annotated:
        return _is_text(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (Union, types.UnionType):
        present = [m for m in typing.get_args(annotation) if m is not type(None)]
        return len(present) == 1 and _is_text(present[0])
    return annotation is str


def _translate(
    annotation: Any,
    constraints: list[Any],
    where: str,
    plan_of: _PlanOf,
) -> tuple[Any, Convert | None]:
    """The msgspec type of ``annotation`` under ``constraints``, and its conversion."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        return _translate(inner, [*_flatten(extra), *constraints], where, plan_of)
    constraints = list(_flatten(constraints))
    if annotation is JsonValue:
        _refuse(constraints, where)
        return Any, None  # orjson/msgspec produce only JSON values: nothing to check
    if origin in (Union, types.UnionType):
        members = typing.get_args(annotation)
        present = [m for m in members if m is not type(None)]
        if constraints and len(present) > 1:
            raise UnsupportedContract(f"{where}: constraints on a union of several types")
        translated = [_translate(m, constraints, where, plan_of) for m in present]
        fast: Any = Union[tuple(t for t, _ in translated)]  # noqa: UP007 - built at runtime
        if len(present) < len(members):
            fast = fast | None
        converts = [c for _, c in translated if c is not None]
        if len(converts) > 1:
            raise UnsupportedContract(f"{where}: a union of several converted types")
        return fast, converts[0] if converts else None
    if origin is Literal:
        _refuse(constraints, where)
        return annotation, None
    if origin is tuple:
        item, ellipsis = (*typing.get_args(annotation), None)[:2]
        if ellipsis is not Ellipsis:
            raise UnsupportedContract(f"{where}: only tuple[X, ...] is supported")
        item_type, item_convert = _translate(item, [], where, plan_of)
        meta = _meta(constraints, where, lengths=True)
        fast = tuple[item_type, ...]  # type: ignore[valid-type]
        fast = Annotated[fast, msgspec.Meta(**meta)] if meta else fast
        if item_convert is None:
            return fast, None
        if item_convert.each:
            raise UnsupportedContract(f"{where}: tuples of tuples that need converting")
        return fast, Convert(item_convert.leaf, item_convert.model, each=True)
    if origin is dict:
        key, value = typing.get_args(annotation)
        if key is not str:
            raise UnsupportedContract(f"{where}: only dict[str, X] is supported")
        value_type, value_convert = _translate(value, [], where, plan_of)
        if value_convert is not None:
            raise UnsupportedContract(f"{where}: dict values that need converting")
        meta = _meta(constraints, where, lengths=True)
        fast = dict[str, value_type]  # type: ignore[valid-type]
        return (Annotated[fast, msgspec.Meta(**meta)] if meta else fast), None
    if origin is not None:
        raise UnsupportedContract(f"{where}: {annotation!r} is not supported")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _refuse(constraints, where)
        return plan_of(annotation).struct, Convert(model=annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        _refuse(constraints, where)
        return annotation, None
    if annotation in (str, int, float, bool, datetime):
        twins = [FIELD_VALIDATORS[c.func] for c in constraints if isinstance(c, AfterValidator)]
        meta = _meta(
            [c for c in constraints if not isinstance(c, AfterValidator)],
            where,
            lengths=annotation is str,
            bounds=annotation in (int, float),
        )
        if annotation is int:
            meta["ge"] = max(meta.get("ge", _INT64[0]), _INT64[0])
            meta["le"] = min(meta.get("le", _INT64[1]), _INT64[1])
        for twin in twins:
            twin.meta(meta)
        leaves = [t.convert for t in twins if t.convert is not None]
        if len(leaves) > 1:
            raise UnsupportedContract(f"{where}: more than one converting validator")
        convert = Convert(leaf=leaves[0]) if leaves else None
        return (Annotated[annotation, msgspec.Meta(**meta)] if meta else annotation), convert
    raise UnsupportedContract(f"{where}: {annotation!r} is not supported")


def _flatten(meta: Iterable[Any]) -> Iterable[Any]:
    for m in meta:
        if isinstance(m, FieldInfo):
            yield from _flatten(m.metadata)  # Field(...) inside Annotated: its constraints
        elif isinstance(m, AfterValidator):
            if m.func not in FIELD_VALIDATORS:
                raise UnsupportedContract(
                    f"validator {m.func.__qualname__}: add its twin to FIELD_VALIDATORS"
                )
            yield m
        else:
            yield m


def _refuse(constraints: list[Any], where: str) -> None:
    if constraints:
        raise UnsupportedContract(f"{where}: constraints {constraints!r} on this type")


def _meta(
    constraints: list[Any], where: str, *, lengths: bool, bounds: bool = False
) -> dict[str, Any]:
    """msgspec ``Meta`` keywords for pydantic/annotated-types constraints."""
    meta: dict[str, Any] = {}
    for c in constraints:
        if isinstance(c, StringConstraints):
            transforms = (c.strip_whitespace, c.to_upper, c.to_lower, c.strict, c.ascii_only)
            if any(transforms):
                raise UnsupportedContract(f"{where}: string transforms are not supported")
            if c.min_length is not None:
                meta["min_length"] = c.min_length
            if c.max_length is not None:
                meta["max_length"] = c.max_length
            if c.pattern is not None:
                meta["pattern"] = _python_pattern(str(c.pattern), where)
        elif lengths and set(getattr(c, "__dict__", ())) == {"pattern"}:
            # Field(pattern=...) on a string: pydantic keeps it as general metadata.
            meta["pattern"] = _python_pattern(str(c.pattern), where)
        elif lengths and isinstance(c, at.MinLen):
            meta["min_length"] = c.min_length
        elif lengths and isinstance(c, at.MaxLen):
            meta["max_length"] = c.max_length
        elif bounds and isinstance(c, at.Ge | at.Le | at.Gt | at.Lt):
            key = type(c).__name__.lower()
            meta[key] = getattr(c, key)
        else:
            raise UnsupportedContract(f"{where}: constraint {c!r} is not supported")
    if "pattern" in meta and not lengths:  # pragma: no cover - StringConstraints on str only
        raise UnsupportedContract(f"{where}: a pattern on a non-string")
    return meta


def _python_pattern(pattern: str, where: str) -> str:
    # msgspec matches with Python's re, pydantic with Rust's regex. Their one
    # difference that matters here: Python's "$" also matches before a final
    # newline, Rust's does not; "\Z" is Rust's "$". Anything but plain anchored
    # character classes is refused rather than risk another difference.
    if not (pattern.startswith("^") and pattern.endswith("$")) or "\\" in pattern:
        raise UnsupportedContract(f"{where}: pattern {pattern!r} is not a plain anchored one")
    return pattern[:-1] + r"\Z"


def _make_struct(
    model: type[BaseModel],
    fields: tuple[FieldPlan, ...],
    tag: tuple[str, str] | None,
    forbid: bool,
) -> type[msgspec.Struct]:
    options: dict[str, Any] = {
        "kw_only": True,
        "forbid_unknown_fields": forbid,
        # Frozen: hashable, so equal values can share one model (see _fast_parse).
        "frozen": True,
        # Decoded JSON holds no reference cycles: the collector need not track them.
        "gc": False,
    }
    if tag is not None:
        options["tag_field"], options["tag"] = tag
    return msgspec.defstruct(
        f"Fast{model.__name__}",
        [(f.name, f.fast_type, f.default) for f in fields],
        module=__name__,
        **options,
    )
