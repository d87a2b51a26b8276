"""Span attributes of every GenAI dialect -> the fields of our span events.

Pure code over plain values (no protobuf, no I/O): the receiver decodes OTLP
into a ``dict`` of attributes and a list of :class:`OtelEvent`, and
:func:`map_genai` reads the dialects below into our fields. Token counts are
read by :func:`tracestream.schemas.from_genai_usage` (the one place that turns
the conventions' inclusive counts into our exclusive kinds); the outward
operation names by :data:`tracestream.schemas.GENAI_OPERATION`.

Dialects, in the order they win when several are present:

1. OpenTelemetry GenAI semantic conventions (current, then deprecated names,
   then their event forms);
2. OpenInference (``openinference.span.kind``, ``llm.*``, ``input.value``, ...);
3. OpenLLMetry (``traceloop.*``, indexed ``gen_ai.prompt.{i}.*``);
4. Vercel AI SDK (``ai.*``) and Pydantic AI / Logfire tool attributes.

An attribute that was turned into a field is removed from the attributes the
span keeps; everything else (unknown names, ``gen_ai.response.*``, ...) is kept
as it came, so nothing is dropped silently. ``docs/otel.md`` has the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import JsonValue

from tracestream.schemas import GENAI_OPERATION, SpanKind, Usage, from_genai_usage

__all__ = ["GenAiFields", "OtelEvent", "map_genai"]

#: ``gen_ai.operation.name`` -> our kind: the inverse of the outward mapping,
#: plus the operations that have no outward counterpart.
OPERATION_KINDS: Mapping[str, SpanKind] = {
    **{operation: kind for kind, operation in GENAI_OPERATION.items()},
    "text_completion": SpanKind.GENERATION,
    "generate_content": SpanKind.GENERATION,
    # An embedding call is a priced model call like a completion.
    "embeddings": SpanKind.GENERATION,
    "create_agent": SpanKind.AGENT,
}

OPENINFERENCE_KINDS: Mapping[str, SpanKind] = {
    "LLM": SpanKind.GENERATION,
    "EMBEDDING": SpanKind.GENERATION,
    "CHAIN": SpanKind.STEP,
    "RETRIEVER": SpanKind.RETRIEVAL,
    "RERANKER": SpanKind.RETRIEVAL,
    "TOOL": SpanKind.TOOL,
    "AGENT": SpanKind.AGENT,
    "GUARDRAIL": SpanKind.STEP,
    "EVALUATOR": SpanKind.STEP,
    "PROMPT": SpanKind.STEP,
}

TRACELOOP_KINDS: Mapping[str, SpanKind] = {
    "workflow": SpanKind.WORKFLOW,
    "task": SpanKind.STEP,
    "agent": SpanKind.AGENT,
    "tool": SpanKind.TOOL,
}

#: Vercel AI SDK ``ai.operationId`` values: the provider call itself, and tool calls.
_VERCEL_GENERATION_SUFFIXES = (".doGenerate", ".doStream", ".doEmbed")

#: Older span-event form of messages (one event per message) -> role.
_MESSAGE_EVENTS: Mapping[str, str] = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"

_LABEL_MAX = 256
_PARAMETER_PREFIXES = ("gen_ai.request.", "ai.settings.")


@dataclass(frozen=True, slots=True)
class OtelEvent:
    """A span event (OTLP ``Span.Event``) in plain form."""

    name: str
    time_unix_nano: int
    attributes: dict[str, JsonValue]


@dataclass(slots=True)
class GenAiFields:
    """What :func:`map_genai` read from a span's attributes and events."""

    kind: SpanKind = SpanKind.STEP
    input: JsonValue = None
    output: JsonValue = None
    model: dict[str, JsonValue] | None = None
    tool: dict[str, JsonValue] | None = None
    usage: Usage | None = None
    session_id: str | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    #: The attributes not turned into a field, kept on the span.
    attributes: dict[str, JsonValue] = field(default_factory=dict)
    #: The events not turned into a field, kept on the span.
    events: list[OtelEvent] = field(default_factory=list)


