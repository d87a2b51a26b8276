"""model_json writes exactly what pydantic writes, for everything the worker publishes."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from benchmarks.core import core_events
from tracestream.schemas import AnomalyRecord, EventParser, SpanEvent, TraceInfo
from tracestream.streams._anomaly import AnomalyScorer
from tracestream.streams._assembly import Assembler
from tracestream.streams._json import model_json
from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import Pipeline, Stages
from tracestream.streams._pricing import Pricer
from tracestream.streams._redaction import Redactor
from tracestream.streams._validate import SourceRecord, Validator
from tracestream.streams._windows import WindowAggregator

pytestmark = pytest.mark.unit


def _pydantic(model: BaseModel) -> bytes:
    data: bytes = model.__pydantic_serializer__.to_json(model)
    return data


def test_same_bytes_for_every_event_and_record_of_the_demo_workload() -> None:
    events = core_events(120)
    parser = EventParser()
    parsed = [parser.parse(value) for _, value in events]
    stages = Stages(
        Validator(max_event_bytes=1 << 20, max_depth=32),
        Redactor(),
        Assembler(Pricer()),
        windows=WindowAggregator(),
        scorer=AnomalyScorer(),
    )
    pipeline = Pipeline(stages, PipelineMetrics(CollectorRegistry()))
    records = [SourceRecord("e", 0, i, k, v) for i, (k, v) in enumerate(events)]
    out = pipeline.process(records, now_ms=int(datetime.now(UTC).timestamp() * 1000))
    out.extend(pipeline.tick(now_ms=int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)))
    anomaly = AnomalyRecord(
        project="p",
        service="s",
        kind="generation",
        name="n",
        metric="latency_p95_ms",
        window_start=datetime(2026, 11, 24, 9, tzinfo=UTC),
        window_end=datetime(2026, 11, 24, 9, 1, tzinfo=UTC),
        value=1e-7,
        baseline=float("inf"),
        scale=0.0,
        score=-3.25,
        threshold=3.5,
        direction="low",
        detected_at=datetime(2026, 11, 24, 9, 1, 5, 123456, tzinfo=UTC),
    )
    models: list[BaseModel] = [*parsed, *out.spans, *out.traces, *out.windows, anomaly]
    kinds = {type(m).__name__ for m in models}
    assert {"SpanStartEvent", "SpanEndEvent", "SpanEvent", "ScoreEvent"} <= kinds
    assert {"SpanRecord", "TraceRecord", "MetricWindow"} <= kinds
    assert any(s.redactions for s in out.spans) and any(s.cost for s in out.spans)
    for model in models:
        assert model_json(model) == _pydantic(model), type(model).__name__


def test_values_orjson_cannot_write_fall_back_to_pydantic() -> None:
    event = EventParser().parse(
        orjson.dumps(
            {
                "event_id": "01936f4e-7c2a-7def-8a4b-0123456789ab",
                "event_type": "span",
                "project": "p",
                "service": "s",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "span_id": "00f067aa0ba902b7",
                "timestamp": "2026-11-24T07:30:00Z",
                "kind": "tool",
                "name": "t",
                "start_time": "2026-11-24T07:29:59Z",
                "end_time": "2026-11-24T07:30:00Z",
            }
        )
    )
    assert isinstance(event, SpanEvent)
    big = event.model_copy(update={"attributes": {"n": 2**70}})

    class _Span(BaseModel):
        took: timedelta

    for model in (big, _Span(took=timedelta(seconds=1.5))):
        assert model_json(model) == _pydantic(model)


def test_model_json_returns_bytes_no_larger_than_their_content() -> None:
    # orjson's own result keeps the buffer it reserved for worst-case escaping (~8x
    # here); the worker keeps these bytes in its state.
    info = TraceInfo(name="x" * 500, tags=("a", "b"))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        kept = [model_json(info) for _ in range(100)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(d.size_diff for d in after.compare_to(before, "filename"))
    assert grown / len(kept) < 2 * len(kept[0])
