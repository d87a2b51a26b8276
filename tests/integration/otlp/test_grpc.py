"""OTLP/gRPC: the real gRPC exporter and a raw stub against the receiver's TraceService."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client import CollectorRegistry

from tests.integration.streams._kafka_io import consume
from tracestream._worker_process import free_port
from tracestream.producers.otlp import (
    InMemorySink,
    KafkaSink,
    OutRecord,
    ReceiverConfig,
    ReceiverMetrics,
    SinkBusy,
    hash_key,
)
from tracestream.producers.otlp._grpc import build_grpc_server
from tracestream.schemas import EventParser, Topics

from .conftest import start_receiver, stop_receiver
from .test_receiver_kafka import agent_spans

pytestmark = pytest.mark.integration


class _BusySink:
    async def produce(self, records: Sequence[OutRecord]) -> list[str | None]:
        raise SinkBusy("256 MiB already waiting on Kafka")


async def _serve(sink: Any, config: ReceiverConfig | None = None) -> tuple[Any, str]:
    port = free_port()
    metrics = ReceiverMetrics(CollectorRegistry())
    server = build_grpc_server(config or ReceiverConfig(project="p"), sink, metrics,
                               host="127.0.0.1", port=port)  # fmt: skip
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def channel_to() -> AsyncIterator[Any]:
    servers: list[Any] = []
    channels: list[grpc.aio.Channel] = []

    async def open_(sink: Any, config: ReceiverConfig | None = None) -> Any:
        server, target = await _serve(sink, config)
        servers.append(server)
        channel = grpc.aio.insecure_channel(target)
        channels.append(channel)
        return trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]

    yield open_
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.stop(1)


def _retry_delay(error: grpc.aio.AioRpcError) -> int:
    trailer = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(trailer)
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    return int(info.retry_delay.seconds)


async def test_success_partial_success_and_empty(channel_to: Any) -> None:
    sink = InMemorySink()
    stub = await channel_to(sink)
    request = encode_spans(agent_spans())
    response = await stub.Export(request, compression=grpc.Compression.Gzip)
    assert not response.HasField("partial_success")
    assert len(sink.records) == 3
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\0" * 16
    response = await stub.Export(request)
    assert response.partial_success.rejected_spans == 1
    assert "trace_id" in response.partial_success.error_message
    assert not (await stub.Export(ExportTraceServiceRequest())).HasField("partial_success")


async def test_wrong_key_is_unauthenticated(channel_to: Any) -> None:
    sink = InMemorySink()
    stub = await channel_to(sink, ReceiverConfig(ingest_keys={hash_key("k"): "alpha"}))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Export(ExportTraceServiceRequest(), metadata=(("authorization", "Bearer x"),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await stub.Export(encode_spans(agent_spans()), metadata=(("authorization", "Bearer k"),))
    assert len(sink.records) == 3


async def test_busy_is_resource_exhausted_with_retry_info(channel_to: Any) -> None:
    stub = await channel_to(_BusySink(), ReceiverConfig(retry_after_s=7))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Export(encode_spans(agent_spans()))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _retry_delay(caught.value) == 7


async def test_kafka_unreachable_is_unavailable_with_retry_info(channel_to: Any) -> None:
    stub = await channel_to(KafkaSink(bootstrap_servers="127.0.0.1:9", topics=Topics("t.")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Export(encode_spans(agent_spans()))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _retry_delay(caught.value) == 5


@pytest.mark.kafka
async def test_real_grpc_exporter_to_the_events_topic(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    grpc_port = free_port()
    server, task, _ = await start_receiver(kafka_bootstrap, kafka_topics,
                                           ReceiverConfig(project="p"), grpc_port=grpc_port)  # fmt: skip
    try:
        assert await server.sink.wait_connected(60)
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True,
                                    timeout=30)  # fmt: skip
        try:
            result = await asyncio.to_thread(exporter.export, agent_spans())
        finally:
            exporter.shutdown()
        assert result == SpanExportResult.SUCCESS
        records = await consume(kafka_bootstrap, kafka_topics.events, 3, timeout_s=30)
        parser = EventParser()
        names = sorted(parser.parse(r.value).name for r in records)  # type: ignore[union-attr]
        assert names == ["answer", "chat gpt-4o", "execute_tool lookup"]
    finally:
        await stop_receiver(server, task)