class _Reader:
    """Attributes with a record of which ones were used."""

    def __init__(self, attributes: Mapping[str, JsonValue]) -> None:
        self.attrs = attributes
        self.used: set[str] = set()

    def first(self, *names: str) -> JsonValue:
        """The value of the first present name (marked used), or None."""
        for name in names:
            value = self.attrs.get(name)
            if value is not None:
                self.used.add(name)
                return value
        return None

    def peek(self, *names: str) -> JsonValue:
        """Like :meth:`first`, without marking the name used."""
        for name in names:
            value = self.attrs.get(name)
            if value is not None:
                return value
        return None

    def label(self, *names: str) -> str | None:
        """The first present name whose value fits a label (1-256 characters)."""
        for name in names:
            value = self.attrs.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool):
                text = str(value)
                if 0 < len(text) <= _LABEL_MAX:
                    self.used.add(name)
                    return text
        return None

    def indexed(self, prefix: str) -> list[Any] | None:
        """Flattened ``prefix.{i}.a.b`` attributes as a list of nested dicts (marked used)."""
        keys = [k for k in self.attrs if k.startswith(prefix)]
        if not keys:
            return None
        tree = unflatten({k[len(prefix) :]: self.attrs[k] for k in keys})
        if not isinstance(tree, list):
            return None
        self.used.update(keys)
        return tree

    def remaining(self) -> dict[str, JsonValue]:
        return {k: v for k, v in self.attrs.items() if k not in self.used}


def unflatten(flat: Mapping[str, JsonValue]) -> JsonValue:
    """``{"0.message.role": "user"}`` -> ``[{"message": {"role": "user"}}]``.

    Numeric path segments make lists (in index order, gaps closed); the rest
    make objects. A key that is both a leaf and a parent keeps the parent.
    """
    root: dict[str, Any] = {}
    for key, value in flat.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value
    tree: JsonValue = _lists(root)
    return tree


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def parse_json(value: JsonValue) -> JsonValue:
    """A JSON-looking string parsed, anything else (or unparsable text) unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            parsed: JsonValue = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return parsed
    return value


def _openinference_message(item: Any) -> JsonValue:
    """``{"message": {"role", "content", "tool_calls": [{"tool_call": {...}}]}}`` -> a message."""
    message: JsonValue = item.get("message", item) if isinstance(item, dict) else item
    if not isinstance(message, dict):
        return message
    out = dict(message)
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [
            _openinference_tool_call(c.get("tool_call", c) if isinstance(c, dict) else c)
            for c in calls
        ]
    contents = out.get("contents")
    if isinstance(contents, list):
        out["contents"] = [_openinference_content(c) for c in contents]
    return out


def _openinference_tool_call(body: JsonValue) -> JsonValue:
    """A tool call with its ``function.arguments`` parsed from JSON."""
    if isinstance(body, dict) and isinstance(fn := body.get("function"), dict):
        return {**body, "function": {**fn, "arguments": parse_json(fn.get("arguments"))}}
    return body


def _openinference_content(item: JsonValue) -> JsonValue:
    """``{"message_content": {...}}`` -> the part; a ``tool_call`` beside it (Anthropic's
    ``tool_use`` blocks) is kept in the part, not dropped."""
    if not isinstance(item, dict) or not isinstance(part := item.get("message_content"), dict):
        return item
    out = dict(part)
    for key, value in item.items():
        if key != "message_content":
            out[key] = _openinference_tool_call(value) if key == "tool_call" else value
    return out


def _traceloop_message(item: JsonValue) -> JsonValue:
    """OpenLLMetry's ``gen_ai.prompt.{i}`` item: content may be JSON, tool calls indexed."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    if "content" in out:
        out["content"] = parse_json(out["content"])
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [
            {**c, "arguments": parse_json(c.get("arguments"))} if isinstance(c, dict) else c
            for c in calls
        ]
    return out


def _event_messages(events: Sequence[OtelEvent], used: set[int]) -> tuple[JsonValue, JsonValue]:
    """(input, output) from the per-message events (``gen_ai.user.message``, ``gen_ai.choice``)."""
    inputs: list[JsonValue] = []
    outputs: list[JsonValue] = []
    for i, event in enumerate(events):
        role = _MESSAGE_EVENTS.get(event.name)
        if role is None and event.name != "gen_ai.choice":
            continue
        used.add(i)
        body = {k.removeprefix("gen_ai."): parse_json(v) for k, v in event.attributes.items()}
        if role is not None:
            inputs.append({"role": role, **body} if "role" not in body else body)
        else:
            outputs.append(body)
    return (inputs or None), (outputs or None)


