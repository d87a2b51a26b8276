"""Request parsing and SQL building of the read API: values bound, fragments fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracestream.ui._params import (
    BadRequest,
    parse_list_query,
    parse_range,
    parse_trace_query,
    search_tokens,
    traces_sql,
)
from tracestream.ui._read import bucket_seconds, fill_series, page_of_newest

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_range_defaults_to_the_last_day_and_reads_since_and_iso_times() -> None:
    assert parse_range({}, NOW) == (NOW - timedelta(hours=24), NOW)
    assert parse_range({"since": "15m"}, NOW) == (NOW - timedelta(minutes=15), NOW)
    start, end = parse_range({"from": "2026-11-01T10:00:00Z", "to": "2026-11-01T10:30:00"}, NOW)
    assert (start, end) == (
        datetime(2026, 11, 1, 10, tzinfo=UTC),
        datetime(2026, 11, 1, 10, 30, tzinfo=UTC),
    )
    # An offset is converted to UTC.
    assert parse_range({"from": "2026-11-01T12:00:00+02:00"}, NOW)[0] == datetime(
        2026, 11, 1, 10, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "a week"}, "since"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-01T13:00:00Z"}, "empty time range"),
        ({"from": "2026-11-01T10:00:00Z", "since": "1h"}, "either from or since"),
    ],
)
def test_bad_ranges_name_the_parameter(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_range(params, NOW)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "start_time; DROP TABLE spans"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"status": "broken"}, "status"),
        ({"min_duration_ms": "fast"}, "min_duration_ms"),
        ({"min_cost_usd": "-1"}, "min_cost_usd"),
        ({"min_cost_usd": "nan"}, "min_cost_usd"),
        ({"has_errors": "maybe"}, "has_errors"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"q": "a b c d e f g h i"}, "at most 8 words"),
    ],
)
def test_bad_trace_queries_are_refused_before_any_sql(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_trace_query(params, NOW)


def test_search_is_cut_into_words_as_the_text_index_cuts_text() -> None:
    assert search_tokens("timed-out  order #42, order") == ("timed", "out", "order", "42")
    assert search_tokens("  ") == ()
    assert search_tokens("naïve café") == ("naïve", "café")


def test_a_pasted_trace_id_filters_by_id_instead_of_searching() -> None:
    query = parse_trace_query({"q": "000000000000000000000000000000A2"}, NOW)
    assert query.search == ()
    assert query.filters == {"trace_id": "000000000000000000000000000000a2"}


def test_filter_values_are_bound_as_parameters_never_written_into_the_sql() -> None:
    hostile = "x') OR 1=1 --"
    params = {
        "project": hostile, "service": hostile, "environment": hostile, "model": hostile,
        "user": hostile, "session": hostile, "tag": hostile, "min_duration_ms": "5",
        "min_cost_usd": "0.5", "has_errors": "yes", "status": "error", "q": "drop tables",
        "sort": "cost_usd", "order": "asc", "limit": "10", "offset": "20",
    }  # fmt: skip
    sql, bound = traces_sql(parse_trace_query(params, NOW), final=True, rows=11, skip=20)
    assert hostile not in sql and "drop" not in sql
    assert "FROM traces FINAL" in sql
    assert bound == {
        "start": "2026-10-31 12:00:00.000000", "end": "2026-11-01 12:00:00.000000",
        "limit": 11, "offset": 20,
        "project": hostile, "service": hostile, "environment": hostile, "model": hostile,
        "user": hostile, "session": hostile, "tag": hostile, "status": "error",
        "min_duration_ms": 5.0, "min_cost_usd": 0.5, "has_errors": "true",
        "q0": "drop", "q1": "tables",
    }  # fmt: skip
    # Every bound parameter has its placeholder, and the chosen order is used.
    for name in bound:
        assert "{" + name + ":" in sql, name
    assert "ORDER BY cost_usd ASC NULLS LAST, trace_id ASC" in sql
    # The search narrows spans by project too (the sort key's first column).
    assert sql.count("project = {project:String}") == 2


def test_without_filters_the_statement_has_only_the_range_and_the_page() -> None:
    sql, bound = traces_sql(parse_trace_query({}, NOW), final=False, rows=102, skip=0)
    assert set(bound) == {"start", "end", "limit", "offset"}
    assert "FINAL" not in sql and "{final}" not in sql
    assert "hasToken" not in sql and "AND project" not in sql
    assert "{conditions}" not in sql and "{search}" not in sql


def test_list_queries_keep_only_the_filters_an_endpoint_allows() -> None:
    query = parse_list_query({"project": "shop", "model": "gpt-4o"}, NOW, {"project": ""})
    assert query.filters == {"project": "shop"}


def test_buckets_are_round_and_empty_ones_are_filled() -> None:
    start = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert bucket_seconds(start, start + timedelta(hours=1)) == 60
    assert bucket_seconds(start, start + timedelta(hours=24)) == 1800
    assert bucket_seconds(start, start + timedelta(days=30)) == 43200
    rows = [{"bucket": start + timedelta(minutes=1), "traces": 4, "p50_ms": 10.0,
             "p95_ms": 20.0, "errors": 1, "cost_usd": 0.5}]  # fmt: skip
    points = fill_series(rows, start, start + timedelta(minutes=3), 60)
    assert points == [
        {"bucket": "2026-11-01T10:00:00.000000Z", "traces": 0, "p50_ms": None, "p95_ms": None,
         "errors": 0, "cost_usd": 0.0, "error_rate": None},
        {"bucket": "2026-11-01T10:01:00.000000Z", "traces": 4, "p50_ms": 10.0, "p95_ms": 20.0,
         "errors": 1, "cost_usd": 0.5, "error_rate": 0.25},
        {"bucket": "2026-11-01T10:02:00.000000Z", "traces": 0, "p50_ms": None, "p95_ms": None,
         "errors": 0, "cost_usd": 0.0, "error_rate": None},
    ]  # fmt: skip


def row(trace: str, version: int, day: int = 1) -> dict[str, object]:
    start = datetime(2026, 11, day, 10, tzinfo=UTC)
    return {"project": "p", "trace_id": trace, "version": version, "start_time": start}


def newest_of(*rows: dict[str, object]) -> dict[tuple[str, str, str], int]:
    """What TRACE_REEMITS answers: the newest version of keys that have one above 1."""
    out: dict[tuple[str, str, str], int] = {}
    for r in rows:
        key = ("p", r["start_time"].date().isoformat(), r["trace_id"])  # type: ignore[attr-defined]
        version = int(r["version"])  # type: ignore[call-overload]
        if version > 1:
            out[key] = max(out.get(key, 0), version)
    return out


def test_a_page_is_read_off_the_newest_versions_when_they_fill_it() -> None:
    # Without FINAL, t1 appears twice (v1 superseded by v2) and t9's newest
    # version is outside these candidates (it ranks lower): v1 is dropped.
    candidates = [
        row("t1", 1),
        row("t2", 1),
        row("t1", 2),
        row("t9", 1),
        row("t3", 1),
        row("t4", 1),
    ]
    newest = {**newest_of(*candidates), ("p", "2026-11-01", "t9"): 2}
    page = page_of_newest(candidates, newest, offset=0, limit=2, k=6)
    assert [(r["trace_id"], r["version"]) for r in page or []] == [("t2", 1), ("t1", 2), ("t3", 1)]
    page = page_of_newest(candidates, newest, offset=2, limit=1, k=8)
    assert [r["trace_id"] for r in page or []] == ["t3", "t4"]


def test_a_trace_moved_to_another_day_is_two_rows_as_final_keeps_it() -> None:
    candidates = [row("t1", 1, day=1), row("t1", 2, day=2)]
    page = page_of_newest(candidates, newest_of(*candidates), offset=0, limit=5, k=12)
    assert [(r["trace_id"], r["version"]) for r in page or []] == [("t1", 1), ("t1", 2)]


def test_final_answers_when_superseded_rows_crowd_the_candidates() -> None:
    # k rows came back (there may be more) but only 2 are newest: a page of
    # 2 (+1) cannot be told from them.
    candidates = [row("t1", 1), row("t1", 2), row("t2", 1), row("t2", 2)]
    newest = newest_of(*candidates)
    assert page_of_newest(candidates, newest, offset=0, limit=2, k=4) is None
    # Not cut at k: these are all the matching rows, so the page is exact.
    assert page_of_newest(candidates, newest, offset=0, limit=2, k=5) is not None
    assert page_of_newest([], {}, offset=0, limit=2, k=6) == []


def test_overview_breakdowns_are_split_ranked_and_cut() -> None:
    from tracestream.ui._read import breakdowns

    def part(
        level: str, key: str | None, calls: int, errors: int, cost: float
    ) -> dict[str, object]:
        return {"level": level, "key": key, "calls": calls, "errors": errors, "input_tokens": 1,
                "output_tokens": 2, "unpriced": 0, "cost_usd": cost, "error_type": "E"}  # fmt: skip

    rows = [
        part("model", None, 9, 0, 0.0),  # spans that are not generations
        part("model", "b", 1, 0, 0.5), part("model", "a", 1, 0, 0.5), part("model", "c", 2, 0, 0.9),
        part("service", "s", 12, 1, 1.9),
        part("tool", None, 10, 0, 0.0), part("tool", "ok", 3, 0, 0.0),
        part("tool", "t1", 4, 1, 0.0), part("tool", "t2", 2, 2, 0.0),
    ]  # fmt: skip
    models, services, tools = breakdowns(rows)
    assert [m["model"] for m in models] == ["c", "a", "b"]
    assert services == [{"service": "s", "span_count": 12, "errors": 1, "cost_usd": 1.9}]
    assert [(t["tool"], t["errors"], t["error_rate"]) for t in tools] == [
        ("t2", 2, 1.0), ("t1", 1, 0.25),
    ]  # fmt: skip
