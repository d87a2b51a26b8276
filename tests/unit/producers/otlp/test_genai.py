"""Every dialect's attributes land in our fields, one rule per test."""

from __future__ import annotations

import orjson
import pytest

from tracestream.producers.otlp import OtelEvent, map_genai
from tracestream.schemas import SpanKind, Usage, from_genai_usage

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ("chat", SpanKind.GENERATION),
        ("text_completion", SpanKind.GENERATION),
        ("generate_content", SpanKind.GENERATION),
        ("embeddings", SpanKind.GENERATION),
        ("execute_tool", SpanKind.TOOL),
        ("retrieval", SpanKind.RETRIEVAL),
        ("invoke_agent", SpanKind.AGENT),
        ("create_agent", SpanKind.AGENT),
        ("invoke_workflow", SpanKind.WORKFLOW),
    ],
)
def test_operation_name_sets_the_kind_and_stays_in_attributes(
    operation: str, kind: SpanKind
) -> None:
    fields = map_genai({"gen_ai.operation.name": operation})
    assert fields.kind is kind
    assert fields.attributes["gen_ai.operation.name"] == operation


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        ({"openinference.span.kind": "LLM"}, SpanKind.GENERATION),
        ({"openinference.span.kind": "EMBEDDING"}, SpanKind.GENERATION),
        ({"openinference.span.kind": "RETRIEVER"}, SpanKind.RETRIEVAL),
        ({"openinference.span.kind": "RERANKER"}, SpanKind.RETRIEVAL),
        ({"openinference.span.kind": "TOOL"}, SpanKind.TOOL),
        ({"openinference.span.kind": "AGENT"}, SpanKind.AGENT),
        ({"openinference.span.kind": "CHAIN"}, SpanKind.STEP),
        ({"traceloop.span.kind": "workflow"}, SpanKind.WORKFLOW),
        ({"traceloop.span.kind": "task"}, SpanKind.STEP),
        ({"traceloop.span.kind": "tool"}, SpanKind.TOOL),
        ({"ai.operationId": "ai.generateText.doGenerate"}, SpanKind.GENERATION),
        ({"ai.operationId": "ai.toolCall"}, SpanKind.TOOL),
        ({"gen_ai.request.model": "gpt-4o"}, SpanKind.GENERATION),
        ({"llm.model_name": "gpt-4o"}, SpanKind.GENERATION),
        ({"gen_ai.tool.name": "search"}, SpanKind.TOOL),
        ({"http.method": "GET"}, SpanKind.STEP),
        ({"gen_ai.operation.name": "something_new"}, SpanKind.STEP),
    ],
)
def test_other_dialects_set_the_kind(attributes: dict[str, str], kind: SpanKind) -> None:
    assert map_genai(attributes).kind is kind


def test_model_provider_and_request_parameters() -> None:
    fields = map_genai(
        {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 256,
            "gen_ai.request.stop_sequences": ["\n"],
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.response.finish_reasons": ["stop"],
        }
    )
    assert fields.model == {
        "name": "gpt-4o",
        "provider": "openai",
        "parameters": {"temperature": 0.2, "max_tokens": 256, "stop_sequences": ["\n"]},
    }
    # Response facts are kept as they came: the request model is the one priced.
    assert fields.attributes == {
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ["stop"],
    }


def test_deprecated_gen_ai_system_is_the_provider() -> None:
    fields = map_genai({"gen_ai.request.model": "claude-3-5", "gen_ai.system": "anthropic"})
    assert fields.model == {"name": "claude-3-5", "provider": "anthropic"}
    assert fields.attributes == {}


def test_provider_name_wins_over_deprecated_system() -> None:
    fields = map_genai(
        {"gen_ai.request.model": "m", "gen_ai.provider.name": "new", "gen_ai.system": "old"}
    )
    assert fields.model is not None and fields.model["provider"] == "new"
    assert fields.attributes == {"gen_ai.system": "old"}


def test_response_model_names_the_model_when_the_request_does_not() -> None:
    fields = map_genai({"gen_ai.response.model": "gpt-4o-mini-2024"})
    assert fields.model == {"name": "gpt-4o-mini-2024"}


