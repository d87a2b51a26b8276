"""The pure pipeline with windows and anomaly scoring wired: span events in, closed
windows and a latency anomaly out; windows and scores are state the caller owns."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tracestream.streams._anomaly import AnomalyScorer
from tracestream.streams._assembly import Assembler
from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import Pipeline, Stages
from tracestream.streams._pricing import Pricer
from tracestream.streams._redaction import Redactor
from tracestream.streams._validate import SourceRecord, Validator
from tracestream.streams._windows import WindowAggregator

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def _span(rng: random.Random, n: int, end: datetime, latency_ms: float) -> bytes:
    trace_id = f"{rng.getrandbits(128) | 1:032x}"
    return orjson.dumps(
        {
            "event_id": f"01936f4e-7c2a-7def-8a4b-{n:012x}",
            "event_type": "span",
            "project": "p",
            "service": "checkout",
            "trace_id": trace_id,
            "span_id": f"{rng.getrandbits(64) | 1:016x}",
            "timestamp": end.isoformat(),
            "kind": "tool",
            "name": "search",
            "start_time": (end - timedelta(milliseconds=latency_ms)).isoformat(),
            "end_time": end.isoformat(),
            "status": "ok",
        }
    )


def _pipeline() -> tuple[Pipeline, CollectorRegistry, dict[str, object]]:
    registry = CollectorRegistry()
    baselines: dict[str, object] = {}
    stages = Stages(
        validator=Validator(max_event_bytes=10_000, max_depth=8),
        redactor=Redactor(),
        assembler=Assembler(Pricer(), grace_s=0.0),
    )
    stages.windows = WindowAggregator(window_s=10.0, allowed_lateness_s=0.0)
    stages.scorer = AnomalyScorer(baselines, min_baseline=5, min_count=10)  # type: ignore[arg-type]
    return Pipeline(stages, PipelineMetrics(registry)), registry, baselines


def test_windows_close_and_a_slow_window_is_an_anomaly() -> None:
    pipeline, registry, baselines = _pipeline()
    rng = random.Random(7)
    windows, anomalies = [], []
    n = 0
    for w in range(9):
        slow = w == 8
        records = []
        for i in range(30):
            end = T0 + timedelta(seconds=10 * w + i * 0.3)
            latency = (2000.0 if slow else 100.0) + rng.uniform(-10, 10)
            records.append(SourceRecord("t", 0, n, None, _span(rng, n, end, latency)))
            n += 1
        now_ms = int((T0 + timedelta(seconds=10 * w + 10)).timestamp() * 1000)
        out = pipeline.process(records, now_ms=now_ms)
        windows += out.windows
        anomalies += out.anomalies
    # Windows close by event-time watermark: the first eight closed, the slow one is open.
    assert len(windows) == 8 and not anomalies
    assert all(w.count == 30 and w.kind == "tool" for w in windows)
    idle = int((T0 + timedelta(seconds=200)).timestamp() * 1000)
    out = pipeline.tick(now_ms=idle)  # no traffic: the last window closes by the idle flush
    assert len(out.windows) == 1
    (anomaly,) = (a for a in out.anomalies if a.metric == "latency_p95_ms")
    assert anomaly.direction == "high" and anomaly.value > 1900
    assert len(baselines) == 1
    scored = registry.get_sample_value(
        "tracestream_assembly_events_total", {"kind": "anomaly_windows_scored"}
    )
    assert scored == 9


def test_pipeline_without_windows_emits_none() -> None:
    registry = CollectorRegistry()
    stages = Stages(Validator(max_event_bytes=10_000, max_depth=8), Redactor(), Assembler(Pricer()))
    pipeline = Pipeline(stages, PipelineMetrics(registry))
    out = pipeline.process(
        [SourceRecord("t", 0, 0, None, _span(random.Random(1), 1, T0, 5.0))], now_ms=0
    )
    assert out.spans and not out.windows and not out.anomalies
