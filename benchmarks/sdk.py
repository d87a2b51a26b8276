"""``tracestream bench sdk``: what the producer SDK costs, measured in one run.

Three measurements (issue 3), printed as one JSON object:

- ``per_span``: app-thread cost of one span with a small input and output,
  ours and OpenTelemetry's SDK (BatchSpanProcessor, exporter that drops)
  side by side, rounds interleaved so both see the same noise; ``ratio_vs_otel``.
- ``throughput``: events per second delivered to the real broker from one
  process through :class:`KafkaTransport`, and a bare aiokafka loop sending
  the same bytes with the same producer settings in the same run; ``ratio``.
- ``rss``: peak RSS growth while 1,000,000 spans are emitted with the broker
  unreachable (a dead port), in a fresh child process, with the dropped count.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import click

__all__ = ["sdk"]

_INPUT = {"role": "user", "content": "What is the capital of France?"}
_OUTPUT = {"role": "assistant", "content": "Paris."}


class _DiscardTransport:
    """Our bounded buffer plus a background thread that drops what it takes: the
    like-for-like of OpenTelemetry's BatchSpanProcessor with a dropping exporter."""

    def __init__(self) -> None:
        from tracestream.producers._buffer import DropCounter, EventBuffer

        self._buffer = EventBuffer(max_events=100_000, max_bytes=64 << 20, drops=DropCounter())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            while self._buffer.take(1000):
                pass

    def send(self, key: bytes, value: bytes) -> bool:
        return self._buffer.offer(key, value)

    def flush(self, timeout_s: float) -> bool:
        return True

    def shutdown(self, timeout_s: float) -> bool:
        self._stop.set()
        self._thread.join(timeout_s)
        return True

    def stats(self) -> Any:
        from tracestream.producers import TransportStats

        return TransportStats()


