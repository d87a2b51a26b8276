"""Both worker runtimes publish through the one Publisher: a guard added there covers both.

Each runtime is built as the front builds it (no I/O: nothing starts until
``run``), its producer swapped for the in-memory transport, and its own tick
driven: a trace whose events are an hour old is due, and what the tick
publishes, how a refused attempt is retried and counted, and where the
changelog goes must be the same for the Faust adapter and the aiokafka loop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tests.unit.streams._transport import MemoryTransport
from tracestream.schemas import Topics
from tracestream.streams import (
    AnomalyScorer,
    Assembler,
    Pipeline,
    PipelineMetrics,
    Pricer,
    Redactor,
    SourceRecord,
    Stages,
    Validator,
    WindowAggregator,
)
from tracestream.streams.runtime import (
    KafkaWorker,
    KafkaWorkerConfig,
    Message,
    Publisher,
    WorkerApp,
    WorkerConfig,
)

pytestmark = pytest.mark.unit

TOPICS = Topics("t.")
TRACE = "0af7651916cd43dd8448eb211c80319c"
ENGINES = ("aiokafka", "faust")


def _build(engine: str, tmp_path: Path) -> Any:
    metrics = PipelineMetrics(CollectorRegistry())
    stages = Stages(Validator(max_event_bytes=100_000, max_depth=16), Redactor())
    pipeline = Pipeline(stages, metrics)
    common: dict[str, Any] = {
        "app_id": "app",
        "kafka_bootstrap": "127.0.0.1:9",  # never dialled: nothing here starts a client
        "topics": TOPICS,
        "partitions": 3,
    }
    worker: Any
    if engine == "aiokafka":
        worker = KafkaWorker(KafkaWorkerConfig(**common), pipeline, metrics)
        worker._held = {0}  # as after an assignment (whose restore would read Kafka)
    else:
        config = WorkerConfig(**common, web_enabled=False, datadir=str(tmp_path))
        worker = WorkerApp(config, pipeline, metrics)
    stages.assembler = Assembler(Pricer(), worker.store, grace_s=5)
    stages.windows = WindowAggregator(worker.window_store)
    stages.scorer = AnomalyScorer(worker.baseline_store)
    return worker


def _consume_old_trace(worker: Any) -> None:
    """Process a root span and a child an hour old at their own time: held, not yet due."""
    at = datetime.now(UTC) - timedelta(hours=1)
    values = [
        orjson.dumps(
            {
                "event_id": f"01936f4e-7c2a-7def-8a4b-{n:012x}",
                "event_type": "span",
                "project": "p",
                "service": "s",
                "trace_id": TRACE,
                "span_id": f"{n + 1:016x}",
                "parent_span_id": None if n == 0 else f"{1:016x}",
                "timestamp": at.isoformat(),
                "kind": "tool",
                "name": "lookup",
                "start_time": (at - timedelta(milliseconds=80)).isoformat(),
                "end_time": at.isoformat(),
            }
        )
        for n in (1, 0)
    ]
    records = [SourceRecord(TOPICS.events, 0, i, TRACE.encode(), v) for i, v in enumerate(values)]
    out = worker.pipeline.process(records, now_ms=int(at.timestamp() * 1000))
    assert not out.traces  # within its grace: the tick below emits it


def _topics(messages: list[Message]) -> list[str]:
    return [m[0] for m in messages]


@pytest.mark.parametrize("engine", ENGINES)
async def test_each_runtime_ticks_through_the_shared_publisher(engine: str, tmp_path: Path) -> None:
    worker = _build(engine, tmp_path)
    assert type(worker.publisher) is Publisher
    assert worker.publisher.metrics is worker.metrics
    transport = MemoryTransport(["nack"])
    worker.publisher.transport = transport
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    worker.publisher._sleep = sleep
    _consume_old_trace(worker)

    await worker.tick()

    outputs, resent, changelog = transport.attempts
    assert outputs == resent  # refused, then sent again whole
    # The spans went out with the batch; the tick closes the trace and its window.
    assert _topics(outputs) == [TOPICS.traces, TOPICS.metrics]
    assert not set(_topics(changelog)) & set(TOPICS.all())  # state after the outputs
    assert any("trace-state" in topic for topic in _topics(changelog))
    assert slept == pytest.approx([0.1])
    registry = worker.metrics.registry
    failures = registry.get_sample_value("tracestream_publish_failures_total", {"error": "Refused"})
    assert failures == 1
    assert registry.get_sample_value("tracestream_traces_total", {"status": "ok"}) == 1


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_guard_on_the_publisher_applies_to_each_runtime(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    send = Publisher.send_until_acked

    async def guarded(self: Publisher, messages: list[Message]) -> None:
        seen.append(_topics(messages))
        await send(self, messages)

    monkeypatch.setattr(Publisher, "send_until_acked", guarded)
    worker = _build(engine, tmp_path)
    worker.publisher.transport = MemoryTransport()
    _consume_old_trace(worker)
    await worker.tick()
    assert len(seen) == 2 and TOPICS.traces in seen[0]
