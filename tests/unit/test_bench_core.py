"""``tracestream bench core`` runs the real pipeline and reports every stage it times."""

from __future__ import annotations

import gc

from benchmarks.core import run_core_bench


def test_core_bench_times_every_stage_and_counts_the_output() -> None:
    thresholds = gc.get_threshold()
    report = run_core_bench(traces=100, batch=100, repeats=2)
    per_event = report["us_per_event"]
    for stage in ("validate", "redact", "assemble", "emit_traces", "windows", "serialize"):
        assert per_event[stage] > 0, stage
    assert per_event["worker_cpu_total"] >= per_event["pipeline_total"]
    # Traces are emitted once the clock (1 s per batch) passes their 5 s grace.
    assert per_event["spans"] > per_event["traces"] > 0
    assert report["gc"] == "worker"
    # The bench puts the collector back as it found it.
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
