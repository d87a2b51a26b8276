"""The demo's OTLP leg: one trace from an OpenTelemetry-instrumented app, no tracestream SDK.

The spans carry GenAI attributes as OTel instrumentations write them; an
in-process ``tracestream otlp`` receiver converts them and produces them to the
same events topic the SDK writes to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import click

from tracestream._settings import Settings
from tracestream.cli._demo_output import say

__all__ = ["emit_otlp", "report_otlp", "wait_for_otlp"]


async def emit_otlp(settings: Settings, note: Callable[[str], None] = say) -> str | None:
    """Send one trace from the OpenTelemetry SDK through an in-process `tracestream otlp`.

    The spans carry GenAI attributes as OTel instrumentations write them; the
    receiver converts them and produces them to the same events topic. Skipped
    (None) without the ``[otlp]`` extra. What happened goes to ``note``.
    """
    try:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from tracestream._worker_process import free_port
        from tracestream.producers.otlp import ReceiverConfig, build_server
        from tracestream.schemas import Topics
    except ImportError as exc:
        note(f"OTLP: skipped ({exc.name} missing: pip install 'tracestream[otlp]')")
        return None
    import urllib.request

    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-app"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("demo")
    with tracer.start_as_current_span("answer weather question") as root:
        root.set_attribute("gen_ai.conversation.id", "otlp-demo-session")
        with tracer.start_as_current_span("chat gpt-4o-mini") as chat:
            chat.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.temperature": 0.2,
                "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", '
                                         '"content": "Weather in Paris?"}]}]',
                "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", '
                                          '"content": "18 C and sunny."}]}]',
                "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 12,
                "gen_ai.usage.cache_read.input_tokens": 100,
            })  # fmt: skip
    provider.shutdown()
    body = encode_spans(spans.get_finished_spans()).SerializeToString()
    port = free_port()
    server = build_server(ReceiverConfig(project="demo", default_environment="demo"),
                          host="127.0.0.1", port=port, bootstrap_servers=settings.kafka_bootstrap,
                          topics=Topics(settings.topic_prefix))  # fmt: skip
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(1200):  # uvicorn sets a flag, not an event: look every 50 ms, 60 s at most
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        if serving.done():
            serving.result()  # raises why it did not start
        if not await server.sink.wait_connected(60):
            raise click.ClickException("the OTLP receiver could not reach Kafka")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces", data=body, method="POST",
            headers={"Content-Type": "application/x-protobuf"},
        )  # fmt: skip
        with await asyncio.to_thread(urllib.request.urlopen, request, timeout=30) as answer:
            status = answer.status
    finally:
        server.should_exit = True
        await serving
    trace_id = format(root.get_span_context().trace_id, "032x")
    note(f"OTLP: an OpenTelemetry app sent trace {trace_id[:8]} over OTLP/HTTP (answer {status})")
    return trace_id


async def wait_for_otlp(storage: Any, trace_id: str | None, timeout_s: float) -> None:
    """Until the OTLP trace's spans are stored (after the SDK's traces, so little is left)."""
    if trace_id is None:
        return
    for _ in range(max(1, int(timeout_s))):
        stored = await asyncio.to_thread(
            lambda: storage.query(
                "SELECT count() FROM spans WHERE trace_id = {id:String}", {"id": trace_id}
            ).scalar()
        )
        if stored >= 2:
            return
        await asyncio.sleep(1.0)
    raise click.ClickException(f"the trace sent over OTLP ({trace_id}) did not reach storage")


def report_otlp(storage: Any, trace_id: str | None) -> None:
    if trace_id is None:
        return
    row = storage.query(
        "SELECT service, name, kind, model, input_tokens, cached_tokens, output_tokens, "
        "round(cost_usd, 8) FROM spans FINAL WHERE trace_id = {id:String} AND kind = 'generation'",
        {"id": trace_id},
    ).rows
    for service, name, kind, model, inp, cached, out, usd in row:
        click.echo(f"Arrived over OTLP (trace {trace_id[:8]}): {service} / {name} ({kind}, "
                   f"{model}): {inp} input + {cached} cached + {out} output tokens, ${usd}")  # fmt: skip
