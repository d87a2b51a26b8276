"""``tracestream.instrument()`` with the real ``openai`` and ``anthropic`` packages.

The clients talk HTTP to a local server that speaks their APIs (``_model_api``):
plain JSON, streams (SSE), tool calls and errors. Nothing of ours is mocked:
the instrumentations' spans go through the batch processor and our exporter's
conversion into an InMemoryTransport, and are read back as the worker parses them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import tracestream
from tracestream.producers import InMemoryTransport
from tracestream.producers.otlp import Instrumented
from tracestream.schemas import EventParser, SpanEvent, SpanStatus

from ._model_api import ANSWER, MISSING_MODEL, TOOL_ARGUMENTS, ModelApi

pytestmark = pytest.mark.integration

OPENAI_TOOLS: Any = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
ANTHROPIC_TOOLS: Any = [{"name": "get_weather", "description": "Weather of a city",
                         "input_schema": {"type": "object",
                                          "properties": {"city": {"type": "string"}}}}]  # fmt: skip


@pytest.fixture
def api() -> Iterator[ModelApi]:
    with ModelApi() as server:
        yield server


@pytest.fixture
def openai_client(api: ModelApi) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{api.url}/v1", api_key="k", max_retries=0) as client:
        yield client


@pytest.fixture
def anthropic_client(api: ModelApi) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=0) as client:
        yield client


@pytest.fixture
def recorded() -> Iterator[tuple[InMemoryTransport, Instrumented]]:
    transport = InMemoryTransport()
    done = tracestream.instrument(transport=transport, project="shop", service="assistant",
                                  environment="test")  # fmt: skip
    try:
        yield transport, done
    finally:
        done.shutdown()


def _events(transport: InMemoryTransport, done: Instrumented) -> list[SpanEvent]:
    assert done.flush(30)
    parser = EventParser()
    events = [parser.parse(value) for _, value in transport.records]
    assert all(isinstance(e, SpanEvent) for e in events)
    return events  # type: ignore[return-value]


def _only(transport: InMemoryTransport, done: Instrumented) -> SpanEvent:
    events = _events(transport, done)
    assert len(events) == 1, [e.name for e in events]
    return events[0]


def _tool_calls(output: Any) -> list[Any]:
    """Tool calls of an assistant message in the output, in whichever shape it was mapped."""
    message = output[0] if isinstance(output, list) else output
    return list(message.get("tool_calls", []))


def test_instrument_reports_what_it_turned_on(
    recorded: tuple[InMemoryTransport, Instrumented],
) -> None:
    _, done = recorded
    assert done.libraries == ("openai", "anthropic", "langchain")
    assert done.skipped == {}


def test_a_langchain_chat_model_call(recorded: tuple[InMemoryTransport, Instrumented]) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    transport, done = recorded
    assert FakeListChatModel(responses=["Paris."]).invoke("Capital of France?").content == "Paris."
    event = _only(transport, done)
    assert (event.kind, event.name) == ("generation", "FakeListChatModel")
    assert event.input == [{"role": "user", "content": "Capital of France?"}]
    assert event.output == [{"role": "assistant", "content": "Paris."}]


def test_openai_chat_completion(recorded: tuple[InMemoryTransport, Instrumented],
                                openai_client: openai.OpenAI) -> None:  # fmt: skip
    transport, done = recorded
    client = openai_client
    client.chat.completions.create(
        model="gpt-4o-mini", temperature=0.2, max_tokens=64,
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Capital of France?"}],
    )  # fmt: skip
    event = _only(transport, done)
    assert (event.project, event.service, event.environment) == ("shop", "assistant", "test")
    assert event.kind == "generation" and event.status is SpanStatus.OK
    assert event.model is not None
    assert (event.model.name, event.model.provider) == ("gpt-4o-mini-2024-07-18", "openai")
    assert event.model.parameters["temperature"] == 0.2
    assert event.model.parameters["max_tokens"] == 64
    assert [m["role"] for m in event.input] == ["system", "user"]  # type: ignore[union-attr]
    assert "Capital of France?" in str(event.input)
    assert ANSWER in str(event.output)
    # 120 prompt tokens of which 100 cached, 40 completion of which 16 reasoning:
    # each counted once.
    assert event.usage is not None
    assert event.usage.model_dump() == {"input_tokens": 20, "cached_tokens": 100,
                                        "cache_write_tokens": 0, "output_tokens": 24,
                                        "reasoning_tokens": 16}  # fmt: skip


def test_openai_stream_with_a_tool_call_is_assembled(
    recorded: tuple[InMemoryTransport, Instrumented], openai_client: openai.OpenAI
) -> None:
    transport, done = recorded
    client = openai_client
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=OPENAI_TOOLS, stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    assert len(chunks) > 5  # the arguments really came in pieces
    event = _only(transport, done)
    (call,) = _tool_calls(event.output)
    assert call == {"id": "call_weather_1",
                    "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}}  # fmt: skip
    assert event.usage is not None and event.usage.cached_tokens == 100
    assert "get_weather" in str(event.attributes)  # the tool definitions are kept


async def test_openai_async_stream_assembles_the_text(
    recorded: tuple[InMemoryTransport, Instrumented], api: ModelApi
) -> None:
    transport, done = recorded
    async with openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key="k", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital?"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == ANSWER
    event = await asyncio.to_thread(_only, transport, done)
    assert ANSWER in str(event.output)
    assert event.usage is None  # the API reports none unless the caller asks (see _instrument)


def test_openai_error(
    recorded: tuple[InMemoryTransport, Instrumented], openai_client: openai.OpenAI
) -> None:
    transport, done = recorded
    client = openai_client
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=MISSING_MODEL,
                                       messages=[{"role": "user", "content": "x"}])  # fmt: skip
    event = _only(transport, done)
    assert event.status is SpanStatus.ERROR and event.error is not None
    assert event.error.type == "openai.NotFoundError"
    assert "does not exist" in event.error.message and event.error.stack


def test_anthropic_message_with_cache_tokens(
    recorded: tuple[InMemoryTransport, Instrumented], anthropic_client: anthropic.Anthropic
) -> None:
    transport, done = recorded
    client = anthropic_client
    client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                           messages=[{"role": "user", "content": "Capital of France?"}])  # fmt: skip
    event = _only(transport, done)
    assert event.kind == "generation" and event.model is not None
    assert (event.model.name, event.model.provider) == ("claude-sonnet-4-5", "anthropic")
    assert event.model.parameters["max_tokens"] == 100
    assert ANSWER in str(event.output) and "Capital of France?" in str(event.input)
    assert event.usage is not None
    assert event.usage.model_dump() == {"input_tokens": 20, "cached_tokens": 100,
                                        "cache_write_tokens": 50, "output_tokens": 30,
                                        "reasoning_tokens": 0}  # fmt: skip


def test_anthropic_stream_with_a_tool_use(
    recorded: tuple[InMemoryTransport, Instrumented], anthropic_client: anthropic.Anthropic
) -> None:
    transport, done = recorded
    client = anthropic_client
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, tools=ANTHROPIC_TOOLS,
                                messages=[{"role": "user", "content": "Weather?"}]) as stream:  # fmt: skip
        message = stream.get_final_message()
    assert message.content[1].type == "tool_use"
    event = _only(transport, done)
    (call,) = _tool_calls(event.output)
    assert "toolu_local_1" in str(call) and "get_weather" in str(call)
    assert all(str(v) in str(call) for v in TOOL_ARGUMENTS.values())
    assert "Let me check." in str(event.output)
    assert event.usage is not None and event.usage.cache_write_tokens == 50


def test_anthropic_error(
    recorded: tuple[InMemoryTransport, Instrumented], anthropic_client: anthropic.Anthropic
) -> None:
    transport, done = recorded
    client = anthropic_client
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model=MISSING_MODEL, max_tokens=10,
                               messages=[{"role": "user", "content": "x"}])  # fmt: skip
    event = _only(transport, done)
    assert event.status is SpanStatus.ERROR and event.error is not None
    assert "does not exist" in event.error.message


def test_shutdown_turns_it_off(openai_client: openai.OpenAI) -> None:
    first, second = InMemoryTransport(), InMemoryTransport()
    done = tracestream.instrument(transport=first, project="p")
    again = tracestream.instrument(transport=second, project="p")  # replaces, never doubles
    client = openai_client
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert len(_events(second, again)) == 1
    assert first.records == []
    again.shutdown()
    done.shutdown()
    from openinference.instrumentation.openai import OpenAIInstrumentor

    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


def test_absent_clients_are_skipped_silently(tmp_path: Path) -> None:
    # A fresh interpreter where anthropic cannot be imported, as if not installed.
    code = (
        "import sys; sys.modules['anthropic'] = None\n"
        "import importlib.util as u; real = u.find_spec\n"
        "u.find_spec = lambda n, *a: None if n == 'anthropic' else real(n, *a)\n"
        "import tracestream\n"
        "from tracestream.producers import InMemoryTransport\n"
        "done = tracestream.instrument(transport=InMemoryTransport())\n"
        "print(done.libraries, sorted(done.skipped))\n"
        "done.shutdown()\n"
    )
    env = {**os.environ, "TRACESTREAM_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120, check=True)  # fmt: skip
    assert "('openai'" in result.stdout and "'anthropic'" in result.stdout
    assert result.stderr == ""
