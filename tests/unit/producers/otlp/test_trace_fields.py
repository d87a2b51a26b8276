"""Session, user and tags named on one span of a trace reach every event of it in the request."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from opentelemetry.trace import Tracer

from tracestream.producers.otlp import convert_request

from ._otlp import sdk_request

pytestmark = pytest.mark.unit


def _traces(record: Any) -> dict[str, Any]:
    conversion = convert_request(sdk_request(record, {"service.name": "bot",
                                                      "service.version": "1.2"}), project="p")  # fmt: skip
    assert conversion.rejected == 0, conversion.messages
    events = [orjson.loads(r.value) for r in conversion.records]
    return {e["name"]: e["trace"] for e in events}


def test_the_roots_session_and_user_reach_its_children() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("agent") as root:
            root.set_attributes({"session.id": "s-1", "user.id": "u-1", "tag.tags": ["vip"]})
            with tracer.start_as_current_span("chat"), tracer.start_as_current_span("tool"):
                pass

    traces = _traces(record)
    for name in ("agent", "chat", "tool"):
        assert traces[name]["session_id"] == "s-1", name
        assert traces[name]["user_id"] == "u-1"
        assert traces[name]["tags"] == ["vip"]
        assert traces[name]["release"] == "1.2"


def test_a_spans_own_value_is_kept_and_the_root_wins_over_other_spans() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("agent") as root:
            root.set_attribute("session.id", "root-session")
            with tracer.start_as_current_span("chat") as chat:
                chat.set_attributes({"session.id": "chat-session", "user.id": "u-2"})
            with tracer.start_as_current_span("tool"):
                pass

    traces = _traces(record)
    assert traces["chat"]["session_id"] == "chat-session"
    assert traces["tool"]["session_id"] == "root-session"  # the root's, not chat's
    # No root value for user: the span that names one gives it to the others.
    assert traces["agent"]["user_id"] == traces["tool"]["user_id"] == "u-2"


def test_other_traces_are_not_touched() -> None:
    def record(tracer: Tracer) -> None:
        with tracer.start_as_current_span("first") as first:
            first.set_attribute("session.id", "s-1")
        with tracer.start_as_current_span("second"):
            pass

    traces = _traces(record)
    assert traces["first"]["session_id"] == "s-1"
    assert traces["second"]["session_id"] is None
