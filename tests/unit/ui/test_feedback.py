"""A score from the trace page becomes the contract's ScoreEvent, filed under the stored tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tracestream.schemas import EVENT_ADAPTER, ScoreEvent
from tracestream.ui import build_score_event, parse_score_request

pytestmark = pytest.mark.unit

TRACE = "0" * 31 + "a"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def event(body: dict[str, Any]) -> ScoreEvent:
    request = parse_score_request(body)
    return build_score_event(request, project="shop", environment="production", now=NOW)


def test_a_thumbs_score_on_a_span_is_a_valid_score_event() -> None:
    made = event({"trace_id": TRACE, "span_id": "0" * 15 + "b", "name": "thumbs",
                  "value": True, "comment": "good answer", "kind": "thumbs"})  # fmt: skip
    wire = made.model_dump_json(exclude_none=True)
    parsed = EVENT_ADAPTER.validate_json(wire)
    assert isinstance(parsed, ScoreEvent)
    assert parsed == made
    assert (parsed.project, parsed.environment, parsed.service) == (
        "shop", "production", "tracestream-ui",
    )  # fmt: skip
    assert (parsed.value, parsed.source, parsed.comment, parsed.timestamp) == (
        True, "human", "good answer", NOW,
    )  # fmt: skip
    assert parsed.event_id[14] == "7"  # UUIDv7


def test_numbers_and_labels_keep_their_type() -> None:
    assert (
        event({"trace_id": TRACE, "name": "quality", "value": 0.8, "kind": "number"}).value == 0.8
    )
    assert event({"trace_id": TRACE, "name": "quality", "value": 3}).value == 3.0
    assert event({"trace_id": TRACE, "name": "topic", "value": "billing"}).value == "billing"
    assert event({"trace_id": TRACE, "name": "n", "value": 1, "comment": ""}).comment is None


def test_every_score_gets_its_own_event_id() -> None:
    body = {"trace_id": TRACE, "name": "thumbs", "value": False}
    assert event(body).event_id != event(body).event_id


@pytest.mark.parametrize(
    "body",
    [
        {"trace_id": "not-hex", "name": "n", "value": 1},
        {"trace_id": TRACE, "span_id": "xyz", "name": "n", "value": 1},
        {"trace_id": TRACE, "name": "", "value": 1},
        {"trace_id": TRACE, "name": "n", "value": [1]},
        {"trace_id": TRACE, "name": "n", "value": 1, "project": "someone-else"},
        {"trace_id": TRACE, "name": "n", "value": 0.5, "kind": "thumbs"},
        {"trace_id": TRACE, "name": "n", "value": True, "kind": "number"},
        {"trace_id": TRACE, "name": "n", "value": 2.0, "kind": "label"},
    ],
)
def test_bad_bodies_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_score_request(body)


@pytest.mark.parametrize("value", [float("nan"), ""])
def test_the_contract_has_the_last_word(value: float | str) -> None:
    with pytest.raises(ValueError):
        event({"trace_id": TRACE, "name": "n", "value": value})
