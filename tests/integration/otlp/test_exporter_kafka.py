"""TracestreamSpanExporter over the SDK's Kafka transport, into the real events topic."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.integration.streams._kafka_io import consume
from tracestream.producers.otlp import TracestreamSpanExporter
from tracestream.schemas import EventParser, Topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


async def test_one_line_exporter_sends_the_sdks_spans_to_kafka(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics
) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "app"}))
    exporter = TracestreamSpanExporter.kafka(
        project="p", bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        tracer.start_span("child").end()
    # shutdown flushes the processor, then the transport (acks=all): blocking, so a thread.
    await asyncio.to_thread(provider.shutdown)
    assert exporter.transport.stats().sent == 2
    records = await consume(kafka_bootstrap, kafka_topics.events, 2, timeout_s=30)
    parser = EventParser()
    names = sorted(parser.parse(r.value).name for r in records)  # type: ignore[union-attr]
    assert names == ["child", "root"]
    assert all(dict(r.headers)["schema-version"] == b"1" for r in records)