def _messages_with_system(messages: JsonValue, system: JsonValue) -> JsonValue:
    if system is None:
        return messages
    head: list[JsonValue] = [{"role": "system", "parts": system}]
    if messages is None:
        return head
    return head + (messages if isinstance(messages, list) else [messages])


def _kind(r: _Reader) -> SpanKind:
    operation = r.peek("gen_ai.operation.name")
    # gen_ai.operation.name stays in the attributes: several operations share a
    # kind (chat, text_completion and embeddings are all generations).
    if isinstance(operation, str) and operation in OPERATION_KINDS:
        return OPERATION_KINDS[operation]
    oi = r.peek("openinference.span.kind")
    if isinstance(oi, str) and oi.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[oi.upper()]
    traceloop = r.peek("traceloop.span.kind")
    if isinstance(traceloop, str) and traceloop in TRACELOOP_KINDS:
        return TRACELOOP_KINDS[traceloop]
    vercel = r.peek("ai.operationId")
    if isinstance(vercel, str):
        if vercel.endswith(_VERCEL_GENERATION_SUFFIXES):
            return SpanKind.GENERATION
        if vercel == "ai.toolCall":
            return SpanKind.TOOL
    if r.peek("gen_ai.tool.name", "gen_ai.tool.call.id") is not None:
        return SpanKind.TOOL
    if r.peek("gen_ai.request.model", "llm.model_name") is not None:
        return SpanKind.GENERATION
    return SpanKind.STEP


