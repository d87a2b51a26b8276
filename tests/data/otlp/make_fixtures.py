"""Record the OTLP fixtures in this folder from real instrumentations (issue 12 item 6).

Runs the real ``openai`` and ``anthropic`` clients, instrumented by
OpenInference or by OpenLLMetry, against the local server of
``tests/integration/otlp/_model_api.py``, and captures what the real
OTLP/HTTP exporter (``opentelemetry-exporter-otlp-proto-http``, protobuf,
uncompressed) sends: the request body, byte for byte, as the receiver would
get it. One trace, a support turn::

    support-turn (root: session, user; OpenInference: tags and metadata too)
    ├── chat                     openai, tools -> a tool call (cached + reasoning tokens)
    ├── get_weather              a tool span made by the app, in the dialect's attributes
    ├── chat                     openai, streamed (SSE) with include_usage
    ├── chat                     anthropic, tools (cache read + cache write tokens)
    └── chat                     openai, 404: an error

Re-record, then review the diff of the readable twin (``*.readable.json``,
protobuf's JSON mapping, ids in base64) written beside each protobuf::

    .venv/bin/python tests/data/otlp/make_fixtures.py openinference
    # OpenLLMetry's instrumentations are not a dependency of ours: install them aside
    .venv/bin/pip install --target /tmp/oll --no-deps opentelemetry-instrumentation-openai \
        opentelemetry-instrumentation-anthropic opentelemetry-semantic-conventions-ai
    PYTHONPATH=/tmp/oll .venv/bin/python tests/data/otlp/make_fixtures.py openllmetry

Recorded with openai 3.60, anthropic 2.17, openinference-instrumentation-openai
0.1.66 and -anthropic 3.1.0, OpenLLMetry's opentelemetry-instrumentation-openai
and -anthropic 0.62.4.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))


def _capture_server(bodies: list[bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _dialect(name: str) -> tuple[list[Any], Any, dict[str, Any], tuple[str, dict[str, Any]]]:
    """Instrumentors, a context for the whole turn, root attributes, the tool span."""
    question_attrs: dict[str, Any]
    if name == "openinference":
        from openinference.instrumentation import (
            get_attributes_from_context,
            using_metadata,
            using_session,
            using_tags,
            using_user,
        )
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor

        # Entered now (the returned stack closes them after the turn): the app's own
        # spans read the same attributes from the context as the instrumentations do.
        stack = contextlib.ExitStack()
        for context in (using_session("sess-42"), using_user("user-7"),
                        using_tags(["support", "weather"]), using_metadata({"ticket": "T-1001"})):  # fmt: skip
            stack.enter_context(context)
        shared = dict(get_attributes_from_context())
        question_attrs = {"openinference.span.kind": "CHAIN", "input.value": QUESTION,
                          "output.value": "18 C and sunny in Paris.", **shared}  # fmt: skip
        tool = ("get_weather", {
            "openinference.span.kind": "TOOL", "tool.name": "get_weather",
            "input.value": '{"city": "Paris"}', "input.mime_type": "application/json",
            "output.value": "18 C, sunny", **shared})  # fmt: skip
        return [OpenAIInstrumentor(), AnthropicInstrumentor()], stack, question_attrs, tool
    if name == "openllmetry":
        from opentelemetry.instrumentation.anthropic import (  # type: ignore[import-not-found]
            AnthropicInstrumentor as LlmetryAnthropic,
        )
        from opentelemetry.instrumentation.openai import (  # type: ignore[import-not-found]
            OpenAIInstrumentor as LlmetryOpenAI,
        )

        question_attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
                          "gen_ai.conversation.id": "sess-42", "user.id": "user-7"}  # fmt: skip
        tool = ("execute_tool get_weather", {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_weather_1", "gen_ai.tool.call.arguments": '{"city": "Paris"}',
            "gen_ai.tool.call.result": "18 C, sunny"})  # fmt: skip
        return [LlmetryOpenAI(), LlmetryAnthropic()], contextlib.ExitStack(), question_attrs, tool
    raise SystemExit(f"unknown dialect {name!r}: openinference or openllmetry")


QUESTION = "What is the weather in Paris, and its capital status?"


def record(dialect: str) -> bytes:
    """Run the support turn and return the one OTLP/HTTP request body it exported."""
    import anthropic
    import openai
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from tests.integration.otlp._model_api import MISSING_MODEL, ModelApi
    from tests.integration.otlp.test_instrument import ANTHROPIC_TOOLS, OPENAI_TOOLS

    bodies: list[bytes] = []
    capture = _capture_server(bodies)
    host, port = capture.server_address[:2]
    provider = TracerProvider(resource=Resource.create(
        {"service.name": "support-bot", "service.version": "1.4.2",
         "deployment.environment.name": "staging"}))  # fmt: skip
    exporter = OTLPSpanExporter(endpoint=f"http://{host!s}:{port}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    instrumentors, turn, root_attributes, (tool_name, tool_attributes) = _dialect(dialect)
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    tracer = provider.get_tracer("support-bot")
    try:
        with ModelApi() as api, turn:
            oai = openai.OpenAI(base_url=f"{api.url}/v1", api_key="k", max_retries=0)
            claude = anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=0)
            with tracer.start_as_current_span("support-turn", attributes=root_attributes):
                messages: Any = [{"role": "system", "content": "You are a support agent."},
                                 {"role": "user", "content": QUESTION}]  # fmt: skip
                oai.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                            tools=OPENAI_TOOLS, temperature=0.1)  # fmt: skip
                with tracer.start_as_current_span(tool_name, attributes=tool_attributes):
                    pass
                for _ in oai.chat.completions.create(
                    model="gpt-4o-mini", messages=messages, stream=True,
                    stream_options={"include_usage": True},
                ):  # fmt: skip
                    pass
                claude.messages.create(model="claude-sonnet-4-5", max_tokens=256,
                                       tools=ANTHROPIC_TOOLS,
                                       messages=[{"role": "user", "content": QUESTION}])  # fmt: skip
                try:
                    oai.chat.completions.create(model=MISSING_MODEL,
                                                messages=[{"role": "user", "content": "?"}])  # fmt: skip
                except openai.NotFoundError:
                    pass
            oai.close()
            claude.close()
        assert provider.force_flush(30_000)
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
        provider.shutdown()
        capture.shutdown()
    assert len(bodies) == 1, len(bodies)
    (HERE / f"{dialect}_support_turn.readable.json").write_text(
        json.dumps(MessageToDict(ExportTraceServiceRequest.FromString(bodies[0])), indent=1) + "\n"
    )
    return bodies[0]


if __name__ == "__main__":
    for name in sys.argv[1:] or ["openinference"]:
        body = record(name)
        path = HERE / f"{name}_support_turn.pb"
        path.write_bytes(body)
        print(f"wrote {len(body)} bytes to {path}")
