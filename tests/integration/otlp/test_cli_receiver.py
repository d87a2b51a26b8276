"""`tracestream otlp` as an operator runs it: a child process with per-project keys."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.integration.streams._kafka_io import consume
from tracestream._worker_process import free_port
from tracestream.producers.otlp import add_key
from tracestream.schemas import Topics

from .test_receiver_kafka import _post, agent_spans

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TRACESTREAM = str(Path(sys.executable).with_name("tracestream"))


def _wait_listening(port: int, child: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(f"tracestream otlp exited with {child.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("tracestream otlp did not listen in time")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        body: bytes = answer.read()
        return body.decode()


def _start(command: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    with (workdir / "otlp.log").open("wb") as log:
        return subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


async def test_keys_decide_the_project_and_a_wrong_key_is_401(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    alpha = add_key(keys, "alpha")
    add_key(keys, "beta")
    port = free_port()
    env = {**os.environ, "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "TRACESTREAM_TOPIC_PREFIX": topic_prefix, "TRACESTREAM_HOME": str(tmp_path / "home")}  # fmt: skip
    grpc_port = free_port()
    command = [TRACESTREAM, "otlp", "--port", str(port), "--grpc-port", str(grpc_port),
               "--keys-file", str(keys)]  # fmt: skip
    child = await asyncio.to_thread(_start, command, env, tmp_path)
    try:
        # Both listeners: the gRPC server may come up after the HTTP one.
        await asyncio.to_thread(_wait_listening, port, child, 60)
        await asyncio.to_thread(_wait_listening, grpc_port, child, 60)
        url = f"http://127.0.0.1:{port}/v1/traces"
        status, _, _ = await _post(url, b"", {"Content-Type": "application/x-protobuf",
                                              "Authorization": "Bearer tsk_wrong"})  # fmt: skip
        assert status == 401
        exporter = OTLPSpanExporter(endpoint=url, timeout=30,
                                    headers={"Authorization": f"Bearer {alpha}"})  # fmt: skip
        try:
            result = await asyncio.to_thread(exporter.export, agent_spans())
        finally:
            exporter.shutdown()
        assert result == SpanExportResult.SUCCESS
        records = await consume(kafka_bootstrap, kafka_topics.events, 3, timeout_s=30)
        assert {orjson.loads(r.value)["project"] for r in records} == {"alpha"}
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Export(ExportTraceServiceRequest(), timeout=30)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        assert 'tracestream_otlp_requests_total{status="401"} 2.0' in text  # HTTP and gRPC
        assert 'tracestream_otlp_spans_total{outcome="accepted"} 3.0' in text
    finally:
        child.send_signal(signal.SIGTERM)
        await asyncio.to_thread(child.wait, 30)
    output = (tmp_path / "otlp.log").read_text()
    assert "ingest keys required (2 configured;" in output
    assert alpha not in output  # the key never reaches a log
