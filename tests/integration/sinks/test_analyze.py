"""`tracestream analyze` on the known data set: every number stated by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracestream.sinks import ChdbStorage, StorageRejected, apply_migrations
from tracestream.sinks._analytics import AnalysisScope, analyze
from tracestream.sinks._report_html import report_html
from tracestream.sinks._report_render import report_dict

from ._known_data import RANGE, T2, insert_known_data

pytestmark = pytest.mark.integration


@pytest.fixture
def known(tmp_path: Path) -> Iterator[ChdbStorage]:
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        insert_known_data(storage)
        yield storage
    finally:
        storage.close()


def _sections(
    storage: ChdbStorage, **filters: str
) -> dict[str, dict[str, list[dict[str, object]]]]:
    report = analyze(storage, AnalysisScope(*RANGE, **filters))  # type: ignore[arg-type]
    sections: dict[str, dict[str, list[dict[str, object]]]] = report_dict(report)["sections"]
    return sections


def test_performance_counts_a_re_emitted_span_once(known: ChdbStorage) -> None:
    perf = _sections(known, project="shop")["performance"]
    # 12 spans: the generation stored as versions 1 and 2 counts once. Durations
    # 100,100,150,200,200,300,400,500,600,900,1000,2000 -> inclusive quantiles.
    assert perf["overview"] == [
        {"spans": 12, "errors": 2, "success_rate": 0.833333, "p50_ms": 350.0,
         "p95_ms": 1450.0, "p99_ms": 1890.0, "input_tokens": 3800, "output_tokens": 380,
         "cached_tokens": 0, "reasoning_tokens": 0, "cost_usd": 0.0153},
    ]  # fmt: skip
    ops = {(r["kind"], r["name"]): r for r in perf["operations"]}
    assert [r["spans"] for r in perf["operations"]] == [4, 3, 3, 2]
    assert ops[("tool", "sql_query")]["success_rate"] == 0.5
    assert ops[("tool", "sql_query")]["p95_ms"] == 860.0
    assert ops[("agent", "answer")]["p50_ms"] == 1000.0
    assert perf["traces"] == [
        {"status": "ok", "traces": 2, "p50_ms": 750.0, "p95_ms": 975.0, "p99_ms": 995.0,
         "avg_spans": 4.0, "cost_usd": 0.0063},
        {"status": "error", "traces": 1, "p50_ms": 2000.0, "p95_ms": 2000.0, "p99_ms": 2000.0,
         "avg_spans": 4.0, "cost_usd": 0.009},
    ]  # fmt: skip
    assert [(r["bucket"], r["spans"], r["errors"]) for r in perf["timeseries"]] == [
        ("2026-11-01T10:00:00Z", 8, 2),
        ("2026-11-01T11:00:00Z", 4, 0),
    ]


def test_costs_by_model_service_project_and_totals(known: ChdbStorage) -> None:
    costs = _sections(known)["costs"]
    assert costs["totals"] == [
        {"generations": 5, "input_tokens": 3810, "output_tokens": 385, "cached_tokens": 0,
         "reasoning_tokens": 0, "cost_usd": 0.0153, "unpriced_generations": 1},
    ]  # fmt: skip
    assert [(r["model"], r["generations"], r["cost_usd"]) for r in costs["by_model"]] == [
        ("claude-sonnet-4", 1, 0.009),
        ("gpt-4o", 3, 0.0063),
        ("mystery-1", 1, 0.0),
    ]
    assert [(r["service"], r["cost_usd"]) for r in costs["by_service"]] == [
        ("checkout", 0.01425),
        ("search", 0.00105),
    ]
    assert [
        (r["project"], r["cost_usd"], r["unpriced_generations"]) for r in costs["by_project"]
    ] == [
        ("shop", 0.0153, 0),
        ("other", 0.0, 1),
    ]


def test_quality_patterns_and_anomalies(known: ChdbStorage) -> None:
    s = _sections(known, project="shop")
    scores = {r["name"]: r for r in s["quality"]["scores"]}
    assert (scores["helpfulness"]["mean"], scores["helpfulness"]["median"]) == (0.6, 0.7)
    assert scores["thumbs_up"]["value_counts"] == {"false": 1, "true": 1}
    assert scores["topic"]["value_counts"] == {"billing": 1}
    worst = s["quality"]["worst_traces"]
    assert (worst[0]["trace_id"], worst[0]["mean_score"], worst[0]["status"]) == (T2, 0.1, "error")
    assert [r["mean_score"] for r in worst] == [0.1, 0.7, 0.95]
    assert s["patterns"]["tool_sequences"] == [
        {"tool_sequence": "web_search > sql_query", "traces": 2, "share": 0.666667,
         "error_rate": 0.5},
        {"tool_sequence": "web_search", "traces": 1, "share": 0.333333, "error_rate": 0.0},
    ]  # fmt: skip
    assert [(r["error_type"], r["signature"], r["errors"], r["traces"])
            for r in s["patterns"]["error_signatures"]] == [
        ("TimeoutError", "request <n> timed out after <n>s", 2, 1),
    ]  # fmt: skip
    assert [(r["metric"], r["score"]) for r in s["anomalies"]["anomalies"]] == [
        ("latency_p95_ms", 19.5),
        ("error_rate", 10.0),
    ]


def test_filters_service_model_where(known: ChdbStorage) -> None:
    search = _sections(known, service="search")
    assert search["performance"]["overview"][0]["spans"] == 4
    assert [r["status"] for r in search["performance"]["traces"]] == ["ok"]
    assert [r["name"] for r in search["quality"]["scores"]] == ["helpfulness", "topic"]
    assert search["anomalies"]["anomalies"] == []
    gpt = _sections(known, model="gpt-4o")
    assert gpt["costs"]["totals"][0]["cost_usd"] == 0.0063
    errors = _sections(known, where="status = 'error'")
    assert errors["performance"]["overview"][0]["spans"] == 2


def test_time_range_is_half_open(known: ChdbStorage) -> None:
    report = analyze(
        known,
        AnalysisScope(
            datetime(2026, 11, 1, 10, 0, tzinfo=UTC), datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
        ),
    )
    overview = report.table("performance.overview").dicts()[0]
    assert overview["spans"] == 10  # shop 8 + other 2; T3 starts at 11:00, excluded


def test_where_cannot_write_or_smuggle_a_statement(known: ChdbStorage) -> None:
    for where in ("1) SETTINGS readonly=0 --", "1; DROP TABLE spans", "nonexistent_column = 1"):
        with pytest.raises(StorageRejected):
            analyze(known, AnalysisScope(*RANGE, where=where), sections=("performance",))
    assert known.query("SELECT count() FROM spans").scalar() == 15  # both versions stored


def test_html_report_is_self_contained(known: ChdbStorage) -> None:
    html = report_html(analyze(known, AnalysisScope(*RANGE, project="shop")))
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 4
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html and "<link" not in html
    assert "web_search &gt; sql_query" in html
