"""``tracestream bench ui`` on a tiny table: its data, its report, and its page check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.ui import BIG_TRACE_ID, BIG_TRACE_SPANS, LIST_CASES, generate_ui_tables, measure_ui
from tracestream.sinks import ChdbStorage, apply_migrations

SPANS = 2_000  # 400 traces of 5 spans


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStorage]:
    opened = ChdbStorage(Path(tmp_path_factory.mktemp("bench-ui")) / "chdb", "tracestream")
    opened.open()
    try:
        apply_migrations(opened)
        generate_ui_tables(opened, SPANS)
        yield opened
    finally:
        opened.close()


def test_the_tables_hold_the_generated_traces_and_one_big_tree(storage: ChdbStorage) -> None:
    counts = storage.query(
        "SELECT count(), uniqExact(trace_id), countIf(trace_id = {big:String}) FROM spans",
        {"big": BIG_TRACE_ID},
    ).rows[0]
    assert counts == (SPANS + BIG_TRACE_SPANS, SPANS // 5 + 1, BIG_TRACE_SPANS)
    traces = storage.query("SELECT count(), sum(span_count) FROM traces FINAL").rows[0]
    assert traces == (SPANS // 5 + 1, SPANS + BIG_TRACE_SPANS)
    # Every span of the big trace but the root hangs under another of its spans.
    orphans = storage.query(
        "SELECT countIf(parent_span_id = ''), countIf(parent_span_id != '' AND parent_span_id"
        " NOT IN (SELECT span_id FROM spans WHERE trace_id = {big:String}))"
        " FROM spans WHERE trace_id = {big:String}",
        {"big": BIG_TRACE_ID},
    ).rows[0]
    assert orphans == (1, 0)


def test_the_report_gives_each_request_its_quantiles_and_ratio(storage: ChdbStorage) -> None:
    report = measure_ui(storage, requests=2, browser=False)
    assert report["list_first_page_rows"] == 50
    assert report["list_first_page_equals_baseline"] is True
    assert report["trace_page_spans"] == BIG_TRACE_SPANS
    server = report["server"]
    assert set(server) == {
        *LIST_CASES,
        "trace_page",
        "trace_page_columns",
        "baseline_list",
        "baseline_list_without_projection",
        "baseline_trace",
    }
    for name, timing in server.items():
        assert timing["runs"] == 2, name
        assert 0 < timing["p50_ms"] <= timing["p95_ms"], name
        assert ("ratio_to_baseline" in timing) != name.startswith("baseline"), name
    assert server["list_first_page"]["ratio_to_list_without_projection"] > 0
    assert report["browser"] == {"skipped": "--no-browser"}
    assert report["targets"] == {"list_p95_ms": 300, "trace_data_p95_ms": 500, "drawn_ms": 1000}


def test_the_trace_page_alone(storage: ChdbStorage) -> None:
    report = measure_ui(storage, requests=2, browser=False, pages="trace")
    assert set(report["server"]) == {"trace_page", "trace_page_columns", "baseline_trace"}
    assert "list_first_page_rows" not in report
    assert report["trace_page_spans"] == BIG_TRACE_SPANS
