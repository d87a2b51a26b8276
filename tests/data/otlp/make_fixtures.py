"""Record the OTLP fixtures in this folder from real instrumentations (issue 12 item 6).

Runs the real ``openai`` and ``anthropic`` clients, instrumented by
OpenInference, against the local server of ``tests/integration/otlp/_model_api.py``,
and captures what the real OTLP/HTTP exporter (``opentelemetry-exporter-otlp-proto-http``,
protobuf, uncompressed) sends: the request body, byte for byte, as the receiver
would get it. One trace, a support turn::

    support-turn (CHAIN, session + user + tags + metadata)
    ├── ChatCompletion           openai, tools -> a tool call (cached + reasoning tokens)
    ├── get_weather              a TOOL span made by the app
    ├── ChatCompletion           openai, streamed (SSE) with include_usage
    ├── messages.create          anthropic (cache read + cache write tokens)
    └── ChatCompletion           openai, 404: an error

Re-record (then review the diff of ``openinference_support_turn.readable.json``, the
readable twin written beside the protobuf)::

    .venv/bin/python tests/data/otlp/make_fixtures.py
"""

from __future__ import annotations

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


def record() -> bytes:
    """Run the support turn and return the one OTLP/HTTP request body it exported."""
    import anthropic
    import openai
    from google.protobuf.json_format import MessageToDict
    from openinference.instrumentation import (
        get_attributes_from_context,
        using_metadata,
        using_session,
        using_tags,
        using_user,
    )
    from openinference.instrumentation.anthropic import AnthropicInstrumentor
    from openinference.instrumentation.openai import OpenAIInstrumentor
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
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    AnthropicInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("support-bot")
    question = "What is the weather in Paris, and its capital status?"
    try:
        with ModelApi() as api, using_session("sess-42"), using_user("user-7"), \
                using_tags(["support", "weather"]), using_metadata({"ticket": "T-1001"}):  # fmt: skip
            oai = openai.OpenAI(base_url=f"{api.url}/v1", api_key="k", max_retries=0)
            claude = anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=0)
            root_attributes = {"openinference.span.kind": "CHAIN", "input.value": question,
                               **dict(get_attributes_from_context())}  # fmt: skip
            with tracer.start_as_current_span("support-turn", attributes=root_attributes) as root:
                messages: Any = [{"role": "system", "content": "You are a support agent."},
                                 {"role": "user", "content": question}]  # fmt: skip
                oai.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                            tools=OPENAI_TOOLS, temperature=0.1)  # fmt: skip
                with tracer.start_as_current_span("get_weather", attributes={
                    "openinference.span.kind": "TOOL", "tool.name": "get_weather",
                    "input.value": '{"city": "Paris"}', "input.mime_type": "application/json",
                    "output.value": "18 C, sunny", **dict(get_attributes_from_context()),
                }):  # fmt: skip
                    pass
                for _ in oai.chat.completions.create(
                    model="gpt-4o-mini", messages=messages, stream=True,
                    stream_options={"include_usage": True},
                ):  # fmt: skip
                    pass
                claude.messages.create(model="claude-sonnet-4-5", max_tokens=256,
                                       tools=ANTHROPIC_TOOLS,
                                       messages=[{"role": "user", "content": question}])  # fmt: skip
                try:
                    oai.chat.completions.create(model=MISSING_MODEL,
                                                messages=[{"role": "user", "content": "?"}])  # fmt: skip
                except openai.NotFoundError:
                    pass
                root.set_attribute("output.value", "18 C and sunny in Paris.")
        assert provider.force_flush(30_000)
    finally:
        OpenAIInstrumentor().uninstrument()
        AnthropicInstrumentor().uninstrument()
        provider.shutdown()
        capture.shutdown()
    assert len(bodies) == 1, len(bodies)
    (HERE / "openinference_support_turn.readable.json").write_text(
        json.dumps(MessageToDict(ExportTraceServiceRequest.FromString(bodies[0])), indent=1) + "\n"
    )
    return bodies[0]


if __name__ == "__main__":
    body = record()
    (HERE / "openinference_support_turn.pb").write_bytes(body)
    print(f"wrote {len(body)} bytes to {HERE / 'openinference_support_turn.pb'}")
