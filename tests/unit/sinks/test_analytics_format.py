"""Pure parts of analyze: durations, ranges, buckets, JSON values, charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tracestream.sinks._analytics import AnalysisScope, parse_duration, resolve_range
from tracestream.sinks._report_html import bar_chart_svg, line_chart_svg
from tracestream.sinks._tabular import format_cell, jsonable

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_parse_duration() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14)
    with pytest.raises(ValueError, match="90s, 15m"):
        parse_duration("1 hour")


def test_resolve_range() -> None:
    assert resolve_range(since="1h", start=None, end=None, now=NOW) == (
        NOW - timedelta(hours=1),
        NOW,
    )
    naive = datetime(2026, 11, 1, 10, 0)  # noqa: DTZ001 - naive input is the case under test
    assert resolve_range(since=None, start=naive, end=None, now=NOW)[0].tzinfo == UTC
    assert resolve_range(since=None, start=None, end=None, now=NOW)[0] == NOW - timedelta(days=1)
    with pytest.raises(ValueError, match="either"):
        resolve_range(since="1h", start=naive, end=None, now=NOW)
    with pytest.raises(ValueError, match="empty"):
        resolve_range(since=None, start=NOW, end=NOW, now=NOW)


def test_bucket_width_is_round() -> None:
    assert AnalysisScope(NOW - timedelta(days=1), NOW).bucket_s == 1800
    assert AnalysisScope(NOW - timedelta(hours=1), NOW).bucket_s == 300
    assert AnalysisScope(NOW - timedelta(days=30), NOW).bucket_s == 86400


def test_jsonable_and_cells() -> None:
    assert jsonable(NOW) == "2026-11-01T12:00:00Z"
    assert jsonable({"a": [Decimal("1.5"), float("nan")]}) == {"a": [1.5, None]}
    assert format_cell(1234567) == "1,234,567"
    assert format_cell(0.000123) == "0.000123"
    assert format_cell(None) == "∅"
    assert format_cell("x" * 100, max_chars=10) == "x" * 9 + "…"


def test_charts_escape_and_draw() -> None:
    svg = line_chart_svg("p<95>", [NOW, NOW + timedelta(hours=1)], [("a&b", [1.0, None])])
    assert "p&lt;95&gt;" in svg and "a&amp;b" in svg and "<circle" in svg
    bars = bar_chart_svg("cost", [("gpt-4o", 2.0), ("free", 0.0)], unit="$")
    assert bars.count("<rect") == 2 and "$2" in bars
    assert "no data" in line_chart_svg("empty", [], [])
