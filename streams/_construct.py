"""Build pydantic models from values that are already valid, without validating again.

``BaseModel.model_construct`` skips validation but still walks every field in
Python (aliases, defaults); on the worker's hot path that cost ~30 µs per span
record, more than the rest of assembly. :func:`construct` sets the instance
dict directly. Only for values that come from validated models (or are derived
within the contract's bounds); anything from outside goes through validation.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["construct"]

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_new = object.__new__  # BaseModel has no __new__ of its own

#: Per class: (field name, default factory or None, default value) of every field.
_Defaults = tuple[tuple[str, Callable[[], Any] | None, Any], ...]
_defaults: dict[type[BaseModel], _Defaults] = {}
#: Per class: its private attributes (name, attribute), or None when it has none.
_privates: dict[type[BaseModel], tuple[tuple[str, Any], ...] | None] = {}


def _field_defaults(cls: type[BaseModel]) -> _Defaults:
    # FieldInfo.get_default inspects the factory's signature on every call (a fifth
    # of building a span record); what it would answer is fixed per class.
    found = _defaults.get(cls)
    if found is None:
        items: list[tuple[str, Callable[[], Any] | None, Any]] = []
        for name, info in cls.__pydantic_fields__.items():
            factory = info.default_factory
            if factory is not None and info.default_factory_takes_validated_data:
                raise TypeError(f"{cls.__name__}.{name}: factories of validated data unsupported")
            items.append((name, factory, info.default))  # type: ignore[arg-type]
        found = _defaults[cls] = tuple(items)
    return found


def construct(cls: type[M], **values: Any) -> M:
    """An instance of ``cls`` holding ``values`` as they are (missing fields get defaults)."""
    defaults = _defaults.get(cls) or _field_defaults(cls)
    if len(values) != len(defaults):
        for name, factory, default in defaults:
            if name not in values:
                # Mutable defaults are copied, as pydantic copies them.
                values[name] = (
                    factory()
                    if factory is not None
                    else copy(default)
                    if isinstance(default, dict | list | set)
                    else default
                )
    obj = _new(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    if cls in _privates:
        private = _privates[cls]
    else:
        attrs = cls.__private_attributes__
        private = _privates[cls] = tuple(attrs.items()) if attrs else None
    _set(
        obj,
        "__pydantic_private__",
        {name: attr.get_default() for name, attr in private} if private else None,
    )
    return obj