def _model(r: _Reader) -> dict[str, JsonValue] | None:
    name = r.label("gen_ai.request.model", "llm.model_name", "ai.model.id", "gen_ai.response.model")
    if name is None:
        return None
    model: dict[str, JsonValue] = {"name": name}
    provider = r.label(
        "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider"
    )
    if provider is not None:
        model["provider"] = provider
    parameters: dict[str, JsonValue] = {}
    invocation = parse_json(r.first("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        parameters.update(invocation)
    for key, value in r.attrs.items():
        # One startswith per attribute (a span has ~15): the two prefixes exclude each other.
        if key.startswith(_PARAMETER_PREFIXES) and key != "gen_ai.request.model":
            prefix = _PARAMETER_PREFIXES[0] if key[0] == "g" else _PARAMETER_PREFIXES[1]
            parameters[key[len(prefix) :]] = value
            r.used.add(key)
    if parameters:
        model["parameters"] = parameters
    return model


def _tool(r: _Reader, kind: SpanKind, span_name: str) -> dict[str, JsonValue] | None:
    name = r.label("gen_ai.tool.name", "tool.name", "ai.toolCall.name")
    if name is None and kind is SpanKind.TOOL:
        name = r.label("traceloop.entity.name") or span_name[:_LABEL_MAX] or "tool"
    if name is None:
        return None
    tool: dict[str, JsonValue] = {"name": name}
    call_id = r.label("gen_ai.tool.call.id", "ai.toolCall.id")
    if call_id is not None:
        tool["call_id"] = call_id
    arguments = r.first("gen_ai.tool.call.arguments", "tool_arguments", "ai.toolCall.args")
    if arguments is not None:
        tool["arguments"] = parse_json(arguments)
    result = r.first("gen_ai.tool.call.result", "tool_response", "ai.toolCall.result")
    if result is not None:
        tool["result"] = parse_json(result)
    return tool


def _first_of(*getters: Callable[[], JsonValue]) -> JsonValue:
    """The first getter's non-None value; later getters do not run (nor mark attributes used)."""
    for getter in getters:
        value = getter()
        if value is not None:
            return value
    return None


def _io(r: _Reader, events: Sequence[OtelEvent], used_events: set[int]) -> tuple[JsonValue, ...]:
    """(input, output) from the first dialect that has them."""
    details: Mapping[str, JsonValue] = {}
    for i, event in enumerate(events):
        if event.name == _DETAILS_EVENT:
            details = event.attributes
            used_events.add(i)
            break
    legacy: dict[str, JsonValue] = {}
    for i, event in enumerate(events):
        if event.name in ("gen_ai.content.prompt", "gen_ai.content.completion"):
            legacy.update(event.attributes)
            used_events.add(i)
    from_events = _event_messages(events, used_events)

    def indexed(prefix: str, convert: Callable[[Any], JsonValue]) -> Callable[[], JsonValue]:
        def get() -> JsonValue:
            items = r.indexed(prefix)
            return None if items is None else [convert(item) for item in items]

        return get

    def mime_value(name: str) -> Callable[[], JsonValue]:
        def get() -> JsonValue:
            value = r.first(name)
            if r.first(f"{name.rsplit('.', 1)[0]}.mime_type") == "application/json":
                return parse_json(value)
            return value

        return get

    system = r.first("gen_ai.system_instructions")
    if system is None:
        system = details.get("gen_ai.system_instructions")
    inputs = _first_of(
        lambda: parse_json(r.first("gen_ai.input.messages")),
        lambda: parse_json(details.get("gen_ai.input.messages")),
        indexed("llm.input_messages.", _openinference_message),
        indexed("gen_ai.prompt.", _traceloop_message),
        lambda: parse_json(r.first("gen_ai.prompt")),
        lambda: parse_json(legacy.get("gen_ai.prompt")),
        lambda: from_events[0],
        lambda: parse_json(r.first("traceloop.entity.input")),
        lambda: parse_json(r.first("ai.prompt.messages", "ai.prompt")),
        mime_value("input.value"),
    )
    outputs = _first_of(
        lambda: parse_json(r.first("gen_ai.output.messages")),
        lambda: parse_json(details.get("gen_ai.output.messages")),
        indexed("llm.output_messages.", _openinference_message),
        indexed("gen_ai.completion.", _traceloop_message),
        lambda: parse_json(r.first("gen_ai.completion")),
        lambda: parse_json(legacy.get("gen_ai.completion")),
        lambda: from_events[1],
        lambda: parse_json(r.first("traceloop.entity.output")),
        lambda: parse_json(r.first("ai.response.text", "ai.response.object")),
        mime_value("output.value"),
    )
    return _messages_with_system(inputs, parse_json(system)), outputs


def _tags(r: _Reader) -> tuple[str, ...]:
    value = r.peek("tag.tags")
    if isinstance(value, str):
        value = parse_json(value)
    if not isinstance(value, list) or len(value) > 64:
        return ()
    if not all(isinstance(t, str) and 0 < len(t) <= _LABEL_MAX for t in value):
        return ()
    r.used.add("tag.tags")
    return tuple(str(t) for t in value)


def map_genai(
    attributes: Mapping[str, JsonValue], events: Sequence[OtelEvent] = (), *, span_name: str = ""
) -> GenAiFields:
    """Our fields from a span's attributes and events. Pure; never raises.

    Args:
        attributes: the span's attributes, decoded (strings, numbers, lists, objects).
        events: the span's events; those read into fields are not returned again.
        span_name: used as the tool name of a tool span that names no tool.
    """
    r = _Reader(attributes)
    used_events: set[int] = set()
    kind = _kind(r)
    fields = GenAiFields(kind=kind)
    fields.model = _model(r)
    fields.tool = _tool(r, kind, span_name)
    fields.input, fields.output = _io(r, events, used_events)
    if fields.tool is not None and kind is SpanKind.TOOL:
        # OpenInference and OpenLLMetry carry a tool's arguments and result as the
        # span's input and output; our ToolCall holds them.
        if "arguments" not in fields.tool and fields.input is not None:
            fields.tool["arguments"], fields.input = fields.input, None
        if "result" not in fields.tool and fields.output is not None:
            fields.tool["result"], fields.output = fields.output, None
    # The token counts stay in the attributes too: they are the producer's own
    # (inclusive) numbers, small, and what a reader compares our kinds against.
    fields.usage = from_genai_usage(attributes)
    fields.session_id = r.label(
        "gen_ai.conversation.id", "session.id", "traceloop.association.properties.session_id"
    )
    fields.user_id = r.label("user.id", "enduser.id", "traceloop.association.properties.user_id")
    fields.tags = _tags(r)
    metadata = r.peek("metadata")
    kept = r.remaining()
    if isinstance(metadata, str):
        kept["metadata"] = parse_json(metadata)
    fields.attributes = kept
    fields.events = [e for i, e in enumerate(events) if i not in used_events]
    return fields
