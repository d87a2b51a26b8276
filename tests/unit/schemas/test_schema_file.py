"""The checked-in JSON Schema and the pydantic models must agree."""

from __future__ import annotations

import orjson
import pytest

from tracestream.schemas import SCHEMA_FILE, event_json_schema, render_event_json_schema

pytestmark = pytest.mark.unit


def test_checked_in_schema_matches_the_models() -> None:
    assert SCHEMA_FILE.read_bytes() == render_event_json_schema(), (
        "schemas/event.schema.json is stale: run `tracestream schema --write` and commit it"
    )


def test_schema_covers_every_event_type() -> None:
    schema = event_json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert sorted(mapping) == ["score", "span", "span.end", "span.start"]
    assert orjson.loads(SCHEMA_FILE.read_bytes())["$id"].endswith("event-v1.schema.json")
