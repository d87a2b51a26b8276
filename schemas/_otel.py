"""Mapping between our span fields and the OpenTelemetry GenAI semantic conventions.

Only the conversion of names and units lives here (pure, no OpenTelemetry
import), so an OTLP exporter or receiver can be a thin adapter around it.

One difference matters for cost: OpenTelemetry's ``gen_ai.usage.input_tokens``
*includes* cached and cache-write tokens, while our ``Usage.input_tokens``
excludes them so that each token is priced exactly once. The conversion adds
them back on the way out and subtracts them on the way in.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._common import ModelInfo, SpanKind, Usage
from ._events import SpanEvent

__all__ = ["GENAI_OPERATION", "from_genai_usage", "to_genai_attributes"]

AttributeValue = str | bool | int | float

#: ``gen_ai.operation.name`` for the span kinds that have one.
GENAI_OPERATION: Mapping[SpanKind, str] = {
    SpanKind.GENERATION: "chat",
    SpanKind.TOOL: "execute_tool",
    SpanKind.AGENT: "invoke_agent",
    SpanKind.RETRIEVAL: "retrieval",
}

_PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "seed": "gen_ai.request.seed",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
}


def to_genai_attributes(event: SpanEvent) -> dict[str, AttributeValue]:
    """The ``gen_ai.*`` (and ``error.type``, ``session.id``) attributes of a span."""
    attrs: dict[str, AttributeValue] = {}
    if (operation := GENAI_OPERATION.get(event.kind)) is not None:
        attrs["gen_ai.operation.name"] = operation
    if event.model is not None:
        attrs.update(_model_attributes(event.model))
    if event.usage is not None:
        usage = event.usage
        attrs["gen_ai.usage.input_tokens"] = (
            usage.input_tokens + usage.cached_tokens + usage.cache_write_tokens
        )
        attrs["gen_ai.usage.output_tokens"] = usage.output_tokens + usage.reasoning_tokens
        if usage.cached_tokens:
            attrs["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
        if usage.cache_write_tokens:
            attrs["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            attrs["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    if event.tool is not None:
        attrs["gen_ai.tool.name"] = event.tool.name
        if event.tool.call_id is not None:
            attrs["gen_ai.tool.call.id"] = event.tool.call_id
    if event.error is not None:
        attrs["error.type"] = event.error.type
    if event.trace is not None and event.trace.session_id is not None:
        attrs["gen_ai.conversation.id"] = event.trace.session_id
    return attrs


def _model_attributes(model: ModelInfo) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {"gen_ai.request.model": model.name}
    if model.provider is not None:
        attrs["gen_ai.provider.name"] = model.provider
    for key, name in _PARAMETERS.items():
        value = model.parameters.get(key)
        if isinstance(value, bool | int | float | str):
            attrs[name] = value
    return attrs


def from_genai_usage(attributes: Mapping[str, object]) -> Usage | None:
    """Our :class:`Usage` from ``gen_ai.usage.*`` attributes, or None if there are none."""

    def count(name: str) -> int:
        value = attributes.get(name, 0)
        return value if isinstance(value, int) and value > 0 else 0

    if not any(key.startswith("gen_ai.usage.") for key in attributes):
        return None
    cached = count("gen_ai.usage.cache_read.input_tokens")
    cache_write = count("gen_ai.usage.cache_creation.input_tokens")
    reasoning = count("gen_ai.usage.reasoning.output_tokens")
    return Usage(
        input_tokens=max(count("gen_ai.usage.input_tokens") - cached - cache_write, 0),
        output_tokens=max(count("gen_ai.usage.output_tokens") - reasoning, 0),
        cached_tokens=cached,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )
