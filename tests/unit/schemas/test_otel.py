"""The GenAI semantic-convention mapping keeps every token counted once."""

from __future__ import annotations

import pytest

from tracestream.schemas import SpanEvent, Usage, from_genai_usage, to_genai_attributes
from tracestream.schemas._events import EVENT_ADAPTER

from .test_events import span_event

pytestmark = pytest.mark.unit


def test_generation_attributes_follow_the_conventions() -> None:
    event = EVENT_ADAPTER.validate_python(
        span_event(
            usage={
                "input_tokens": 100,
                "output_tokens": 20,
                "cached_tokens": 300,
                "cache_write_tokens": 5,
                "reasoning_tokens": 7,
            },
            error={"type": "RateLimitError", "message": "slow down"},
        )
    )
    assert isinstance(event, SpanEvent)
    attrs = to_genai_attributes(event)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.usage.input_tokens"] == 405
    assert attrs["gen_ai.usage.output_tokens"] == 27
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 300
    assert attrs["error.type"] == "RateLimitError"
    assert attrs["gen_ai.conversation.id"] == "s-1"


def test_usage_round_trips_through_the_conventions() -> None:
    usage = Usage(
        input_tokens=100,
        output_tokens=20,
        cached_tokens=300,
        cache_write_tokens=5,
        reasoning_tokens=7,
    )
    event = EVENT_ADAPTER.validate_python(span_event(usage=usage.model_dump()))
    assert isinstance(event, SpanEvent)
    assert from_genai_usage(to_genai_attributes(event)) == usage
    assert from_genai_usage({"gen_ai.request.model": "x"}) is None
