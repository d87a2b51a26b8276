"""``tracestream analyze``: the TraceAnalyzer questions, answered in SQL.

:func:`analyze` runs the statements of :mod:`._analytics_sql` against any
:class:`~tracestream.sinks.Storage` (chDB, a server, or the query server's
client) for one :class:`AnalysisScope` and returns an :class:`AnalysisReport`:
plain rows per report table plus the wall time of each query. Rendering (rich
tables, JSON, HTML) is separate and pure.

Filters are applied once, as a filtered subquery per table:

- spans: project, time range on ``start_time``, service, model, ``where``;
- traces: project, time range; with service/model/where, only traces that
  have a matching span;
- scores: project, time range on the score's ``timestamp``; with
  service/model/where, only scores of traces that have a matching span;
- anomalies: project, service, model, window start in range (``where`` is a
  span predicate and does not apply).

``where`` is raw SQL over span columns (``tracestream query "DESCRIBE spans"``
lists them). Every statement runs through :func:`run_readonly`, so a
``where`` cannot write or smuggle a second statement.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._analytics_sql import QUERIES, SECTIONS
from ._errors import StorageRejected
from ._readonly import run_readonly
from ._sql import result_from_arrow
from ._storage import QueryResult, Storage

__all__ = [
    "AnalysisReport",
    "AnalysisScope",
    "ReportTable",
    "analyze",
    "parse_duration",
    "resolve_range",
]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` -> timedelta.

    Raises:
        ValueError: anything else (the message shows the accepted forms).
    """
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 1h, 7d or 2w")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_range(
    *,
    since: str | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    default_since: str = "24h",
) -> tuple[datetime, datetime]:
    """The half-open UTC range ``[start, end)`` from ``--since`` or ``--from/--to``.

    Naive datetimes are taken as UTC. ``--since`` counts back from ``end``
    (or ``now``); without either form the range is the last ``default_since``.

    Raises:
        ValueError: both forms given, a bad duration, or an empty range.
    """
    if since is not None and start is not None:
        raise ValueError("give either --since or --from, not both")
    stop = _utc(end) if end is not None else _utc(now)
    if start is not None:
        begin = _utc(start)
    else:
        begin = stop - parse_duration(since or default_since)
    if begin >= stop:
        raise ValueError(f"empty time range: {begin.isoformat()} is not before {stop.isoformat()}")
    return begin, stop


