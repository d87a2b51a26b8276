"""Export the JSON Schema of the wire contract (checked in as ``event.schema.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ._events import EVENT_ADAPTER

__all__ = ["SCHEMA_FILE", "event_json_schema", "render_event_json_schema"]

SCHEMA_FILE = Path(__file__).with_name("event.schema.json")


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of one event (the discriminated union), as a dict."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tracestream.dev/schemas/event-v1.schema.json"
    schema["title"] = "tracestream event (schema_version 1)"
    return schema


def render_event_json_schema() -> bytes:
    """The checked-in file's exact bytes: sorted keys, two-space indent, newline."""
    return (
        orjson.dumps(event_json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