def test_no_model_name_keeps_provider_and_parameters_as_attributes() -> None:
    attrs = {"gen_ai.provider.name": "openai", "gen_ai.request.temperature": 0.1}
    fields = map_genai(attrs)
    assert fields.model is None
    assert fields.attributes == attrs


def test_input_and_output_messages_with_system_instructions() -> None:
    messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    output = [{"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}]
    system = [{"type": "text", "content": "be brief"}]
    fields = map_genai(
        {
            "gen_ai.input.messages": orjson.dumps(messages).decode(),
            "gen_ai.output.messages": orjson.dumps(output).decode(),
            "gen_ai.system_instructions": orjson.dumps(system).decode(),
        }
    )
    assert fields.input == [{"role": "system", "parts": system}, *messages]
    assert fields.output == output
    assert fields.attributes == {}


def test_tool_definitions_are_kept() -> None:
    fields = map_genai({"gen_ai.tool.definitions": '[{"name": "search"}]'})
    assert fields.attributes == {"gen_ai.tool.definitions": '[{"name": "search"}]'}


def test_execute_tool_span() -> None:
    fields = map_genai(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": '{"city": "Paris"}',
            "gen_ai.tool.call.result": '{"temp": 21}',
            "gen_ai.tool.type": "function",
        }
    )
    assert fields.tool == {
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": {"city": "Paris"},
        "result": {"temp": 21},
    }
    assert fields.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.type": "function",
    }


def test_pydantic_ai_tool_attributes() -> None:
    fields = map_genai(
        {"gen_ai.tool.name": "lookup", "tool_arguments": '{"q": 1}', "tool_response": "found"}
    )
    assert fields.kind is SpanKind.TOOL
    assert fields.tool == {"name": "lookup", "arguments": {"q": 1}, "result": "found"}


def test_conversation_id_is_the_session() -> None:
    fields = map_genai({"gen_ai.conversation.id": "conv-7", "user.id": "u-1"})
    assert (fields.session_id, fields.user_id) == ("conv-7", "u-1")
    assert fields.attributes == {}


def test_labels_too_long_stay_attributes() -> None:
    fields = map_genai({"session.id": "x" * 300})
    assert fields.session_id is None
    assert fields.attributes == {"session.id": "x" * 300}


def test_deprecated_prompt_and_completion() -> None:
    fields = map_genai({"gen_ai.prompt": '[{"role": "user", "content": "q"}]',
                        "gen_ai.completion": "plain answer"})  # fmt: skip
    assert fields.input == [{"role": "user", "content": "q"}]
    assert fields.output == "plain answer"
    assert fields.attributes == {}


def test_indexed_prompt_and_completion_of_openllmetry() -> None:
    fields = map_genai(
        {
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "be nice",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.tool_calls.0.name": "search",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"q": "x"}',
        }
    )
    assert fields.input == [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi"},
    ]
    assert fields.output == [
        {
            "role": "assistant",
            "finish_reason": "tool_calls",
            "tool_calls": [{"name": "search", "arguments": {"q": "x"}}],
        }
    ]
    assert fields.attributes == {}


def test_inference_details_event() -> None:
    event = OtelEvent(
        "gen_ai.client.inference.operation.details",
        1,
        {
            "gen_ai.input.messages": '[{"role": "user", "parts": []}]',
            "gen_ai.output.messages": '[{"role": "assistant", "parts": []}]',
        },
    )
    other = OtelEvent("checkpoint", 2, {})
    fields = map_genai({}, [event, other])
    assert fields.input == [{"role": "user", "parts": []}]
    assert fields.output == [{"role": "assistant", "parts": []}]
    assert fields.events == [other]


def test_older_content_events() -> None:
    events = [
        OtelEvent("gen_ai.content.prompt", 1, {"gen_ai.prompt": '[{"role": "user"}]'}),
        OtelEvent("gen_ai.content.completion", 2, {"gen_ai.completion": "ok"}),
    ]
    fields = map_genai({}, events)
    assert (fields.input, fields.output, fields.events) == ([{"role": "user"}], "ok", [])


def test_per_message_events() -> None:
    events = [
        OtelEvent("gen_ai.system.message", 1, {"content": "rules"}),
        OtelEvent("gen_ai.user.message", 2, {"content": "hi"}),
        OtelEvent("gen_ai.choice", 3, {"index": 0, "finish_reason": "stop", "message": '{"content": "yo"}'}),
    ]  # fmt: skip
    fields = map_genai({}, events)
    assert fields.input == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "hi"},
    ]
    assert fields.output == [{"index": 0, "finish_reason": "stop", "message": {"content": "yo"}}]
    assert fields.events == []


