"""Rolling windows: aggregates, sketch quantiles within 1 %, exact merges, watermark closing."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.unit.streams._spans import TRACE, at, sid
from tracestream.schemas import MetricWindow, SpanRecord
from tracestream.streams._sketch import SketchBins, SketchError
from tracestream.streams._windows import WindowAggregator, WindowState, merge

pytestmark = pytest.mark.unit


def span(end_s: float, ms: float, **kw: Any) -> SpanRecord:
    fields: dict[str, Any] = {
        "project": "acme", "service": "api", "environment": "prod", "trace_id": TRACE,
        "span_id": sid(1), "kind": "generation", "name": "chat", "status": "ok",
        "start_time": at(end_s - ms / 1000), "end_time": at(end_s), "duration_ms": ms,
        "model": {"name": "gpt-4o"}, "processed_at": at(end_s), **kw,
    }  # fmt: skip
    return SpanRecord.model_validate(fields)


def _exact_lower_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def test_aggregates_per_key() -> None:
    agg = WindowAggregator()
    usage = {"input_tokens": 100, "output_tokens": 20, "cached_tokens": 5, "reasoning_tokens": 7}
    cost = {"total_usd": 0.25}
    agg.add(span(1, 100, usage=usage, cost=cost), at(1))
    agg.add(span(2, 300, status="error", usage=usage, cost=cost), at(2))
    agg.add(span(3, 50, name="embed"), at(3))
    agg.add(span(4, 50, status="unfinished", end_time=None, duration_ms=None), at(4))
    agg.add(span(75, 10), at(75))  # next window; watermark 65 closes the first
    windows = agg.close_due(at(75))
    by_name = {w.name: w for w in windows}
    assert set(by_name) == {"chat", "embed"}
    chat = by_name["chat"]
    assert (chat.count, chat.error_count, chat.cost_usd) == (2, 1, 0.5)
    assert (chat.input_tokens, chat.output_tokens, chat.cached_tokens, chat.reasoning_tokens) == (
        200, 40, 10, 14,
    )  # fmt: skip
    assert (chat.window_start, chat.window_end) == (at(0), at(60))
    assert chat.model == "gpt-4o"
    assert agg.close_due(at(76)) == []


def test_quantiles_within_one_percent() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(5, 1.2) for _ in range(5000)]
    agg = WindowAggregator()
    for v in values:
        agg.add(span(30, v), at(30))
    (w,) = agg.close_due(at(1000))  # idle flush
    for q, got in ((0.5, w.latency_p50_ms), (0.95, w.latency_p95_ms), (0.99, w.latency_p99_ms)):
        exact = _exact_lower_quantile(values, q)
        assert got is not None
        assert abs(got - exact) <= 0.01 * exact, q


def _window(values: list[float], **kw: Any) -> MetricWindow:
    agg = WindowAggregator()
    for v in values:
        agg.add(span(30, v, **kw), at(30))
    (w,) = agg.close_due(at(1000))
    return w


def test_merge_equals_single_window_over_union() -> None:
    rng = random.Random(3)
    a = [rng.uniform(1, 500) for _ in range(700)]
    b = [rng.uniform(200, 4000) for _ in range(300)]
    usage = {"input_tokens": 3, "output_tokens": 2}
    merged = merge(_window(a, usage=usage), _window(b, usage=usage))
    union = _window(a + b, usage=usage)
    assert merged.model_dump(exclude={"emitted_at", "latency_sketch"}) == union.model_dump(
        exclude={"emitted_at", "latency_sketch"}
    )
    assert merged.latency_sketch is not None and union.latency_sketch is not None
    m, u = (
        SketchBins.from_base64(merged.latency_sketch),
        SketchBins.from_base64(union.latency_sketch),
    )
    assert (m.bins, m.n, m.zero, m.min, m.max) == (u.bins, u.n, u.zero, u.min, u.max)
    assert m.sum == pytest.approx(u.sum)


def test_merge_refuses_different_keys() -> None:
    with pytest.raises(ValueError, match="cannot be merged"):
        merge(_window([1.0]), _window([1.0], name="other"))


def test_watermark_allowed_lateness_and_late_drop() -> None:
    agg = WindowAggregator(window_s=60, allowed_lateness_s=10)
    agg.add(span(59, 1), at(59))
    agg.add(span(69, 1), at(69))  # watermark 59: window [0, 60) still open
    assert agg.close_due(at(69)) == []
    assert agg.add(span(50, 1), at(69))  # within lateness: counted
    agg.add(span(70, 1), at(70))  # watermark 60: closes [0, 60)
    (w,) = agg.close_due(at(70))
    assert (w.window_start, w.count) == (at(0), 2)
    assert not agg.add(span(55, 1), at(71))
    assert agg.counts["late_spans"] == 1


def test_configurable_window_and_idle_flush() -> None:
    agg = WindowAggregator(window_s=10, allowed_lateness_s=2)
    agg.add(span(3, 1), at(3))
    agg.add(span(14, 1), at(14))
    assert [w.window_start for w in agg.close_due(at(14))] == [at(0)]
    assert agg.close_due(at(25)) == []  # 11 s idle < 10 + 2
    assert [w.window_start for w in agg.close_due(at(26))] == [at(10)]


def test_open_window_cap_counts_overflow() -> None:
    agg = WindowAggregator(max_open_windows=1)
    assert agg.add(span(1, 1), at(1))
    assert not agg.add(span(1, 1, name="b"), at(1))
    assert agg.counts["window_overflow"] == 1


def test_state_round_trips_and_restart_gives_same_windows() -> None:
    agg = WindowAggregator()
    for i in range(50):
        agg.add(span(i, 10 + i, name=f"n{i % 3}"), at(i))
    restored = {k: WindowState.from_bytes(v.to_bytes()) for k, v in agg.store.items()}
    assert restored == dict(agg.store)
    again = WindowAggregator(restored)
    expected = [w.model_dump(exclude={"emitted_at"}) for w in agg.close_due(at(1000))]
    again.add(span(200, 1, name="x"), at(200))  # a restart sees new data, advancing the watermark
    got = [w.model_dump(exclude={"emitted_at"}) for w in again.close_due(at(200)) if w.name != "x"]
    assert got == expected


def test_sketch_codec_rejects_garbage_and_mixed_accuracy() -> None:
    with pytest.raises(SketchError):
        SketchBins.from_base64("not base64!")
    with pytest.raises(SketchError):
        SketchBins().merge(SketchBins(ra=0.02))
    assert SketchBins().quantiles(0.5) == (None,)


def test_zero_and_negative_latency_go_to_zero_bucket() -> None:
    s = SketchBins()
    s.add(0.0)
    s.add(-5.0)
    s.add(100.0)
    assert (s.zero, s.n, s.min) == (2, 3, 0.0)
    assert s.quantiles(0.0, 1.0) == (0.0, pytest.approx(100.0, rel=0.01))


def test_restored_windows_close_when_no_traffic_follows() -> None:
    agg = WindowAggregator(window_s=60, allowed_lateness_s=10)
    agg.add(span(30, 5), at(30))
    again = WindowAggregator(dict(agg.store))
    assert again.close_due(at(100)) == []  # the idle clock starts at the first tick
    assert [w.count for w in again.close_due(at(170))] == [1]
