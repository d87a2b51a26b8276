"""The fast path of event validation: msgspec decoding into the contract's own models.

:class:`~._parse.EventParser` tries :func:`fast_validate` first and falls back to
the pydantic path whenever it answers ``None``. Nothing here restates the
contract: the msgspec Structs are generated from the pydantic models when this
module is imported (``_derive.py``: field names and order, types, constraints,
defaults, ``extra="forbid"``, the discriminator; a small table of twins for
the custom validators). The promise this module keeps:

- it never accepts a value the pydantic path rejects;
- what it accepts becomes the very model instances pydantic would build: equal
  field values of the same types, UTC datetimes with ``tzinfo`` ``datetime.UTC``,
  the StrEnum members, tuples, the same JSON bytes. One difference:
  ``__pydantic_fields_set__`` holds every field, not only those the producer sent
  (see ``_construct.py``; nothing serializes with ``exclude_unset``).

It decodes the raw bytes (validating the values orjson would decode, with
``msgspec.convert``, cost more than the pydantic path). Where the two JSON
readers differ (integers past 64 bits, which orjson reads as floats; fractions of
a second past microseconds, which msgspec rounds and pydantic truncates) a byte
scan sends the event the pydantic way. Measured on the pipeline bench's events:
msgspec decodes one in ~2.9 µs, building the models takes ~5 µs more, against
~12 µs for the pydantic path. The builders are generic loops over each model's
plan: 51k instructions per event (callgrind) where the hand-written mirror's
took 42k, about 2% of the worker's pure pipeline; generating their source
would win most of that back, at the cost of code nobody reads.

This module imports msgspec at import time; ``_parse`` imports it lazily and
guarded, so the bare SDK install (no msgspec) keeps the pydantic path only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Union, cast

import msgspec
from msgspec.structs import asdict
from pydantic import BaseModel

from ._common import TraceInfo
from ._construct import construct_from
from ._derive import Convert, StructPlan, UnsupportedContract, struct_plans
from ._events import Event, ScoreEvent, SpanEndEvent, SpanEvent, SpanStartEvent

__all__ = ["FastDecoder", "fast_validate"]

#: Fields whose values repeat on every event of a trace or service (in any model):
#: the worker holds the events of open traces, and one shared string instead of a
#: copy per event saves ~300 B of each. Interned strings are freed with their last
#: holder.
INTERNED = frozenset({"project", "service", "environment", "trace_id", "name", "parent_span_id"})

#: Models whose equal values share one instance: every event of a trace repeats its
#: trace info, and one shared (frozen) model saves building it and a copy per held
#: event. Cached by the (frozen, hashable) Struct; the cache is cleared when full
#: (a bound, not an LRU: a miss only costs a build).
SHARED: frozenset[type[BaseModel]] = frozenset({TraceInfo})
SHARED_MAX = 10_000

_Build = Callable[[Any], Any]


class _Refused(Exception):
    """A validator's twin says no: pydantic's path gives the verdict and the reason."""


class FastDecoder:
    """Decodes the JSON of one discriminated union of models into model instances.

    Built from the union's models alone (see ``_derive.py``); raises
    :class:`~._derive.UnsupportedContract` when a model uses something the fast
    path cannot state exactly. Thread-safe apart from the shared-model cache,
    whose races only cost a rebuild.
    """

    def __init__(self, union: Any) -> None:
        plans = struct_plans(union)
        #: The generated Struct of every model reachable from the union.
        self.structs: dict[type[BaseModel], type[msgspec.Struct]] = {
            model: plan.struct for model, plan in plans.items()
        }
        self.shared: dict[type[BaseModel], dict[Any, BaseModel]] = {}
        builders: dict[type[BaseModel], _Build] = {}
        for model, plan in plans.items():
            builders[model] = self._builder(plan, builders)
        tagged = [plan.struct for plan in plans.values() if plan.tag is not None]
        self._decoder = msgspec.json.Decoder(Union[tuple(tagged)])  # noqa: UP007 - built at runtime
        self._build = {plans[m].struct: builders[m] for m in plans if plans[m].tag is not None}

    def validate(self, data: bytes) -> BaseModel | None:
        """The model in ``data`` if the fast path can vouch for it, else ``None``.

        ``None`` says nothing about validity: the caller must then take the pydantic
        path, which gives the verdict (and the reason). The caller must also have
        checked that ``data`` is at most 1,000,000 bytes (pydantic's ``str_max_length``
        cannot be exceeded then) and has no more "{"/"[" than its depth limit.
        Never raises.
        """
        try:
            struct = self._decoder.decode(data)
        except (msgspec.MsgspecError, ValueError):
            # ValueError: msgspec lets a UnicodeDecodeError through for invalid UTF-8.
            return None
        scanned = data.translate(_DIGITS_AS_ZERO)
        if _LONG_DIGIT_RUN in scanned or _LONG_FRACTION in scanned:
            return None
        try:
            return cast(BaseModel, self._build[type(struct)](struct))
        except (_Refused, ValueError, OverflowError):
            # ValueError/OverflowError: astimezone past year 1 or 9999, a rule no
            # twin states: pydantic's path answers (OverflowError there too, for the former).
            return None

    def _builder(self, plan: StructPlan, builders: dict[type[BaseModel], _Build]) -> _Build:
        """The function that turns ``plan``'s Struct into its model."""
        model = plan.model
        checks = plan.checks
        steps = tuple(
            (f.name, self._converter(f.convert, builders))
            for f in plan.fields
            if f.convert is not None
        ) + tuple((f.name, _intern) for f in plan.fields if f.name in INTERNED and f.text)
        # The model's __dict__ keeps its field order (its JSON key order): the tag,
        # which is no Struct field, goes back in its place.
        tag_name, tag_value = plan.tag or ("", "")
        names = list(model.__pydantic_fields__)
        after = tuple(names[names.index(tag_name) + 1 :]) if plan.tag else ()
        if checks and plan.tag is None:
            raise UnsupportedContract(f"{model.__name__}: validators on a nested model")

        def build(struct: Any) -> BaseModel:
            values = asdict(struct)
            for name, convert in steps:
                value = values[name]
                if value:  # None, () and "" stay as they are
                    values[name] = convert(value)
            return construct_from(model, values)

        def build_event(struct: Any) -> BaseModel:
            for check in checks:
                if not check(struct):
                    raise _Refused
            values = asdict(struct)
            for name, convert in steps:
                value = values[name]
                if value:
                    values[name] = convert(value)
            values[tag_name] = tag_value
            for name in after:
                values[name] = values.pop(name)
            return construct_from(model, values)

        if plan.tag is not None:
            return build_event
        if model not in SHARED:
            return build
        cache = self.shared.setdefault(model, {})

        def build_shared(struct: Any) -> BaseModel:
            found = cache.get(struct)
            if found is None:
                if len(cache) >= SHARED_MAX:
                    cache.clear()
                found = cache[struct] = build(struct)
            return found

        return build_shared

    @staticmethod
    def _converter(convert: Convert, builders: dict[type[BaseModel], _Build]) -> _Build:
        # struct_plans lists a nested model before the models that hold it.
        one = builders[convert.model] if convert.model is not None else convert.leaf
        assert one is not None
        if not convert.each:
            return one
        return lambda values: tuple(map(one, values))

    def clear_shared(self) -> None:
        """Forget the shared models (they are a parse cache, not state)."""
        for cache in self.shared.values():
            cache.clear()


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

#: The decoder of the wire contract's event union.
EVENTS = FastDecoder(Event)

#: See :meth:`FastDecoder.validate`.
fast_validate = cast(
    Callable[[bytes], SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent | None],
    EVENTS.validate,
)
