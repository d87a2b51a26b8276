"""``tracestream bench e2e``'s pure parts: quantiles, the ramp's verdict, the report's shape."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.e2e_stats import (
    BEHIND_TARGET_S,
    LANGSMITH_BYTES_PER_TRACE,
    RampStep,
    StoredTable,
    highest_sustained,
    percentile,
    storage_report,
    summarize_freshness,
)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 25) == 2.0
    assert percentile([1.0, 2.0], 99) == pytest.approx(1.99)
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_freshness_summary_is_json_with_targets_and_no_nan() -> None:
    seconds = [0.1 * i for i in range(1, 101)]  # 0.1 .. 10.0
    summary = summarize_freshness(seconds, missing=3, poll_s=0.1, published=[0.2, 0.4])
    assert summary["spans_probed"] == 103
    assert summary["spans_not_seen"] == 3
    assert summary["p50_s"] == pytest.approx(5.05)
    assert summary["p99_s"] == pytest.approx(9.901)
    assert summary["max_s"] == 10.0
    assert (summary["target_p50_s"], summary["target_p99_s"]) == (1.0, 3.0)
    assert summary["to_worker_publish_p50_s"] == pytest.approx(0.3)
    empty = summarize_freshness([], missing=0, poll_s=0.1)
    assert empty["p50_s"] is None and empty["max_s"] is None
    assert empty["to_worker_publish_p99_s"] is None
    json.dumps([summary, empty], allow_nan=False)


def _step(rate: int, mid: int, end: int, produced: float | None = None) -> RampStep:
    return RampStep(rate, produced or rate, rate, backlog_mid=mid, backlog_end=end)


def test_a_step_is_sustained_with_a_small_backlog_that_does_not_grow() -> None:
    assert _step(2000, mid=1500, end=2500).sustained
    # More than BEHIND_TARGET_S seconds of input behind at the end.
    assert not _step(2000, mid=6000, end=int(BEHIND_TARGET_S * 2000) + 1).sustained
    # Within the bound but grown by more than one second of input in the second half.
    assert not _step(2000, mid=100, end=2101).sustained
    # The producer itself fell short of the rate: the step measured the producer.
    assert not _step(2000, mid=0, end=0, produced=1800).sustained
    assert _step(2000, mid=0, end=0).as_dict()["backlog_end_s"] == 0.0


def test_the_highest_sustained_rate_is_the_last_step_before_the_first_failure() -> None:
    ok, bad = _step(1, 0, 0), _step(1, 0, 10)
    steps = [
        RampStep(2000, 2000, 2000, 0, 0),
        RampStep(4000, 4000, 4000, 0, 0),
        RampStep(8000, 8000, 5000, 10_000, 30_000),
        RampStep(16000, 16000, 16000, 0, 0),  # after a failure: not counted
    ]
    assert highest_sustained(steps) == 4000
    assert highest_sustained([bad, ok]) is None
    assert highest_sustained([]) is None


def test_storage_report_divides_by_distinct_rows_and_compares_with_langsmith() -> None:
    tables = [
        StoredTable("spans", rows=4000, bytes_on_disk=800_000, bytes_uncompressed=4_000_000),
        StoredTable("traces", rows=1000, bytes_on_disk=150_000, bytes_uncompressed=600_000),
        StoredTable("metrics_1m", rows=50, bytes_on_disk=50_000, bytes_uncompressed=50_000),
    ]
    report = storage_report(tables, spans=4000, traces=1000)
    assert report["bytes_per_span"] == 200.0
    assert report["bytes_per_trace"] == 1000.0  # every table's bytes over the traces
    assert report["spans_per_trace"] == 4.0
    assert report["langsmith_bytes_per_trace"] == round(LANGSMITH_BYTES_PER_TRACE)
    assert 7_400 < LANGSMITH_BYTES_PER_TRACE < 7_500  # 600 GiB a day at 1,000 traces/s
    assert report["ratio_to_langsmith"] == round(1000 / LANGSMITH_BYTES_PER_TRACE, 3)
    assert report["tables"]["spans"] == {"rows": 4000, "bytes_on_disk": 800_000, "compression": 5.0}
    empty = storage_report([], spans=0, traces=0)
    assert empty["bytes_per_trace"] is None
    json.dumps([report, empty], allow_nan=False)
