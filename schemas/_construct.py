"""Build pydantic models from values that are already valid, without validating again.

``BaseModel.model_construct`` skips validation but still walks every field in
Python (aliases, defaults): 6.3 µs for one span record against 0.7 µs here
(pydantic 2.14, measured again when the decoder became generated; validating
the same values costs 6.3 µs too), and the worker builds a span record, its
event and their nested models per span. :func:`construct` sets the instance
dict directly, as ``model_construct`` itself does at its end. Only for values
that come from validated models (or are derived within the contract's bounds);
anything from outside goes through validation.

Every instance of a class shares one ``__pydantic_fields_set__``: the set of all
its fields (construct fills every field, so that is what each would hold). A set
of 26 names is 2.2 KB, more than the instance's ``__dict__``; the worker holds an
event and a span record per open span, and their two sets were half the memory
of a held event. Sharing is safe because nothing removes names from the set:
pydantic only adds the names of assigned fields (already in it) and copies it
before ``model_copy(update=...)`` adds to it. Code must not mutate it either.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["construct", "construct_from"]

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_new = object.__new__  # BaseModel has no __new__ of its own


@dataclass(frozen=True, slots=True)
class _Spec:
    """What :func:`construct` needs of a class, worked out once.

    ``FieldInfo.get_default`` inspects the factory's signature on every call (a
    fifth of building a span record), and filling defaults field by field cost
    more than a fresh trace or span state; what they answer is fixed per class.
    """

    #: How many fields the class has.
    count: int
    #: Every field's name, in definition order.
    names: list[str]
    #: Every field's name: the ``__pydantic_fields_set__`` all instances share.
    fields: set[str]
    #: Every field in definition order (the order validation gives ``__dict__``)
    #: with its default; fields in ``fresh`` hold a placeholder.
    template: dict[str, Any]
    #: Fields whose default must be new per instance: a factory's, or a copy of a
    #: mutable default (pydantic copies those).
    fresh: tuple[tuple[str, Callable[[], Any]], ...]
    #: The private attributes' defaults, or None when there are none; those in
    #: ``private_fresh`` hold a placeholder.
    private: dict[str, Any] | None
    #: Private attributes whose default must be made per instance (name, attribute).
    private_fresh: tuple[tuple[str, Any], ...]


_specs: dict[type[BaseModel], _Spec] = {}


def _spec(cls: type[BaseModel]) -> _Spec:
    template: dict[str, Any] = {}
    fresh: list[tuple[str, Callable[[], Any]]] = []
    for name, info in cls.__pydantic_fields__.items():
        factory = info.default_factory
        if factory is not None and info.default_factory_takes_validated_data:
            raise TypeError(f"{cls.__name__}.{name}: factories of validated data unsupported")
        template[name] = info.default
        if factory is not None:
            fresh.append((name, factory))  # type: ignore[arg-type]
        elif isinstance(info.default, dict | list | set):
            fresh.append((name, partial(copy, info.default)))
    attrs = cls.__private_attributes__
    private: dict[str, Any] | None = {} if attrs else None
    private_fresh: list[tuple[str, Any]] = []
    for name, attr in attrs.items():
        default: Any = attr.default
        private[name] = default  # type: ignore[index]  # not None: attrs is not empty
        if attr.default_factory is not None or isinstance(default, dict | list | set):
            private_fresh.append((name, attr))
    spec = _specs[cls] = _Spec(
        len(template),
        list(template),
        set(template),
        template,
        tuple(fresh),
        private,
        tuple(private_fresh),
    )
    return spec


def construct(cls: type[M], /, **values: Any) -> M:
    """An instance of ``cls`` holding ``values`` as they are (missing fields get defaults).

    ``values`` may come in any order: the instance's ``__dict__`` follows the
    fields' order, as validation leaves it (it is the order of the JSON keys).
    """
    spec = _specs.get(cls) or _spec(cls)
    if len(values) == spec.count and list(values) != spec.names:
        ordered = spec.template.copy()
        ordered.update(values)
        values = ordered
    return construct_from(cls, values)


def construct_from(cls: type[M], values: dict[str, Any]) -> M:
    """As :func:`construct`, from a dict the instance takes over when it has every
    field; then it must hold them in the fields' order (the caller's promise)."""
    spec = _specs.get(cls) or _spec(cls)
    if len(values) != spec.count:
        filled = spec.template.copy()
        filled.update(values)
        for name, make in spec.fresh:
            if name not in values:
                filled[name] = make()
        values = filled
    obj = _new(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", spec.fields)
    _set(obj, "__pydantic_extra__", None)
    private = spec.private
    if private is not None:
        private = private.copy()
        for name, attr in spec.private_fresh:
            private[name] = attr.get_default()
    _set(obj, "__pydantic_private__", private)
    return obj
