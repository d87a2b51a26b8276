"""Turning an event dict into wire bytes: JSON, size caps with a visible marker, masking.

Fast path: one ``orjson.dumps``. Only when the result is larger than the
per-field cap does the slow path look at fields one by one; only values over
the cap are replaced, by a marker that says what was cut::

    {"tracestream.truncated": true, "original_bytes": 183211, "preview": "[{\"role\": ..."}

Values JSON cannot carry (sets, bytes, arbitrary objects, pydantic models)
are converted, never refused: models through ``model_dump``, sets to lists,
anything else to its ``repr`` (capped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tracestream.schemas import exact

__all__ = [
    "MASK_FAILED",
    "TRUNCATED_KEY",
    "Mask",
    "apply_mask",
    "dumps",
    "encode_event",
    "truncated_marker",
]

#: A client-side hook: receives a value about to leave the process, returns what to send.
Mask = Callable[[Any], Any]

TRUNCATED_KEY = "tracestream.truncated"
MASK_FAILED = {"tracestream.mask_failed": True}

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_PAYLOAD_FIELDS = ("input", "output")
_PREVIEW_CHARS = 256
_REPR_CHARS = 2048


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception:  # noqa: BLE001 - fall back to repr below
            pass
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"tracestream.bytes": len(value)}
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break tracing
        text = f"<{type(value).__name__}>"
    return text[:_REPR_CHARS]


def dumps(value: Any) -> bytes:
    """JSON bytes for any value; unserializable parts converted (see module docstring).

    Raises:
        TypeError: only for values orjson rejects outright even after conversion
            (integers over 64 bits, nesting deeper than 254); callers fall back
            to :func:`_sanitize`.
    """
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def _sanitize(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value``: big ints as strings, deep nesting cut."""
    if depth > 30:
        return "<nested too deep>"
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {str(k): _sanitize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_sanitize(v, depth + 1) for v in value]
    try:
        return orjson.loads(dumps(value))
    except Exception:  # noqa: BLE001
        return _default(value)


def truncated_marker(raw: bytes) -> dict[str, Any]:
    """The visible stand-in for a value whose JSON was ``raw`` and too large."""
    preview = raw[: _PREVIEW_CHARS * 4].decode("utf-8", "ignore")[:_PREVIEW_CHARS]
    return {TRUNCATED_KEY: True, "original_bytes": len(raw), "preview": preview}


def _cap(value: Any, max_bytes: int) -> Any:
    try:
        raw = dumps(value)
    except TypeError:
        value = _sanitize(value)
        raw = dumps(value)
    return truncated_marker(raw) if len(raw) > max_bytes else value


def encode_event(event: dict[str, Any], max_field_bytes: int, max_event_bytes: int) -> bytes:
    """Serialize ``event``, capping payload fields at ``max_field_bytes`` and the whole
    event at ``max_event_bytes``. Mutates ``event`` when it truncates.

    Raises:
        TypeError: the event cannot be serialized even after sanitizing (not
            expected; the tracer counts it as a drop).
    """
    try:
        data = dumps(event)
    except TypeError:
        event = _sanitize(event)
        data = dumps(event)
    if len(data) <= max_field_bytes:
        return exact(data)
    for name in _PAYLOAD_FIELDS:
        if event.get(name) is not None:
            event[name] = _cap(event[name], max_field_bytes)
    attributes = event.get("attributes")
    if attributes:
        event["attributes"] = {k: _cap(v, max_field_bytes) for k, v in attributes.items()}
    tool = event.get("tool")
    if tool:
        for name in ("arguments", "result"):
            if tool.get(name) is not None:
                tool[name] = _cap(tool[name], max_field_bytes)
    data = dumps(event)
    if len(data) <= max_event_bytes:
        return exact(data)
    # Still too large (many fields just under the cap): cut every payload to a marker.
    small = max(_PREVIEW_CHARS * 2, max_event_bytes // 64)
    for name in _PAYLOAD_FIELDS:
        if event.get(name) is not None:
            event[name] = _cap(event[name], small)
    if attributes:
        event["attributes"] = {k: _cap(v, small) for k, v in event["attributes"].items()}
    if tool:
        for name in ("arguments", "result"):
            tool[name] = _cap(tool.get(name), small)
    error = event.get("error")
    if error and error.get("stack"):
        error["stack"] = error["stack"][-small:]
    if event.get("model"):
        event["model"]["parameters"] = _cap(event["model"].get("parameters", {}), small)
        if not isinstance(event["model"]["parameters"], dict):
            event["model"]["parameters"] = {"truncated": event["model"]["parameters"]}
    return exact(dumps(event))


def apply_mask(mask: Mask | None, value: Any) -> Any:
    """Run the user's mask hook on ``value``. If the hook raises, the value is
    replaced by :data:`MASK_FAILED`: an unmasked value never leaves the process."""
    if mask is None or value is None:
        return value
    try:
        return mask(value)
    except Exception:  # noqa: BLE001 - the hook is user code
        return dict(MASK_FAILED)
