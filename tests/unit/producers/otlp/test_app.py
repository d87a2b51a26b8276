"""The receiver's answers, status code by status code, as the OTLP specification asks."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import orjson
import pytest
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tracestream.producers.otlp import (
    InMemorySink,
    KafkaSink,
    OutRecord,
    ReceiverConfig,
    SinkBusy,
    create_app,
    hash_key,
)
from tracestream.producers.otlp._codec import request_json
from tracestream.schemas import Topics

from ._asgi import call

pytestmark = pytest.mark.unit

PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}
TRACE = bytes.fromhex("5bf92f3577b34da6a3ce929d0e0e4737")


def _request(*span_ids: bytes, name: str = "op") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for span_id in span_ids:
        spans.append(Span(trace_id=TRACE, span_id=span_id, name=name,
                          start_time_unix_nano=1, end_time_unix_nano=2))  # fmt: skip
    return request


GOOD = _request(bytes.fromhex("10f067aa0ba902b7"), bytes.fromhex("20f067aa0ba902b7"))


def _status(body: bytes, content_type: str) -> tuple[int, str]:
    if content_type == "application/json":
        obj = orjson.loads(body)
        return obj.get("code", 0), obj.get("message", "")
    status = status_pb2.Status.FromString(body)
    return status.code, status.message


async def test_protobuf_success_leaves_partial_success_unset() -> None:
    sink = InMemorySink()
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces",
                        GOOD.SerializeToString(), PB)  # fmt: skip
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(answer.body).HasField("partial_success")
    assert len(sink.records) == 2 and not any(r.dlq for r in sink.records)


async def test_json_success_answers_json() -> None:
    sink = InMemorySink()
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces", request_json(GOOD),
                        {"content-type": "application/json; charset=utf-8"})  # fmt: skip
    assert (answer.status, answer.headers["content-type"]) == (200, "application/json")
    assert orjson.loads(answer.body) == {}
    assert len(sink.records) == 2


async def test_gzip_body() -> None:
    sink = InMemorySink()
    body = gzip.compress(GOOD.SerializeToString())
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces", body,
                        {**PB, "content-encoding": "gzip"}, chunk_bytes=10)  # fmt: skip
    assert answer.status == 200 and len(sink.records) == 2


@pytest.mark.parametrize("headers", [PB, JS])
async def test_empty_request_succeeds(headers: dict[str, str]) -> None:
    sink = InMemorySink()
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces", b"", headers)
    assert answer.status == 200 and sink.records == []


async def test_partial_success_counts_rejected_spans_and_sends_them_to_the_dlq() -> None:
    request = _request(bytes.fromhex("10f067aa0ba902b7"), b"\0" * 8)
    sink = InMemorySink()
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces",
                        request.SerializeToString(), PB)  # fmt: skip
    assert answer.status == 200
    partial = ExportTraceServiceResponse.FromString(answer.body).partial_success
    assert partial.rejected_spans == 1
    assert "schema" in partial.error_message and "span_id" in partial.error_message
    assert [r.dlq for r in sink.records] == [False, True]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"\xff\xff\xff", PB),
        (b"{nope", JS),
        (b"not gzip", {**PB, "content-encoding": "gzip"}),
    ],
)
async def test_undecodable_is_400_with_a_status(body: bytes, headers: dict[str, str]) -> None:
    sink = InMemorySink()
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces", body, headers)
    assert answer.status == 400
    assert answer.headers["content-type"] == headers["content-type"]
    code, message = _status(answer.body, headers["content-type"])
    assert code == 3 and message
    assert sink.records == []


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/plain"}, {}, {**PB, "content-encoding": "br"}],
)
async def test_other_content_types_are_415(headers: dict[str, str]) -> None:
    answer = await call(create_app(ReceiverConfig(), InMemorySink()), "/v1/traces", b"x", headers)
    assert answer.status == 415
    assert _status(answer.body, answer.headers["content-type"])[1]


async def test_over_the_limit_after_gunzip_is_413() -> None:
    config = ReceiverConfig(max_body_bytes=10_000)
    bomb = gzip.compress(b"\0" * 1_000_000)
    answer = await call(create_app(config, InMemorySink()), "/v1/traces", bomb,
                        {**PB, "content-encoding": "gzip"})  # fmt: skip
    assert answer.status == 413
    answer = await call(create_app(config, InMemorySink()), "/v1/traces", b"\0" * 10_001, PB)
    assert answer.status == 413
    declared = {**PB, "content-length": "20000"}
    answer = await call(create_app(config, InMemorySink()), "/v1/traces", b"", declared)
    assert answer.status == 413


class _BusySink:
    async def produce(self, records: Sequence[OutRecord]) -> list[str | None]:
        raise SinkBusy("256 MiB already waiting on Kafka")


async def test_busy_is_429_with_retry_after() -> None:
    answer = await call(create_app(ReceiverConfig(retry_after_s=7), _BusySink()), "/v1/traces",
                        GOOD.SerializeToString(), PB)  # fmt: skip
    assert answer.status == 429 and answer.headers["retry-after"] == "7"
    assert _status(answer.body, "application/x-protobuf")[0] == 8


async def test_kafka_unreachable_is_503_with_retry_after_never_500() -> None:
    # A real KafkaSink that has not connected (nothing listens on port 9): never a 500.
    sink = KafkaSink(bootstrap_servers="127.0.0.1:9", topics=Topics("t."))
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces", request_json(GOOD), JS)
    assert answer.status == 503 and answer.headers["retry-after"] == "5"
    code, message = _status(answer.body, "application/json")
    assert code == 14 and "Kafka" in message


class _RefusingSink:
    async def produce(self, records: Sequence[OutRecord]) -> list[str | None]:
        return ["Kafka refuses the record: MessageSizeTooLargeError"] + [None] * (len(records) - 1)


async def test_a_record_kafka_refuses_for_good_is_a_rejected_span_not_a_retry() -> None:
    answer = await call(create_app(ReceiverConfig(), _RefusingSink()), "/v1/traces",
                        GOOD.SerializeToString(), PB)  # fmt: skip
    assert answer.status == 200
    partial = ExportTraceServiceResponse.FromString(answer.body).partial_success
    assert partial.rejected_spans == 1 and "MessageSizeTooLarge" in partial.error_message


@pytest.mark.parametrize("signal", ["metrics", "logs"])
async def test_other_signals_get_a_non_retryable_answer(signal: str) -> None:
    answer = await call(create_app(ReceiverConfig(), InMemorySink()), f"/v1/{signal}", b"", PB)
    assert answer.status == 404
    assert answer.status not in (429, 502, 503, 504)  # the spec's retryable codes
    assert signal in _status(answer.body, "application/x-protobuf")[1]


async def test_ingest_keys_decide_the_project_and_reject_others_with_401() -> None:
    config = ReceiverConfig(ingest_keys={hash_key("k-alpha"): "alpha", hash_key("k-beta"): "beta"})
    sink = InMemorySink()
    app = create_app(config, sink)
    body = GOOD.SerializeToString()
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic k-alpha"}):
        answer = await call(app, "/v1/traces", body, {**PB, **headers})
        assert answer.status == 401
        assert "wrong" not in _status(answer.body, "application/x-protobuf")[1]
    assert sink.records == []
    answer = await call(app, "/v1/traces", body, {**PB, "authorization": "Bearer k-beta"})
    assert answer.status == 200
    assert {orjson.loads(r.value)["project"] for r in sink.records} == {"beta"}


async def test_retry_of_the_same_batch_produces_identical_records() -> None:
    sink = InMemorySink()
    app = create_app(ReceiverConfig(), sink)
    for _ in range(2):
        assert (await call(app, "/v1/traces", GOOD.SerializeToString(), PB)).status == 200
    first, second = sink.records[:2], sink.records[2:]
    assert first == second


async def test_metrics_count_requests_by_status_and_spans_by_outcome() -> None:
    from prometheus_client import CollectorRegistry

    from tracestream.producers.otlp import ReceiverMetrics

    metrics = ReceiverMetrics(CollectorRegistry())
    config = ReceiverConfig(ingest_keys={hash_key("k"): "p"})
    app = create_app(config, InMemorySink(), metrics=metrics)
    auth = {**PB, "authorization": "Bearer k"}
    mixed = _request(bytes.fromhex("10f067aa0ba902b7"), b"\0" * 8)
    await call(app, "/v1/traces", mixed.SerializeToString(), auth)
    await call(app, "/v1/traces", b"", {**PB, "authorization": "Bearer nope"})
    await call(app, "/v1/traces", b"\xff", auth)
    text = (await call(app, "/metrics", method="GET")).body.decode()
    assert 'tracestream_otlp_requests_total{status="200"} 1.0' in text
    assert 'tracestream_otlp_requests_total{status="401"} 1.0' in text
    assert 'tracestream_otlp_requests_total{status="400"} 1.0' in text
    assert 'tracestream_otlp_requests_total{status="503"} 0.0' in text
    assert 'tracestream_otlp_spans_total{outcome="accepted"} 1.0' in text
    assert 'tracestream_otlp_spans_total{outcome="rejected"} 1.0' in text
    assert "tracestream_otlp_request_duration_seconds_count 3.0" in text


async def test_a_large_body_is_converted_off_the_event_loop_with_the_same_result() -> None:
    big = ExportTraceServiceRequest()
    spans = big.resource_spans.add().scope_spans.add().spans
    for i in range(1, 600):
        span = spans.add(trace_id=TRACE, span_id=i.to_bytes(8, "big"), name="op",
                         start_time_unix_nano=1, end_time_unix_nano=2)  # fmt: skip
        span.attributes.add(key="payload").value.string_value = "x" * 2000
    body = big.SerializeToString()
    assert len(body) > 1024 * 1024
    sink = InMemorySink()
    answer = await call(create_app(ReceiverConfig(), sink), "/v1/traces", body, PB)
    assert answer.status == 200 and len(sink.records) == 599
