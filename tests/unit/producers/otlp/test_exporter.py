"""TracestreamSpanExporter: the OTel SDK's spans as our events, through a transport."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import INVALID_SPAN_CONTEXT, Link

from tracestream.producers import InMemoryTransport
from tracestream.producers.otlp import TracestreamSpanExporter
from tracestream.schemas import EventParser

pytestmark = pytest.mark.unit


def _provider(exporter: TracestreamSpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_spans_become_events_the_worker_accepts() -> None:
    transport = InMemoryTransport()
    exporter = TracestreamSpanExporter(transport, project="p", default_environment="test")
    provider = _provider(exporter)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("chat") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                             "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2})  # fmt: skip
    provider.shutdown()
    parser = EventParser()
    events = [parser.parse(value) for _, value in transport.records]
    assert [e.name for e in events] == ["chat", "root"]  # type: ignore[union-attr]
    chat = events[0]
    assert (chat.project, chat.service, chat.environment) == ("p", "app", "test")
    assert chat.kind == "generation"  # type: ignore[union-attr]
    assert transport.records[0][0] == chat.trace_id.encode()
    assert exporter.exported == 2 and exporter.rejected == 0


def test_a_full_transport_drops_and_counts_and_export_still_succeeds() -> None:
    transport = InMemoryTransport(max_events=1)
    exporter = TracestreamSpanExporter(transport)
    provider = _provider(exporter)
    tracer = provider.get_tracer("t")
    for name in ("a", "b", "c"):
        tracer.start_span(name).end()
    provider.shutdown()
    assert len(transport.records) == 1
    assert transport.stats().dropped == 2


def test_spans_that_make_no_event_are_counted_as_rejected() -> None:
    transport = InMemoryTransport()
    exporter = TracestreamSpanExporter(transport)
    provider = _provider(exporter)
    tracer = provider.get_tracer("t")
    tracer.start_span("", links=[Link(INVALID_SPAN_CONTEXT)]).end()  # no name: not a valid event
    tracer.start_span("fine").end()
    provider.shutdown()
    assert (exporter.exported, exporter.rejected, len(transport.records)) == (1, 1, 1)
