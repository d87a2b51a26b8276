"""The byte budget's estimate against the heap the states really take (tracemalloc).

If a change to the states makes them much bigger or smaller, this fails: re-measure
and update the constants in ``streams/_state_size.py``.
"""

from __future__ import annotations

import gc
import tracemalloc
from datetime import datetime

import orjson
import pytest
from prometheus_client import CollectorRegistry

from benchmarks.core import core_events
from benchmarks.pipeline import bench_events
from tracestream.schemas._fast_parse import EVENTS
from tracestream.streams._assembly import Assembler
from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import Pipeline, Stages
from tracestream.streams._pricing import Pricer
from tracestream.streams._redaction import Redactor
from tracestream.streams._trace_state import DormantTrace
from tracestream.streams._validate import SourceRecord, Validator

pytestmark = pytest.mark.unit


def _measure(events: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """(estimate / heap) with every trace open, then with every trace dormant."""
    records = [SourceRecord("events", 0, i, k, v) for i, (k, v) in enumerate(events)]
    now_ms = 1 + max(
        int(datetime.fromisoformat(orjson.loads(v)["timestamp"]).timestamp() * 1000)
        for _, v in events
    )
    store: dict[str, object] = {}
    assembler = Assembler(Pricer(), store, grace_s=10, idle_timeout_s=3600)  # type: ignore[arg-type]
    pipeline = Pipeline(
        Stages(Validator(max_event_bytes=1 << 20, max_depth=32), Redactor(), assembler),
        PipelineMetrics(CollectorRegistry()),
    )
    # Warm the caches (prices, metric children) on other traces, then drop them.
    pipeline.process(records[:50], now_ms=now_ms)
    pipeline.tick(now_ms=now_ms + 10_000_000)
    held_before = assembler.state_bytes
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50, len(records), 500):
            pipeline.process(records[i : i + 500], now_ms=now_ms)
        gc.collect()
        heap_open = tracemalloc.get_traced_memory()[0] - before
        estimate_open = assembler.state_bytes - held_before
        pipeline.tick(now_ms=now_ms + 20_000)  # past the grace: every trace goes dormant
        # The parse cache of trace infos is not state (bounded, shared by traces): once
        # the traces are dormant it is all that still holds their trace infos.
        EVENTS.clear_shared()
        gc.collect()
        heap_dormant = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(isinstance(s, DormantTrace) for s in store.values())
    return estimate_open / heap_open, (assembler.state_bytes - held_before) / heap_dormant


@pytest.mark.parametrize(
    "workload",
    [
        pytest.param(lambda: core_events(200), id="demo-start-end-halves"),
        pytest.param(lambda: bench_events(1600), id="bench-whole-spans"),
    ],
)
def test_estimate_is_within_a_third_of_the_heap(workload: object) -> None:
    events = workload()  # type: ignore[operator]
    open_ratio, dormant_ratio = _measure(events)
    assert 0.67 <= open_ratio <= 1.5, f"open traces: estimate/heap = {open_ratio:.2f}"
    assert 0.67 <= dormant_ratio <= 1.5, f"dormant traces: estimate/heap = {dormant_ratio:.2f}"