@dataclass(frozen=True, slots=True)
class AnalysisScope:
    """What to analyse: a half-open UTC time range and optional filters.

    Attributes:
        start, end: the range ``[start, end)`` (timezone-aware).
        project, service, model: exact-match filters; ``None`` = all.
        where: an extra SQL predicate over span columns, or ``None``.
        top_n: rows per ranking (operations, worst traces, patterns, anomalies).
        buckets: about how many points the time series has.
    """

    start: datetime
    end: datetime
    project: str | None = None
    service: str | None = None
    model: str | None = None
    where: str | None = None
    top_n: int = 10
    buckets: int = 48

    @property
    def bucket_s(self) -> int:
        """Time-series bucket width: a round number of seconds near range / buckets."""
        raw = max(1.0, (self.end - self.start).total_seconds() / max(1, self.buckets))
        for step in (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200):
            if raw <= step:
                return step
        return int(-(-raw // 86400) * 86400)

    def as_dict(self) -> dict[str, Any]:
        """For the JSON report."""
        return {
            "from": self.start.isoformat().replace("+00:00", "Z"),
            "to": self.end.isoformat().replace("+00:00", "Z"),
            "project": self.project,
            "service": self.service,
            "model": self.model,
            "where": self.where,
            "top_n": self.top_n,
            "bucket_s": self.bucket_s,
        }


@dataclass(frozen=True, slots=True)
class ReportTable:
    """One table of the report: ``section.name``, column names and rows."""

    section: str
    name: str
    column_names: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        """Rows keyed by column name."""
        return [dict(zip(self.column_names, r, strict=True)) for r in self.rows]


@dataclass(slots=True)
class AnalysisReport:
    """The answers, per section and table, and what each query cost."""

    scope: AnalysisScope
    tables: dict[str, ReportTable] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def table(self, key: str) -> ReportTable:
        """The table ``"section.name"`` (e.g. ``"costs.by_model"``)."""
        return self.tables[key]

    @property
    def total_s(self) -> float:
        """Sum of the query wall times."""
        return sum(self.timings_s.values())


def _params(scope: AnalysisScope) -> dict[str, Any]:
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    params: dict[str, Any] = {
        "start": _utc(scope.start).strftime(fmt),
        "end": _utc(scope.end).strftime(fmt),
        "top_n": scope.top_n,
        "bucket_s": scope.bucket_s,
    }
    for name in ("project", "service", "model"):
        value = getattr(scope, name)
        if value is not None:
            params[name] = value
    return params


def _subqueries(scope: AnalysisScope) -> dict[str, str]:
    """``{span_filter}`` etc. -> WHERE conditions, with the filters written once.

    ``{span_stable}`` is the part of ``{span_filter}`` on the columns a span's
    start event fixes (time, project, service, model): the same in every
    version of a span, so a PREWHERE before FINAL may use it.
    """
    rng = "{col} >= {{start:DateTime64(6)}} AND {col} < {{end:DateTime64(6)}}"
    project = " AND project = {project:String}" if scope.project is not None else ""
    span_conds = rng.format(col="start_time") + project
    if scope.service is not None:
        span_conds += " AND service = {service:String}"
    if scope.model is not None:
        span_conds += " AND model = {model:String}"
    # Only columns every version of a span shares (see _analytics_sql): safe
    # to apply before FINAL. The analyst's `where` may name any column.
    span_stable = span_conds
    if scope.where:
        span_conds += f" AND ({scope.where})"
    narrowed = scope.service is not None or scope.model is not None or bool(scope.where)
    in_spans = f" AND trace_id IN (SELECT trace_id FROM spans WHERE {span_conds})"
    trace_conds = rng.format(col="start_time") + project + (in_spans if narrowed else "")
    score_conds = rng.format(col="timestamp") + project + (in_spans if narrowed else "")
    anomaly_conds = rng.format(col="window_start") + project
    if scope.service is not None:
        anomaly_conds += " AND service = {service:String}"
    if scope.model is not None:
        anomaly_conds += " AND model = {model:String}"
    return {
        "{span_filter}": span_conds,
        "{span_stable}": span_stable,
        "{trace_filter}": trace_conds,
        "{score_filter}": score_conds,
        "{anomaly_filter}": anomaly_conds,
    }


def render_sql(template: str, scope: AnalysisScope) -> str:
    """The statement for ``scope`` (parameters still bound separately)."""
    sql = template
    for placeholder, subquery in _subqueries(scope).items():
        sql = sql.replace(placeholder, subquery)
    return sql


def _run(storage: Storage, sql: str, params: Mapping[str, Any]) -> QueryResult:
    return result_from_arrow(run_readonly(storage, sql, params))


def _drop(result: QueryResult, *names: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    keep = [i for i, n in enumerate(result.column_names) if n not in names]
    cols = tuple(result.column_names[i] for i in keep)
    return cols, [tuple(row[i] for i in keep) for row in result.rows]


# Helper columns the SQL needs but a reader does not.
_HIDDEN = ("q", "dist")

_PERF = ("spans", "errors", "success_rate", "p50_ms", "p95_ms", "p99_ms")
_TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_usd")
_COST = ("generations", *_TOKENS, "unpriced_generations")
#: The ``spans`` query fills several tables: its ``level`` value -> (table key,
#: columns shown, cut at top_n). Rows arrive sorted within each level.
_SPLITS: dict[str, dict[str, tuple[str, tuple[str, ...], bool]]] = {
    "spans": {
        "overview": ("performance.overview", (*_PERF, *_TOKENS), False),
        "operation": ("performance.operations", ("kind", "name", *_PERF, *_TOKENS), True),
        "timeseries": (
            "performance.timeseries",
            ("bucket", "spans", "errors", "error_rate", "p50_ms", "p95_ms", "cost_usd"),
            False,
        ),
        "total": ("costs.totals", _COST, False),
        "model": ("costs.by_model", ("model", "provider", *_COST), False),
        "service": ("costs.by_service", ("service", *_COST), False),
        "project": ("costs.by_project", ("project", *_COST), False),
    },
}  # fmt: skip


def _split(report: AnalysisReport, key: str, result: QueryResult, chosen: tuple[str, ...]) -> None:
    """Fill the tables of a multi-table query (``_SPLITS[key]``) from its rows."""
    index = {n: i for i, n in enumerate(result.column_names)}
    by_level: dict[str, list[tuple[Any, ...]]] = {}
    for row in result.rows:
        by_level.setdefault(row[0], []).append(row)
    for level, (table, columns, ranked) in _SPLITS[key].items():
        section, name = table.split(".", 1)
        if section not in chosen:
            continue
        rows = by_level.get(level, [])
        if ranked:
            rows = rows[: report.scope.top_n]
        picked = [tuple(r[index[c]] for c in columns) for r in rows]
        report.tables[table] = ReportTable(section, name, columns, picked)


def analyze(
    storage: Storage, scope: AnalysisScope, *, sections: tuple[str, ...] | None = None
) -> AnalysisReport:
    """Answer every section (or the chosen ``sections``) for ``scope``.

    Blocks for the duration of the queries (one after another). Raises
    :class:`StorageRejected` for a bad ``where`` or unknown section, and
    :class:`StorageUnavailable` when the engine is down.
    """
    chosen = sections or tuple(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise StorageRejected(f"unknown section {unknown[0]!r}; known: {', '.join(SECTIONS)}")
    report = AnalysisReport(scope)
    params = _params(scope)
    for key, template in QUERIES.items():
        if key in _SPLITS:
            wanted = {t.split(".", 1)[0] for t, _, _ in _SPLITS[key].values()}
            if not wanted & set(chosen):
                continue
        elif key.split(".", 1)[0] not in chosen:
            continue
        began = time.perf_counter()
        result = _run(storage, render_sql(template, scope), params)
        report.timings_s[key] = round(time.perf_counter() - began, 6)
        if key in _SPLITS:
            _split(report, key, result, chosen)
            continue
        section = key.split(".", 1)[0]
        cols, rows = _drop(result, *_HIDDEN)
        name = key.split(".", 1)[1]
        report.tables[key] = ReportTable(section, name, cols, rows)
    # Keep the display order of SECTIONS regardless of query order.
    order = [f"{s}.{t}" for s in chosen for t in SECTIONS[s]]
    report.tables = {k: report.tables[k] for k in order if k in report.tables}
    return report
