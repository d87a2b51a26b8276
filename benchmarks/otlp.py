"""``tracestream bench otlp``: the OTLP receiver's spans/s and CPU per span, against the Collector.

What is measured, on batches of 512 LLM-sized spans (GenAI attributes with
input and output messages and usage, about 2 KB each), as protobuf and as
OTLP/JSON:

- ``receiver``: a ``tracestream otlp`` process on the configured Kafka broker
  (fresh topics, deleted after): decode, convert, produce with ``acks=all``
  and answer. Spans/s is wall-clock throughput with a few requests in flight;
  CPU µs per span is the receiver process's own CPU time (user + system, all
  threads, from ``/proc``) over the spans it accepted. Receive-to-ack latency
  p50/p99 is timed with one request in flight, as a ``BatchSpanProcessor``
  sends.
- ``collector``: the OpenTelemetry Collector (``otelcol`` with the OTLP
  receiver into a no-op exporter, built by ``deploy/otelcol/build.sh``) sent
  the same bodies the same way, in the same run: the baseline. Reported as
  the ratio of CPU per span, ours over the collector's. If it cannot be built
  or started, the report says why and gives ours alone.
- ``convert_only``: decode + convert in this process, no HTTP and no Kafka,
  to see how much of the receiver's CPU is the conversion.

Targets (issue 12): at least 10,000 spans/s per receiver process, CPU per span
at most 3x the collector's. Numbers only; nothing here asserts on time.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tracestream._settings import load_settings

__all__ = ["Body", "make_batches", "otlp"]

SPANS_PER_BATCH = 512
_ROOT = Path(__file__).resolve().parent.parent
_SYSTEM = (
    "You are the support assistant of an online shop. Answer politely and briefly, cite the "
    "order number when there is one, never promise refunds without checking the policy, and "
    "hand over to a human when the customer asks twice. Tools: lookup_order, refund_policy, "
    "escalate_to_human. "
)


@dataclass(frozen=True, slots=True)
class Body:
    """One request body and how many spans it holds."""

    content_type: str
    data: bytes
    spans: int


def make_batches(batches: int, spans_per_batch: int = SPANS_PER_BATCH) -> list[Any]:
    """``batches`` distinct ``ExportTraceServiceRequest`` of LLM-sized spans.

    Traces of 8 spans: an agent root and generations under it, each with GenAI
    messages (a system prompt, the conversation so far, the answer) and usage.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    def attr(key: str, value: str | int | float) -> KeyValue:
        if isinstance(value, str):
            return KeyValue(key=key, value=AnyValue(string_value=value))
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(double_value=value))

    start_ns = time.time_ns() - 3_600_000_000_000
    requests = []
    for b in range(batches):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.extend(
            [attr("service.name", "support-bot"), attr("deployment.environment.name", "bench")]
        )
        scope = resource.scope_spans.add()
        scope.scope.name = "bench"
        trace, root_id = b"", b""
        for i in range(spans_per_batch):
            if i % 8 == 0:
                trace, root_id = uuid.uuid4().bytes, os.urandom(8)
            begin = start_ns + (b * spans_per_batch + i) * 1_000_000
            question = f"Where is my order {b:04d}-{i:04d}? It was due yesterday and " * 15
            messages = json.dumps([
                {"role": "system", "parts": [{"type": "text", "content": _SYSTEM}]},
                {"role": "user", "parts": [{"type": "text", "content": question}]},
            ])  # fmt: skip
            answer = json.dumps([{"role": "assistant", "finish_reason": "stop", "parts": [
                {"type": "text", "content": f"Order {b:04d}-{i:04d} left our warehouse "
                 "this morning; the courier expects to deliver it tomorrow before noon."}]}])  # fmt: skip
            span = Span(
                trace_id=trace,
                span_id=root_id if i % 8 == 0 else os.urandom(8),
                parent_span_id=b"" if i % 8 == 0 else root_id,
                name="invoke_agent support" if i % 8 == 0 else "chat gpt-4o-mini",
                kind=Span.SPAN_KIND_INTERNAL if i % 8 == 0 else Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=begin,
                end_time_unix_nano=begin + 850_000_000,
            )
            span.attributes.extend([
                attr("gen_ai.operation.name", "invoke_agent" if i % 8 == 0 else "chat"),
                attr("gen_ai.provider.name", "openai"),
                attr("gen_ai.request.model", "gpt-4o-mini"),
                attr("gen_ai.request.temperature", 0.2),
                attr("gen_ai.request.max_tokens", 512),
                attr("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                attr("gen_ai.response.id", f"chatcmpl-{b}-{i}"),
                attr("gen_ai.conversation.id", f"session-{b}-{i // 8}"),
                attr("user.id", f"user-{i % 50}"),
                attr("gen_ai.input.messages", messages),
                attr("gen_ai.output.messages", answer),
                attr("gen_ai.usage.input_tokens", 420),
                attr("gen_ai.usage.output_tokens", 36),
                attr("gen_ai.usage.cache_read.input_tokens", 256),
                attr("gen_ai.usage.reasoning.output_tokens", 12),
            ])  # fmt: skip
            span.status.code = span.status.STATUS_CODE_OK
            scope.spans.append(span)
        requests.append(request)
    return requests


def _bodies(requests: list[Any]) -> dict[str, list[Body]]:
    from tracestream.producers.otlp._codec import JSON, PROTOBUF, request_json

    return {
        "protobuf": [Body(PROTOBUF, r.SerializeToString(), SPANS_PER_BATCH) for r in requests],
        "json": [Body(JSON, request_json(r), SPANS_PER_BATCH) for r in requests],
    }


def _attribute_bytes(requests: list[Any]) -> float:
    spans = requests[0].resource_spans[0].scope_spans[0].spans
    return statistics.fmean(sum(a.ByteSize() for a in s.attributes) for s in spans)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(connection: http.client.HTTPConnection, body: Body) -> tuple[int, bytes]:
    connection.request("POST", "/v1/traces", body=body.data,
                       headers={"Content-Type": body.content_type})  # fmt: skip
    answer = connection.getresponse()
    return answer.status, answer.read()


def _send(port: int, bodies: list[Body], rounds: int, in_flight: int) -> tuple[float, int, int]:
    """Send every body ``rounds`` times from ``in_flight`` connections.

    Returns wall seconds, spans accepted, requests that were not answered 200.
    """
    work = [bodies[i % len(bodies)] for i in range(rounds * len(bodies))]
    lock = threading.Lock()
    counts = [0, 0]

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for body in work[index::in_flight]:
                status, _ = _post(connection, body)
                with lock:
                    if status == 200:
                        counts[0] += body.spans
                    else:
                        counts[1] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(in_flight)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, counts[0], counts[1]


def _latencies_ms(port: int, bodies: list[Body], requests: int) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    try:
        for i in range(requests):
            began = time.perf_counter()
            status, _ = _post(connection, bodies[i % len(bodies)])
            if status == 200:
                times.append((time.perf_counter() - began) * 1000)
    finally:
        connection.close()
    if not times:
        return {}
    ordered = sorted(times)
    return {
        "p50": round(ordered[len(ordered) // 2], 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "requests": len(ordered),
    }


def _measure(
    pid: int, port: int, bodies: list[Body], rounds: int, in_flight: int, latency_requests: int
) -> dict[str, Any]:
    """Throughput and CPU per span of the process ``pid`` serving ``port``, then latency."""
    cpu_before = _cpu_s(pid)
    wall_s, spans, failed = _send(port, bodies, rounds, in_flight)
    cpu_s = _cpu_s(pid) - cpu_before
    return {
        "spans": spans,
        "failed_requests": failed,
        "wall_s": round(wall_s, 3),
        "spans_per_s": round(spans / wall_s) if wall_s else None,
        "cpu_s": round(cpu_s, 3),
        "cpu_us_per_span": round(cpu_s / spans * 1e6, 2) if spans else None,
        "latency_ms": _latencies_ms(port, bodies, latency_requests),
    }


def _wait_ready(port: int, ready: Body, child: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Until a real batch is answered 200 (the receiver is connected to Kafka)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise click.ClickException(f"the process on port {port} exited ({child.returncode})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                if _post(connection, ready)[0] == 200:
                    return
            finally:
                connection.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"nothing on port {port} answered 200 within {timeout_s} s")


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(10)


def _run_server(
    command: list[str], env: dict[str, str], port: int, bodies: dict[str, list[Body]],
    measure: Callable[[int, list[Body]], dict[str, Any]], log: Path,
) -> dict[str, Any]:  # fmt: skip
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, bodies["protobuf"][0], child, 90)
        return {encoding: measure(child.pid, items) for encoding, items in bodies.items()}
    finally:
        _stop(child)


def _build_collector() -> tuple[Path | None, str]:
    script = _ROOT / "deploy" / "otelcol" / "build.sh"
    try:
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                              timeout=1800, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"build failed: {exc!r}"
    if done.returncode != 0:
        return None, "build failed: " + done.stderr.strip()[-500:]
    return Path(done.stdout.strip().splitlines()[-1]), ""


def _convert_only(bodies: dict[str, list[Body]], rounds: int) -> dict[str, float]:
    """µs per span of decode + convert in this process (no HTTP, no Kafka)."""
    from tracestream.producers.otlp._json_spans import convert_body

    out = {}
    for encoding, items in bodies.items():
        began, spans = time.process_time(), 0
        for _ in range(rounds):
            for body in items:
                convert_body(body.data, body.content_type, project="bench")
                spans += body.spans
        out[encoding] = round((time.process_time() - began) / spans * 1e6, 2)
    return out


@click.command("otlp")
@click.option("--batches", type=int, default=8, show_default=True,
              help="Distinct batches of 512 spans, sent in turn.")  # fmt: skip
@click.option("--rounds", type=int, default=12, show_default=True,
              help="Times each batch is sent per encoding and server.")  # fmt: skip
@click.option("--in-flight", type=int, default=4, show_default=True,
              help="Concurrent requests for the throughput figure.")  # fmt: skip
@click.option("--latency-requests", type=int, default=60, show_default=True,
              help="Requests sent one at a time for p50/p99.")  # fmt: skip
@click.option("--no-collector", is_flag=True, help="Skip the OpenTelemetry Collector baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report only.")
def otlp(
    batches: int, rounds: int, in_flight: int, latency_requests: int, no_collector: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Spans/s and CPU per span of `tracestream otlp` (acks=all), and of the Collector."""
    from tracestream._worker_process import free_port
    from tracestream.broker._topics import delete_topics_with_prefix

    settings = load_settings()
    requests = make_batches(batches)
    bodies = _bodies(requests)
    report: dict[str, Any] = {
        "spans_per_batch": SPANS_PER_BATCH,
        "attribute_bytes_per_span": round(_attribute_bytes(requests)),
        "body_bytes": {k: len(v[0].data) for k, v in bodies.items()},
        "in_flight": in_flight,
        "cores": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 2),
        "convert_only_us_per_span": _convert_only(bodies, 1),
    }

    def measure(port: int) -> Callable[[int, list[Body]], dict[str, Any]]:
        return lambda pid, items: _measure(pid, port, items, rounds, in_flight, latency_requests)

    with tempfile.TemporaryDirectory(prefix="bench-otlp-") as scratch:
        work = Path(scratch)
        prefix = f"bench-otlp-{uuid.uuid4().hex[:8]}."
        port = free_port()
        env = {**os.environ, "TRACESTREAM_TOPIC_PREFIX": prefix,
               "TRACESTREAM_HOME": str(work / "home"), "TRACESTREAM_OTLP_INGEST_KEYS": "",
               "TRACESTREAM_LOG_LEVEL": "WARNING"}  # fmt: skip
        env.pop("TRACESTREAM_OTLP_KEYS_FILE", None)
        command = [str(Path(sys.executable).with_name("tracestream")), "otlp",
                   "--port", str(port), "--grpc-port", "0"]  # fmt: skip
        try:
            report["receiver"] = _run_server(command, env, port, bodies, measure(port),
                                             work / "receiver.log")  # fmt: skip
        finally:
            asyncio.run(delete_topics_with_prefix(settings.kafka_bootstrap, prefix))
        report["kafka"] = {"bootstrap": settings.kafka_bootstrap, "acks": "all"}

        if no_collector:
            report["collector"] = {"skipped": "--no-collector"}
        else:
            binary, why = _build_collector()
            if binary is None:
                report["collector"] = {"error": why}
            else:
                http_port, grpc_port = free_port(), free_port()
                config = work / "otelcol.yaml"
                template = (_ROOT / "deploy" / "otelcol" / "config.yaml").read_text()
                config.write_text(
                    template.replace("127.0.0.1:14318", f"127.0.0.1:{http_port}").replace(
                        "127.0.0.1:14317", f"127.0.0.1:{grpc_port}"
                    )
                )
                try:
                    report["collector"] = _run_server(
                        [str(binary), "--config", str(config)], dict(os.environ), http_port,
                        bodies, measure(http_port), work / "collector.log",
                    )  # fmt: skip
                    report["collector"]["binary"] = binary.name
                except click.ClickException as exc:
                    log = (work / "collector.log").read_text(errors="replace")[-500:]
                    report["collector"] = {"error": f"{exc.message}: {log}"}
    report["cpu_ratio_vs_collector"] = _ratios(report)
    report["targets"] = {"spans_per_s": 10_000, "cpu_ratio_vs_collector": 3.0}
    click.echo(json.dumps(report) if as_json else json.dumps(report, indent=2))


def _ratios(report: dict[str, Any]) -> dict[str, float] | None:
    """Ours over the collector's CPU per span, per encoding."""
    ours, theirs = report.get("receiver", {}), report.get("collector", {})
    ratios = {}
    for encoding in ("protobuf", "json"):
        a = (ours.get(encoding) or {}).get("cpu_us_per_span")
        b = (theirs.get(encoding) or {}).get("cpu_us_per_span")
        if a and b:
            ratios[encoding] = round(a / b, 2)
    return ratios or None
