"""Helpers of the receiver's unit tests: OTLP requests from the real OpenTelemetry SDK."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer


def sdk_request(
    record: Callable[[Tracer], None], resource: dict[str, str] | None = None
) -> ExportTraceServiceRequest:
    """The ExportTraceServiceRequest the OTLP exporter would send for what ``record`` traced."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        record(provider.get_tracer("test-scope", "1.2.3"))
    finally:
        provider.shutdown()
    return encode_spans(exporter.get_finished_spans())