def test_openinference_llm_span() -> None:
    fields = map_genai(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.provider": "openai",
            "llm.invocation_parameters": '{"temperature": 0.5}',
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "weather?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "weather",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"c": "P"}',
            "llm.token_count.prompt": 100,
            "llm.token_count.completion": 20,
            "llm.token_count.prompt_details.cache_read": 30,
            "llm.token_count.completion_details.reasoning": 5,
            "input.value": "ignored: the messages win",
            "session.id": "s1",
            "user.id": "u1",
            "tag.tags": ["a", "b"],
            "metadata": '{"team": "x"}',
        }
    )
    assert fields.kind is SpanKind.GENERATION
    assert fields.model == {
        "name": "gpt-4o",
        "provider": "openai",
        "parameters": {"temperature": 0.5},
    }
    assert fields.input == [{"role": "user", "content": "weather?"}]
    assert fields.output == [
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "function": {"name": "weather", "arguments": {"c": "P"}}}],
        }
    ]
    assert fields.usage == Usage(
        input_tokens=70, output_tokens=15, cached_tokens=30, reasoning_tokens=5
    )
    assert (fields.session_id, fields.user_id, fields.tags) == ("s1", "u1", ("a", "b"))
    assert fields.attributes["metadata"] == {"team": "x"}
    assert fields.attributes["input.value"] == "ignored: the messages win"


def test_openinference_content_parts_keep_a_tool_call_beside_them() -> None:
    # Anthropic's tool_use block, as OpenInference's Anthropic instrumentation writes it.
    prefix = "llm.output_messages.0.message.contents"
    fields = map_genai({
        f"{prefix}.0.message_content.type": "text",
        f"{prefix}.0.message_content.text": "Let me check.",
        f"{prefix}.1.message_content.type": "tool_use",
        f"{prefix}.1.tool_call.id": "toolu_1",
        f"{prefix}.1.tool_call.function.name": "get_weather",
        f"{prefix}.1.tool_call.function.arguments": '{"city": "Paris"}',
    })  # fmt: skip
    assert fields.output == [{"contents": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "tool_call": {
            "id": "toolu_1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}},
    ]}]  # fmt: skip


def test_openinference_input_value_with_json_mime_type() -> None:
    fields = map_genai(
        {
            "openinference.span.kind": "CHAIN",
            "input.value": '{"question": "q"}',
            "input.mime_type": "application/json",
            "output.value": '{"not": "parsed"}',
            "output.mime_type": "text/plain",
        }
    )
    assert fields.input == {"question": "q"}
    assert fields.output == '{"not": "parsed"}'


def test_openinference_tool_span_arguments_and_result_from_values() -> None:
    fields = map_genai(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "calc",
            "input.value": '{"x": 2}',
            "input.mime_type": "application/json",
            "output.value": "4",
        }
    )
    assert fields.tool == {"name": "calc", "arguments": {"x": 2}, "result": "4"}
    assert (fields.input, fields.output) == (None, None)


def test_traceloop_entity_input_and_output() -> None:
    fields = map_genai(
        {
            "traceloop.span.kind": "task",
            "traceloop.entity.name": "summarize",
            "traceloop.entity.input": '{"text": "long"}',
            "traceloop.entity.output": '"short"',
            "traceloop.association.properties.session_id": "s9",
        }
    )
    assert (fields.input, fields.output, fields.session_id) == ({"text": "long"}, "short", "s9")
    assert fields.attributes == {
        "traceloop.span.kind": "task",
        "traceloop.entity.name": "summarize",
    }


def test_vercel_ai_sdk_generation() -> None:
    fields = map_genai(
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "gpt-4o-mini",
            "ai.model.provider": "openai.chat",
            "ai.settings.maxRetries": 2,
            "ai.prompt.messages": '[{"role": "user", "content": "hi"}]',
            "ai.response.text": "hello",
            "ai.usage.promptTokens": 10.0,
            "ai.usage.completionTokens": 3,
        }
    )
    assert fields.kind is SpanKind.GENERATION
    assert fields.model == {
        "name": "gpt-4o-mini",
        "provider": "openai.chat",
        "parameters": {"maxRetries": 2},
    }
    assert (fields.input, fields.output) == ([{"role": "user", "content": "hi"}], "hello")
    assert fields.usage == Usage(input_tokens=10, output_tokens=3)


