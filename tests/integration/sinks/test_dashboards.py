"""Every Grafana dashboard panel's SQL, run on chDB over the migrated schema.

The dashboards (``deploy/grafana/dashboards/*.json``) query ClickHouse through
the grafana-clickhouse-datasource plugin, which expands its macros before
sending the SQL. :func:`render` expands the ones the panels use the way the
plugin does, with the known data set's time range, so the statement chDB runs
is the statement the server gets. Each panel must execute and return the
columns below; a new panel without an entry here fails, so its columns get
written down.

Dashboards show exact numbers: a span or trace the worker re-emits (late
spans, replays) must count once. The panels read ``spans FINAL`` /
``traces FINAL``, never the ``spans_hourly`` rollup, which counts every
inserted version; the last test re-emits traces and compares the panels with
hand-computed numbers and with ``spans FINAL``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tracestream.sinks import ChdbStorage
from tracestream.sinks._rows import TABLE_MAPPINGS, RetentionPolicy, map_records, record_json

from . import _known_data as known

DASHBOARDS = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"
INTERVAL_S = 300

# (dashboard file stem, panel title) -> the columns the panel's SQL returns.
EXPECTED_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("latency", "Span latency p95 by kind"): ("time", "kind", "p95_ms"),
    ("latency", "Trace duration p50 / p95 / p99"): ("time", "p50_ms", "p95_ms", "p99_ms"),
    ("latency", "Slowest operations"): (
        "service", "kind", "name", "calls", "p50_ms", "p95_ms", "p99_ms", "error_rate",
    ),
    ("latency", "Model latency and throughput"): (
        "model", "provider", "generations", "p50_ms", "p95_ms", "output_tokens_per_s",
    ),
    ("cost", "Total spend"): ("spend_usd", "unpriced_generations"),
    ("cost", "Spend over time by model"): ("time", "model", "spend_usd"),
    ("cost", "Spend by model"): (
        "model", "generations", "input_tokens", "output_tokens", "cached_tokens",
        "reasoning_tokens", "unpriced", "spend_usd",
    ),
    ("cost", "Spend by service"): ("service", "generations", "spend_usd"),
    ("cost", "Most expensive traces"): (
        "trace_id", "name", "status", "cost_usd", "span_count", "duration_ms", "input",
    ),
    ("errors", "Trace success rate"): ("traces", "failed", "success_rate"),
    ("errors", "Span error rate by service"): ("time", "service", "error_rate"),
    ("errors", "Errors by type"): (
        "service", "kind", "name", "error_type", "errors", "last_seen", "example_message",
    ),
    ("errors", "Failed traces"): (
        "trace_id", "name", "start_time", "error_count", "duration_ms", "input",
    ),
    ("anomalies", "Anomalies over time by metric"): ("time", "metric", "anomalies"),
    ("anomalies", "Anomalous windows"): (
        "window_start", "service", "model", "kind", "name", "metric", "severity", "direction",
        "value", "baseline", "score",
    ),
    ("pipeline-health", "Seconds since the last insert, by table"): (
        "table_name", "seconds_since_last_insert",
    ),
}  # fmt: skip

# Tables whose re-emitted rows only FINAL collapses (ReplacingMergeTree).
_REPLACING = ("spans", "traces", "scores", "metrics_1m", "anomalies")
_FROM = re.compile(
    r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)(\s+(?:AS\s+)?(?!FINAL\b)\w+)?(\s+FINAL)?", re.I
)
# Aggregates a replaced row cannot change (the newest insert time survives merges).
_SAFE_WITHOUT_FINAL = {"maxOrNull", "dateDiff", "now"}


def _sql_panels() -> list[tuple[str, str, str, str]]:
    """(dashboard stem, panel title, panel type, raw SQL) of every ClickHouse panel."""
    found: list[tuple[str, str, str, str]] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        found.extend(
            (path.stem, panel["title"], panel["type"], target["rawSql"])
            for panel in dashboard["panels"]
            for target in panel["targets"]
            if target["datasource"]["type"] == "grafana-clickhouse-datasource"
        )
    return found


def render(sql: str, start: datetime, end: datetime, project: str) -> str:
    """Expand the plugin's macros and the ``project`` variable as Grafana would. Pure.

    Raises:
        AssertionError: a macro or variable this emulation does not know is left.
    """
    start_s, end_s = int(start.timestamp()), int(end.timestamp())

    def time_filter(match: re.Match[str]) -> str:
        column = match.group(1)
        return f"{column} >= toDateTime({start_s}) AND {column} <= toDateTime({end_s})"

    out = re.sub(r"\$__timeFilter\(([^)]+)\)", time_filter, sql)
    out = re.sub(
        r"\$__timeInterval\(([^)]+)\)",
        lambda m: f"toStartOfInterval(toDateTime({m.group(1)}), INTERVAL {INTERVAL_S} second)",
        out,
    )
    out = out.replace("$__interval_s", str(INTERVAL_S))
    # Grafana's sqlstring format: single-quoted, quotes doubled.
    out = out.replace("${project:sqlstring}", "'" + project.replace("'", "''") + "'")
    assert "$" not in out, f"unexpanded macro or variable in:\n{out}"
    return out


def _run(storage: ChdbStorage, sql: str, project: str = "shop") -> Any:
    return storage.query(render(sql, *known.RANGE, project=project))


def test_every_sql_panel_has_its_columns_written_down() -> None:
    titles = {(stem, title) for stem, title, _, _ in _sql_panels()}
    assert titles == set(EXPECTED_COLUMNS)


@pytest.mark.parametrize(
    ("stem", "title", "kind", "sql"), _sql_panels(), ids=[f"{p[0]}:{p[1]}" for p in _sql_panels()]
)
def test_panel_sql_runs_on_chdb_and_returns_its_columns(
    chdb_storage: ChdbStorage, stem: str, title: str, kind: str, sql: str
) -> None:
    known.insert_known_data(chdb_storage)
    result = _run(chdb_storage, sql)
    assert result.column_names == EXPECTED_COLUMNS[(stem, title)]
    # The known data set has spans, errors, costs and anomalies in range: an empty
    # answer means a filter is wrong.
    assert result.rows, f"{stem}: {title} returned no row on the known data"
    if kind == "timeseries":
        # Grafana draws a series over a time column that comes first.
        first = chdb_storage.query(
            f"SELECT toTypeName({result.column_names[0]}) FROM"
            f" ({render(sql, *known.RANGE, project='shop')}) LIMIT 1"
        ).scalar()
        assert str(first).startswith("DateTime"), first


def test_panels_read_replacing_tables_with_final_and_never_the_rollup() -> None:
    for stem, title, _, sql in _sql_panels():
        assert "spans_hourly" not in sql, f"{stem}: {title} reads the inexact rollup"
        for part in re.split(r"\bUNION\s+ALL\b", sql, flags=re.I):
            for table, _alias, final in _FROM.findall(part):
                if table not in _REPLACING or final:
                    continue
                calls = set(re.findall(r"\b(\w+)\s*\(", part))
                assert calls <= _SAFE_WITHOUT_FINAL, (
                    f"{stem}: {title} reads {table} without FINAL and aggregates {calls}"
                )


def _panel_sql(stem: str, title: str) -> str:
    return next(sql for s, t, _, sql in _sql_panels() if (s, t) == (stem, title))


def _reemit(storage: ChdbStorage) -> None:
    """What the worker does when late spans arrive or a replay runs: every span and
    trace of T2, and trace T1, again with a higher version, in a new insert."""
    retention = RetentionPolicy(default_days=3650)
    spans = [
        s.model_copy(update={"version": s.version + 1})
        for s in known.spans()
        if s.trace_id == known.T2
    ]
    traces = [
        t.model_copy(update={"version": 3})
        for t in known.traces()
        if t.trace_id == known.T1 and t.status == "ok"
    ]
    for role, records in (("spans", spans), ("traces", traces)):
        mapping = TABLE_MAPPINGS[role]
        batch = map_records(mapping, [record_json(r) for r in records], retention)
        assert not batch.rejected
        storage.insert(mapping.table, batch.table)


def test_panels_count_a_reemitted_trace_once(chdb_storage: ChdbStorage) -> None:
    known.insert_known_data(chdb_storage)
    _reemit(chdb_storage)

    # The data set does exercise the double count: the rollup sees both versions.
    rollup = chdb_storage.query(
        "SELECT sum(spans), sum(cost_usd) FROM spans_hourly"
        " WHERE project = 'shop' AND model = 'claude-sonnet-4'"
    ).rows[0]
    assert rollup[0] == 2
    assert rollup[1] == pytest.approx(0.018)

    by_model = {
        row["model"]: row
        for row in _run(chdb_storage, _panel_sql("cost", "Spend by model")).dicts()
    }
    # Hand-computed from _known_data: gpt-4o = T1's two final generations + T3's.
    assert by_model["gpt-4o"]["generations"] == 3
    assert by_model["gpt-4o"]["input_tokens"] == 1000 + 500 + 300
    assert by_model["gpt-4o"]["spend_usd"] == pytest.approx(0.0035 + 0.00175 + 0.00105)
    assert by_model["claude-sonnet-4"]["generations"] == 1
    assert by_model["claude-sonnet-4"]["spend_usd"] == pytest.approx(0.009)
    exact = chdb_storage.query(
        "SELECT model, count(), sum(input_tokens), sum(ifNull(cost_usd, 0)) FROM spans FINAL"
        " WHERE project = 'shop' AND kind = 'generation' GROUP BY model"
    ).rows
    assert {
        m: (row["generations"], row["input_tokens"], pytest.approx(row["spend_usd"]))
        for m, row in by_model.items()
    } == {m: (n, tokens, pytest.approx(cost)) for m, n, tokens, cost in exact}

    total = _run(chdb_storage, _panel_sql("cost", "Total spend")).dicts()[0]
    assert total["spend_usd"] == pytest.approx(0.0063 + 0.009)

    calls = {
        (r["service"], r["kind"], r["name"]): r["calls"]
        for r in _run(chdb_storage, _panel_sql("latency", "Slowest operations")).dicts()
    }
    # T2 (re-emitted) calls web_search and sql_query in checkout once each.
    assert calls[("checkout", "tool", "web_search")] == 2
    assert calls[("checkout", "tool", "sql_query")] == 1
    assert calls[("checkout", "generation", "chat")] == 3
    errors = _run(chdb_storage, _panel_sql("errors", "Errors by type")).dicts()
    assert sum(r["errors"] for r in errors) == 2  # T2's root and its sql_query, once each

    success = _run(chdb_storage, _panel_sql("errors", "Trace success rate")).dicts()[0]
    assert (success["traces"], success["failed"]) == (3, 1)
    assert success["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