def _summary(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {
        "median_us": round(ordered[len(ordered) // 2] / 1000, 2),
        "p99_us": round(ordered[int(len(ordered) * 0.99)] / 1000, 2),
        "mean_us": round(statistics.fmean(ordered) / 1000, 2),
    }


def _time_ours(tracer: Any, n: int) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        start = clock()
        with tracer.span("answer", input=_INPUT) as span:
            span.record_output(_OUTPUT)
        out.append(clock() - start)
    return out


def _time_otel(otel: Any, n: int) -> list[int]:
    clock = time.perf_counter_ns
    dumps = json.dumps
    out = []
    for _ in range(n):
        start = clock()
        with otel.start_as_current_span("answer") as span:
            span.set_attribute("input", dumps(_INPUT))
            span.set_attribute("output", dumps(_OUTPUT))
        out.append(clock() - start)
    return out


def measure_per_span(spans: int, rounds: int) -> dict[str, Any]:
    """Median and p99 per-span cost, ours and OpenTelemetry's, interleaved rounds."""
    from tracestream.producers import Tracer

    ours = Tracer(
        project="bench", service="bench", transport=_DiscardTransport(), flush_at_exit=False
    )
    result: dict[str, Any] = {"spans_per_round": spans, "rounds": rounds}
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class _Drop(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(_Drop()))
        otel: Any = provider.get_tracer("bench")
    except ImportError:
        provider, otel = None, None
    ours_samples: list[int] = []
    otel_samples: list[int] = []
    ours_medians, otel_medians = [], []
    _time_ours(ours, 2000)
    if otel is not None:
        _time_otel(otel, 2000)
    for _ in range(rounds):
        batch = _time_ours(ours, spans)
        ours_samples += batch
        ours_medians.append(statistics.median(batch))
        if otel is not None:
            batch = _time_otel(otel, spans)
            otel_samples += batch
            otel_medians.append(statistics.median(batch))
    ours.shutdown(1.0)
    ours.transport.shutdown(1.0)
    result["tracestream"] = _summary(ours_samples)
    if provider is not None:
        provider.shutdown()
        result["opentelemetry"] = _summary(otel_samples)
        ratios = [a / b for a, b in zip(ours_medians, otel_medians, strict=True)]
        result["ratio_vs_otel"] = round(statistics.median(ratios), 3)
        result["ratio_vs_otel_per_round"] = [round(r, 3) for r in ratios]
    return result


def _sample_events(n: int) -> list[tuple[bytes, bytes]]:
    from tracestream.producers import InMemoryTransport, Tracer

    memory = InMemoryTransport()
    tracer = Tracer(project="bench", service="bench", transport=memory, flush_at_exit=False)
    for i in range(n):
        with tracer.generation(model="gpt-4o", provider="openai", input=[_INPUT]) as gen:
            gen.record_output(_OUTPUT)
            gen.record_usage(input_tokens=12 + i % 7, output_tokens=3)
    tracer.shutdown()
    return memory.records


async def _bare_aiokafka(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    from aiokafka import AIOKafkaProducer

    from tracestream.producers._kafka import HEADERS

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, compression_type="lz4",
        linger_ms=5, max_batch_size=256 * 1024, max_request_size=1024 * 1024,
    )  # fmt: skip
    await producer.start()
    try:
        start = time.perf_counter()
        send = producer.send
        for key, value in records:
            await send(topic, value, key=key, headers=HEADERS)
        await producer.flush()
        return time.perf_counter() - start
    finally:
        await producer.stop()


def _ours(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> tuple[float, int]:
    from tracestream.producers import KafkaTransport

    transport = KafkaTransport(
        bootstrap_servers=bootstrap, topic=topic, max_buffer_events=len(records) + 1,
        max_buffer_bytes=1 << 30,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # connected before the clock starts, like the bare loop
        start = time.perf_counter()
        for key, value in records:
            transport.send(key, value)
        transport.flush(300)
        return time.perf_counter() - start, transport.stats().sent
    finally:
        transport.shutdown(10)


def _ours_spans(bootstrap: str, topic: str, n: int) -> tuple[float, int, list[int]]:
    from tracestream.producers import KafkaTransport, Tracer

    transport = KafkaTransport(
        bootstrap_servers=bootstrap, topic=topic, max_buffer_events=n + 1, max_buffer_bytes=1 << 30
    )
    tracer = Tracer(project="bench", service="bench", transport=transport, flush_at_exit=False)
    try:
        time.sleep(0.5)
        start = time.perf_counter()
        samples = _time_ours(tracer, n)
        tracer.flush(300)
        return time.perf_counter() - start, tracer.stats().sent, samples
    finally:
        tracer.shutdown(10)


def measure_throughput(bootstrap: str, events: int, rounds: int) -> dict[str, Any]:
    """Events/s to the real broker: our transport vs a bare aiokafka loop, same bytes."""
    from tracestream._settings import load_settings
    from tracestream.broker._local import ensure_topics
    from tracestream.broker._topics import delete_topics_with_prefix
    from tracestream.schemas import Topics

    settings = load_settings()
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    asyncio.run(ensure_topics(bootstrap, topics, settings.topic_partitions, 1, 3_600_000))
    records = _sample_events(events)
    bare_rates, ours_rates, ratios, sent_ok = [], [], [], True
    try:
        for _ in range(rounds):
            bare_s = asyncio.run(_bare_aiokafka(bootstrap, topics.events, records))
            ours_s, sent = _ours(bootstrap, topics.events, records)
            sent_ok = sent_ok and sent == events
            bare_rates.append(events / bare_s)
            ours_rates.append(events / ours_s)
            ratios.append(bare_s / ours_s)
        spans_s, spans_sent, samples = _ours_spans(bootstrap, topics.events, events)
    finally:
        asyncio.run(delete_topics_with_prefix(bootstrap, prefix))
    return {
        "events_per_round": events,
        "rounds": rounds,
        "partitions": settings.topic_partitions,
        "event_bytes_mean": round(statistics.fmean(len(v) for _, v in records)),
        "settings": "acks=all, idempotent, lz4, linger_ms=5, batch 256 KiB (both sides)",
        "tracestream_events_per_s": round(statistics.median(ours_rates)),
        "bare_aiokafka_events_per_s": round(statistics.median(bare_rates)),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        "all_delivered": sent_ok,
        "end_to_end_spans_per_s": round(events / spans_s),
        "end_to_end_all_delivered": spans_sent == events,
        "per_span_while_delivering": _summary(samples),
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_child(spans: int) -> dict[str, Any]:
    """Run in a fresh process: emit ``spans`` with the broker unreachable."""
    import logging
    import socket

    from tracestream.producers import KafkaTransport, Tracer

    logging.disable(logging.CRITICAL)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    transport = KafkaTransport(bootstrap_servers=f"127.0.0.1:{dead}", topic="none")
    tracer = Tracer(project="bench", service="bench", transport=transport, flush_at_exit=False)
    _time_ours(tracer, 1000)
    base = peak = _rss_bytes()
    start = time.perf_counter()
    for i in range(spans // 1000):
        for _ in range(1000):
            with tracer.span("answer", input=_INPUT) as span:
                span.record_output(_OUTPUT)
        if i % 10 == 0:
            peak = max(peak, _rss_bytes())
    elapsed = time.perf_counter() - start
    peak = max(peak, _rss_bytes())
    stats = tracer.stats()
    tracer.shutdown(1.0)
    buffer_bytes = transport._buffer.max_bytes
    return {
        "spans": spans,
        "buffer_max_events": transport._buffer.max_events,
        "buffer_max_bytes": buffer_bytes,
        "peak_rss_growth_mb": round((peak - base) / 1e6, 1),
        "limit_mb": round((buffer_bytes + 50e6) / 1e6, 1),
        "within_limit": peak - base <= buffer_bytes + 50e6,
        "dropped": stats.dropped,
        "buffered_at_end": stats.buffered,
        "mean_us_per_span": round(elapsed / spans * 1e6, 2),
    }


def measure_rss(spans: int) -> dict[str, Any]:
    code = (
        f"import json; from benchmarks.sdk import rss_child; print(json.dumps(rss_child({spans})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=1200
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "note": "shared machine: other processes ran at the same time; ratios are from the same run",
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default output).")
@click.option("--spans", default=20_000, show_default=True, help="Spans per per-span round.")
@click.option("--rounds", default=5, show_default=True, help="Rounds of the per-span measurement.")
@click.option("--events", default=200_000, show_default=True, help="Events per throughput round.")
@click.option("--throughput-rounds", default=3, show_default=True)
@click.option("--rss-spans", default=1_000_000, show_default=True)
@click.option("--bootstrap", default=None, help="Broker; default the `kafka_bootstrap` setting.")
@click.option(
    "--only", type=click.Choice(["per_span", "throughput", "rss"]), multiple=True, help="Subset."
)
def sdk(
    as_json: bool,
    spans: int,
    rounds: int,
    events: int,
    throughput_rounds: int,
    rss_spans: int,
    bootstrap: str | None,
    only: tuple[str, ...],
) -> None:
    """Measure the producer SDK: per-span cost vs OpenTelemetry, broker throughput vs
    bare aiokafka, and memory with the broker down. Needs the local broker for throughput."""
    from tracestream._settings import load_settings

    chosen = set(only) or {"per_span", "throughput", "rss"}
    report: dict[str, Any] = {"benchmark": "sdk", "machine": _machine()}
    if "per_span" in chosen:
        report["per_span"] = measure_per_span(spans, rounds)
    if "throughput" in chosen:
        report["throughput"] = measure_throughput(
            bootstrap or load_settings().kafka_bootstrap, events, throughput_rounds
        )
    if "rss" in chosen:
        report["rss"] = measure_rss(rss_spans)
    click.echo(json.dumps(report, indent=None if as_json else 2))
