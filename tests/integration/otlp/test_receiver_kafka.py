"""The real OTLP exporter -> the receiver -> the real broker's events topic."""

from __future__ import annotations

import asyncio
import gzip
import urllib.error
import urllib.request

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.integration.streams._kafka_io import consume
from tracestream.producers.otlp import ReceiverConfig
from tracestream.producers.otlp._codec import request_json
from tracestream.schemas import EventParser, Topics

from .conftest import start_receiver, stop_receiver

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def agent_spans() -> list[ReadableSpan]:
    """A small agent trace from the real OpenTelemetry SDK: root, generation, failing tool."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(
        {"service.name": "support-bot", "deployment.environment.name": "prod"}))  # fmt: skip
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("agent", "0.1")
    with tracer.start_as_current_span("answer") as root:
        root.set_attribute("gen_ai.conversation.id", "conv-1")
        root.set_attribute("customer.contact", "write to jane.doe@example.com")
        with tracer.start_as_current_span("chat gpt-4o") as gen:
            gen.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 80, "gen_ai.usage.cache_read.input_tokens": 200,
                "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "I am jane.doe@example.com"}]}]',
            })  # fmt: skip
        with tracer.start_as_current_span("execute_tool lookup") as tool:
            tool.set_attributes({"gen_ai.operation.name": "execute_tool",
                                 "gen_ai.tool.name": "lookup"})  # fmt: skip
            tool.record_exception(TimeoutError("backend slow"))
            tool.set_status(StatusCode.ERROR)
    provider.shutdown()
    return list(memory.get_finished_spans())


async def _export(url: str, spans: list[ReadableSpan], **kw: object) -> SpanExportResult:
    exporter = OTLPSpanExporter(endpoint=url, timeout=30, **kw)  # type: ignore[arg-type]
    try:
        return await asyncio.to_thread(exporter.export, spans)
    finally:
        exporter.shutdown()


def _post_sync(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as failed:
        with failed:
            return failed.code, dict(failed.headers), failed.read()


async def _post(
    url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """POST from a thread (urllib blocks); the status, headers and body of the answer."""
    return await asyncio.to_thread(_post_sync, url, body, headers)


async def test_sdk_exporter_spans_land_on_the_events_topic(
    receiver: str, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    spans = agent_spans()
    assert await _export(receiver, spans, compression=Compression.Gzip) == SpanExportResult.SUCCESS
    # 200 came after the acks, so the records are there to read now.
    records = await consume(kafka_bootstrap, kafka_topics.events, 3, timeout_s=30)
    assert len(records) == 3
    parser = EventParser()
    events = {e.name: e for e in (parser.parse(r.value) for r in records)}
    gen, tool, root = events["chat gpt-4o"], events["execute_tool lookup"], events["answer"]
    for record in records:
        assert record.key == root.trace_id.encode()
        assert dict(record.headers)["content-type"] == b"application/json"
    assert (gen.kind, gen.service, gen.environment, gen.project) == (
        "generation", "support-bot", "prod", "p")  # fmt: skip
    assert gen.model is not None and gen.model.name == "gpt-4o"
    assert gen.usage is not None
    assert (gen.usage.input_tokens, gen.usage.cached_tokens) == (1000, 200)
    assert gen.parent_span_id == root.span_id == tool.parent_span_id
    assert tool.kind == "tool" and tool.status == "error"
    assert tool.error is not None and tool.error.type == "TimeoutError"
    assert root.trace is not None and root.trace.session_id == "conv-1"


async def test_otlp_json_with_partial_success_and_the_dlq(
    receiver: str, kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    request = encode_spans(agent_spans())
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\0" * 8  # not a valid span id
    body = gzip.compress(request_json(request))
    status, headers, answer = await _post(
        receiver, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert status == 200 and headers["content-type"] == "application/json"
    partial = orjson.loads(answer)["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "span_id" in partial["errorMessage"]
    assert len(await consume(kafka_bootstrap, kafka_topics.events, 2, timeout_s=30)) == 2
    (dead,) = await consume(kafka_bootstrap, kafka_topics.events_dlq, 1, timeout_s=30)
    assert dict(dead.headers)["__tracestream.errors.reason"] == b"schema"
    assert b'"spanId":"0000000000000000"' in dead.value


async def test_kafka_unreachable_answers_503_with_retry_after(kafka_topics: Topics) -> None:
    # Nothing listens on port 9: the sink keeps trying to connect; requests get 503, not 500.
    server, task, url = await start_receiver("127.0.0.1:9", kafka_topics, ReceiverConfig())
    try:
        body = encode_spans(agent_spans()).SerializeToString()
        status, headers, _ = await _post(url, body, {"Content-Type": "application/x-protobuf"})
        assert (status, headers["retry-after"]) == (503, "5")
        assert headers["content-type"] == "application/x-protobuf"
    finally:
        await stop_receiver(server, task)


async def test_protobuf_answer_is_an_export_response(receiver: str) -> None:
    status, _, answer = await _post(receiver, b"", {"Content-Type": "application/x-protobuf"})
    assert status == 200
    assert not ExportTraceServiceResponse.FromString(answer).HasField("partial_success")
