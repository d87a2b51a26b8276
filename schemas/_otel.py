"""Mapping between our span fields and the OpenTelemetry GenAI semantic conventions.

Only the conversion of names and units lives here (pure, no OpenTelemetry
import), so an OTLP exporter or receiver can be a thin adapter around it.

One difference matters for cost: OpenTelemetry's ``gen_ai.usage.input_tokens``
*includes* cached and cache-write tokens, while our ``Usage.input_tokens``
excludes them so that each token is priced exactly once. The conversion adds
them back on the way out and subtracts them on the way in.

On the way in, the usage names of every dialect seen in the wild are read
(:data:`USAGE_ATTRIBUTES`): the current conventions, their deprecated names,
OpenLLMetry's underscore forms, OpenInference's ``llm.token_count.*`` and the
Vercel AI SDK's ``ai.usage.*``. All of them count cached tokens inside the
input and reasoning tokens inside the output.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._common import ModelInfo, SpanKind, Usage
from ._events import SpanEvent

__all__ = ["GENAI_OPERATION", "USAGE_ATTRIBUTES", "from_genai_usage", "to_genai_attributes"]

AttributeValue = str | bool | int | float

#: ``gen_ai.operation.name`` for the span kinds that have one.
GENAI_OPERATION: Mapping[SpanKind, str] = {
    SpanKind.GENERATION: "chat",
    SpanKind.TOOL: "execute_tool",
    SpanKind.AGENT: "invoke_agent",
    SpanKind.RETRIEVAL: "retrieval",
    SpanKind.WORKFLOW: "invoke_workflow",
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


#: Attribute names read for each kind of token count, the first present one wins.
#: Every dialect here counts cached (read and write) tokens inside the input and
#: reasoning tokens inside the output, as the GenAI conventions do.
USAGE_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "input": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",  # deprecated
        "llm.token_count.prompt",  # OpenInference
        "ai.usage.inputTokens",  # Vercel AI SDK 5
        "ai.usage.promptTokens",  # Vercel AI SDK 4
    ),
    "output": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",  # deprecated
        "llm.token_count.completion",
        "ai.usage.outputTokens",
        "ai.usage.completionTokens",
    ),
    "cache_read": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry
        "llm.token_count.prompt_details.cache_read",
        "ai.usage.cachedInputTokens",
    ),
    "cache_write": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",  # OpenLLMetry
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",  # OpenLLMetry
        "llm.token_count.completion_details.reasoning",
        "ai.usage.reasoningTokens",
    ),
}


def _token_count(value: object) -> int | None:
    """A non-negative whole count from an attribute value, or None if it is not one.

    OTLP/JSON carries 64-bit integers as strings, and JavaScript exporters send
    every number as a double, so both are accepted when they hold a whole number.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def from_genai_usage(attributes: Mapping[str, object]) -> Usage | None:
    """Our :class:`Usage` from token-count attributes, or None if there are none.

    Reads every name in :data:`USAGE_ATTRIBUTES`. The conventions' inclusive
    counts become our exclusive kinds: ``input = input - cache_read - cache_write``
    and ``output = output - reasoning``, so no token is priced twice. A producer
    that already reports exclusive counts (its cached tokens exceed its input
    count, as Anthropic's raw usage does) is taken as it is rather than clamped
    to zero, which would lose its input tokens.
    """
    counts: dict[str, int] = {}
    get = attributes.get
    for kind, names in USAGE_ATTRIBUTES.items():
        for name in names:
            # Most names are absent: skip them before the type checks (a receiver
            # reads ~20 names per span).
            value = get(name)
            if value is not None and (count := _token_count(value)) is not None:
                counts[kind] = count
                break
    if not counts:
        return None
    cached = counts.get("cache_read", 0)
    cache_write = counts.get("cache_write", 0)
    reasoning = counts.get("reasoning", 0)
    input_tokens = counts.get("input", 0)
    output_tokens = counts.get("output", 0)
    if input_tokens >= cached + cache_write:
        input_tokens -= cached + cache_write
    if output_tokens >= reasoning:
        output_tokens -= reasoning
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )
