"""Parse raw bytes from Kafka into events, with limits and machine-readable reasons.

The worker's validate step and the tests call :class:`EventParser`; a failure
is an :class:`InvalidEvent` whose ``reason`` is one of :data:`InvalidReason`
(a bounded set, safe as a metrics label) and whose message says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from ._common import SCHEMA_VERSION, _json_depth
from ._errors import TracestreamError
from ._events import EVENT_ADAPTER, ScoreEvent, SpanEndEvent, SpanEvent, SpanStartEvent

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_EVENT_BYTES",
    "EventParser",
    "InvalidEvent",
    "InvalidReason",
]

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32

InvalidReason = Literal[
    "too_large",
    "not_utf8",
    "not_json",
    "not_object",
    "too_deep",
    "unknown_schema_version",
    "unknown_event_type",
    "schema",
]

_EVENT_TYPES = ("span.start", "span.end", "span", "score")

# Pydantic caps every string at 1,000,000 characters (``str_max_length``); bytes up
# to that size cannot hold a longer one, so the fast path need not check it.
_FAST_PATH_MAX_BYTES = 1_000_000

_Validated = SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent


@cache
def _fast_path() -> Callable[[bytes], _Validated | None] | None:
    """msgspec's validator when msgspec (the ``pipeline`` extra) is installed, else None.

    Imported on first use: the bare SDK neither has nor loads msgspec.
    """
    try:
        from ._fast_parse import fast_validate
    except ImportError:
        return None
    return fast_validate


class InvalidEvent(TracestreamError, ValueError):
    """An event that breaks the contract. Never retriable: the same bytes fail again."""

    retriable = False

    def __init__(self, reason: InvalidReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: InvalidReason = reason
        self.detail = message


class EventParser:
    """Validates events against the contract and the size and depth limits.

    Thread-safe and cheap to share; holds no state besides its limits.

    With msgspec installed, :meth:`parse` first tries a stricter msgspec mirror of
    the contract (``_fast_parse``, about 15% cheaper in all); whatever that does not accept
    goes through the pydantic models, which alone decide what is invalid and why.
    Both paths give equal models. ``fast_path=False`` always takes the pydantic path.
    """

    def __init__(
        self,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        fast_path: bool = True,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.max_depth = max_depth
        self._fast = _fast_path() if fast_path else None

    def parse(self, data: bytes) -> _Validated:
        """Parse one event from its wire bytes.

        Raises:
            InvalidEvent: the bytes are not a valid event; ``reason`` says why.
        """
        if len(data) > self.max_event_bytes:
            raise InvalidEvent(
                "too_large", f"{len(data)} bytes exceeds the limit of {self.max_event_bytes} bytes"
            )
        # Each nesting level needs its own "{" or "[" byte, so when there are no more
        # of them than the limit (brackets inside strings only raise the count) the
        # value cannot be too deep and the walk over the parsed value is skipped.
        # The fast path only sees such values: it has no depth limit of its own.
        shallow = data.count(b"{") + data.count(b"[") <= self.max_depth
        if shallow and self._fast is not None and len(data) <= _FAST_PATH_MAX_BYTES:
            event = self._fast(data)
            if event is not None:
                return event
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            reason: InvalidReason = "not_utf8" if "utf-8" in str(exc).lower() else "not_json"
            raise InvalidEvent(reason, str(exc)) from None
        return self._validate(obj, check_depth=not shallow)

    def parse_object(self, obj: Any) -> SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent:
        """Validate an already decoded JSON value (the depth limit still applies).

        Raises:
            InvalidEvent: the value is not a valid event.
        """
        return self._validate(obj, check_depth=True)

    def _validate(
        self, obj: Any, *, check_depth: bool
    ) -> SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent:
        if not isinstance(obj, dict):
            raise InvalidEvent("not_object", f"an event is a JSON object, got {type(obj).__name__}")
        if check_depth and _json_depth(obj, self.max_depth) > self.max_depth:
            raise InvalidEvent("too_deep", f"nesting deeper than {self.max_depth} levels")
        version = obj.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise InvalidEvent(
                "unknown_schema_version",
                f"schema_version {version!r} is not supported (this worker reads {SCHEMA_VERSION})",
            )
        event_type = obj.get("event_type")
        if event_type not in _EVENT_TYPES:
            raise InvalidEvent(
                "unknown_event_type",
                f"event_type {event_type!r} is not one of {', '.join(_EVENT_TYPES)}",
            )
        try:
            return EVENT_ADAPTER.validate_python(obj)
        except ValidationError as exc:
            raise InvalidEvent("schema", _summarise(exc)) from None


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:10]:
        # The first location element is the union tag; the rest is the field path.
        loc = ".".join(str(p) for p in err["loc"][1:]) or "(event)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)