def test_unknown_attributes_are_kept_untouched() -> None:
    attrs = {"http.route": "/x", "nested": {"a": [1, 2]}, "flag": True}
    assert map_genai(attrs).attributes == attrs


def test_unflatten_keeps_non_indexed_prefixes_as_attributes() -> None:
    attrs = {"gen_ai.prompt.template": "Hello {x}"}
    fields = map_genai(attrs)
    assert fields.input is None
    assert fields.attributes == attrs


# --- usage: the conventions count cached inside input and reasoning inside output ---


@pytest.mark.parametrize(
    ("attributes", "usage"),
    [
        (
            {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
             "gen_ai.usage.cache_read.input_tokens": 200,
             "gen_ai.usage.cache_creation.input_tokens": 50,
             "gen_ai.usage.reasoning.output_tokens": 40},
            Usage(input_tokens=750, output_tokens=60, cached_tokens=200,
                  cache_write_tokens=50, reasoning_tokens=40),
        ),
        (
            {"gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5},
            Usage(input_tokens=10, output_tokens=5),
        ),
        (
            {"gen_ai.usage.input_tokens": 500, "gen_ai.usage.cache_read_input_tokens": 100,
             "gen_ai.usage.cache_creation_input_tokens": 100,
             "gen_ai.usage.output_tokens": 50, "gen_ai.usage.reasoning_tokens": 10},
            Usage(input_tokens=300, output_tokens=40, cached_tokens=100,
                  cache_write_tokens=100, reasoning_tokens=10),
        ),
        (
            {"llm.token_count.prompt": 90, "llm.token_count.completion": 9,
             "llm.token_count.prompt_details.cache_write": 30, "llm.token_count.total": 99},
            Usage(input_tokens=60, output_tokens=9, cache_write_tokens=30),
        ),
        (
            {"ai.usage.inputTokens": 7, "ai.usage.outputTokens": 3,
             "ai.usage.cachedInputTokens": 2, "ai.usage.reasoningTokens": 1},
            Usage(input_tokens=5, output_tokens=2, cached_tokens=2, reasoning_tokens=1),
        ),
        # OTLP/JSON sends 64-bit integers as strings.
        (
            {"gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": "3"},
            Usage(input_tokens=12, output_tokens=3),
        ),
        # A producer already exclusive (cached above its input) is taken as it is.
        (
            {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read.input_tokens": 400},
            Usage(input_tokens=10, cached_tokens=400),
        ),
        # Current names win over deprecated ones.
        (
            {"gen_ai.usage.input_tokens": 8, "gen_ai.usage.prompt_tokens": 80},
            Usage(input_tokens=8),
        ),
    ],
)  # fmt: skip
def test_usage_of_every_dialect_is_priced_once(attributes: dict[str, object], usage: Usage) -> None:
    assert from_genai_usage(attributes) == usage
    fields = map_genai(attributes)  # type: ignore[arg-type]
    assert fields.usage == usage
    # The producer's own numbers stay visible beside ours.
    assert fields.attributes == attributes


@pytest.mark.parametrize(
    "attributes",
    [{}, {"gen_ai.usage.input_tokens": -1}, {"gen_ai.usage.input_tokens": 1.5},
     {"gen_ai.usage.input_tokens": True}, {"gen_ai.usage.input_tokens": "ten"}],
)  # fmt: skip
def test_no_usable_count_is_no_usage(attributes: dict[str, object]) -> None:
    assert from_genai_usage(attributes) is None


def test_docs_table_names_every_usage_attribute_read() -> None:
    from pathlib import Path

    from tracestream.schemas._otel import USAGE_ATTRIBUTES

    docs = (Path(__file__).parents[4] / "docs" / "otel.md").read_text(encoding="utf-8")
    missing = [n for names in USAGE_ATTRIBUTES.values() for n in names if f"`{n}`" not in docs]
    assert not missing, f"docs/otel.md does not name: {missing}"
