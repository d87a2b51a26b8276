"""What the demo shows once every trace is stored: read back from storage, never from memory.

Each part is one query over the tables the sink wrote, so what the demo prints
is what ``tracestream query`` would show: the workload's shape, cost by model,
PII masked per detector, the anomalies the worker found, and a trace worth
opening in the UI. Callers own the storage and pass the demo's trace ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console

from tracestream.sinks import QueryResult, Storage, rich_table

__all__ = [
    "SQL_TO_TRY",
    "anomaly_rows",
    "show_anomalies",
    "show_workload",
    "trace_worth_opening",
]

# A ticket whose order lookup failed and then ran again: the retry the tools
# report counts, and the most telling trace page (error, back-off, success).
_RETRIED_TOOL_SQL = """
SELECT trace_id
FROM spans FINAL
WHERE trace_id IN {ids:Array(String)} AND kind = 'tool'
GROUP BY trace_id, name
HAVING countIf(status = 'error') > 0
   AND maxIf(start_time, status = 'ok') >= minIf(end_time, status = 'error')
ORDER BY count() DESC, trace_id
LIMIT 1
"""

_SHAPE_SQL = """
SELECT uniqExact(trace_id) AS traces,
       count() AS spans,
       countIf(kind = 'agent') AS agent_steps,
       uniqExactIf(model, kind = 'generation') AS models,
       arrayStringConcat(arraySort(groupUniqArrayIf(model, kind = 'generation')), ', ')
           AS model_names,
       countIf(kind = 'tool') AS tool_calls,
       countIf(kind = 'tool' AND status = 'error') AS tool_failures,
       countIf(kind = 'retrieval') AS retrievals,
       countIf(kind = 'retrieval' AND JSONLength(output) = 0) AS empty_retrievals,
       countIf(kind = 'reasoning') AS reasoning_steps,
       sum(reasoning_tokens) AS reasoning_tokens
FROM spans FINAL
WHERE trace_id IN {ids:Array(String)}
"""

_RETRIES_SQL = """
SELECT count() FROM (
    SELECT trace_id, name FROM spans FINAL
    WHERE trace_id IN {ids:Array(String)} AND kind = 'tool'
    GROUP BY trace_id, name
    HAVING countIf(status = 'error') > 0 AND count() > 1
)
"""

_COST_SQL = """
SELECT model, count() AS calls, sum(input_tokens) AS input,
       sum(cached_tokens) AS cached, sum(output_tokens) AS output,
       sum(reasoning_tokens) AS reasoning,
       round(sum(cost_usd), 6) AS usd,
       countIf(cost_usd IS NULL) AS unpriced,
       round(quantile(0.95)(duration_ms), 1) AS p95_ms
FROM spans FINAL
WHERE trace_id IN {ids:Array(String)} AND kind = 'generation'
GROUP BY model ORDER BY usd DESC
"""

# One stored question per detector, so the masking can be seen (and checked).
_PII_SQL = """
SELECT detector, sum(n) AS values_masked,
       argMinIf(input, length(input), parent_span_id = '') AS stored_question
FROM (
    SELECT JSONExtractString(r, 'detector') AS detector,
           JSONExtractUInt(r, 'count') AS n, input, parent_span_id
    FROM spans FINAL
    ARRAY JOIN JSONExtractArrayRaw(redactions) AS r
    WHERE trace_id IN {ids:Array(String)}
)
GROUP BY detector ORDER BY values_masked DESC, detector
"""

_ANOMALIES_SQL = """
SELECT kind, name, model, metric, window_start, window_end, value, baseline, score, severity
FROM anomalies FINAL
WHERE project = {project:String} AND window_start >= {since:DateTime64(6, 'UTC')}
ORDER BY abs(score) DESC, window_start
"""

#: Queries to try with ``tracestream query``: (what it answers, SQL).
SQL_TO_TRY: tuple[tuple[str, str], ...] = (
    (
        "cost and p95 latency by model",
        "SELECT model, count() AS calls, round(sum(cost_usd), 4) AS usd, "
        "round(quantile(0.95)(duration_ms)) AS p95_ms FROM spans FINAL "
        "WHERE kind = 'generation' GROUP BY model ORDER BY usd DESC",
    ),
    (
        "which tools fail, and with which arguments",
        "SELECT name, tool_arguments, countIf(status = 'error') AS failed, count() AS calls "
        "FROM spans FINAL WHERE kind = 'tool' GROUP BY name, tool_arguments "
        "ORDER BY failed DESC LIMIT 5",
    ),
    (
        "the knowledge base's latency over time (the regression the worker flagged)",
        "SELECT toStartOfInterval(start_time, INTERVAL 1 SECOND) AS second, count() AS calls, "
        "round(quantile(0.95)(duration_ms), 1) AS p95_ms FROM spans FINAL "
        "WHERE name = 'kb-search' GROUP BY second ORDER BY second",
    ),
)


def show_workload(console: Console, storage: Storage, trace_ids: Sequence[str]) -> None:
    """Print the workload's shape, its cost by model, and the PII masked before storage."""
    ids = {"ids": list(trace_ids)}
    shape = _first_row(storage.query(_SHAPE_SQL, ids))
    depth = storage.query(
        "SELECT max(depth) FROM traces FINAL WHERE trace_id IN {ids:Array(String)}", ids
    ).scalar()
    retried = storage.query(_RETRIES_SQL, ids).scalar()
    scores = storage.query(
        "SELECT count() FROM scores FINAL WHERE trace_id IN {ids:Array(String)}", ids
    ).scalar()
    rows = [
        ("traces", shape["traces"], f"{shape['spans']:,} spans, nested up to {depth} deep"),
        ("agent steps", shape["agent_steps"], "support-agent inside each support-ticket"),
        ("models", shape["models"], shape["model_names"]),
        (
            "tool calls",
            shape["tool_calls"],
            f"{shape['tool_failures']} failed; {retried} tickets retried a failed call",
        ),
        ("retrievals", shape["retrievals"], f"{shape['empty_retrievals']} found nothing"),
        (
            "reasoning steps",
            shape["reasoning_steps"],
            f"{shape['reasoning_tokens']:,} reasoning tokens",
        ),
        ("scores", scores, "helpfulness, from an evaluator"),
    ]
    _print(console, "What the pipeline stored", ("what", "count", "detail"), rows)
    cost = storage.query(_COST_SQL, ids)
    _print(console, "Cost and latency by model (generation spans)", cost.column_names, cost.rows)
    pii = storage.query(_PII_SQL, ids)
    _print(
        console,
        "PII masked, by detector",
        ("detector", "values_masked"),
        [(detector, n) for detector, n, _ in pii.rows],
    )
    for detector, _, question in pii.rows:
        # Printed whole, outside the table, so no cell folding hides a value.
        console.print(f"  stored by {detector}: {question}", markup=False, highlight=False)


def anomaly_rows(storage: Storage, project: str, since: datetime) -> QueryResult:
    """The anomalies found in ``project``'s windows from ``since`` on, strongest first."""
    return storage.query(_ANOMALIES_SQL, {"project": project, "since": since})


def show_anomalies(console: Console, anomalies: QueryResult, *, top: int = 8) -> None:
    """Print the strongest anomalies: what, metric, window, observed vs baseline, severity."""
    rows = []
    for a in (dict(zip(anomalies.column_names, r, strict=True)) for r in anomalies.rows[:top]):
        what = f"{a['kind']} {a['name']}" + (f" ({a['model']})" if a["model"] else "")
        window = f"{_clock(a['window_start'])}-{_clock(a['window_end'])}"
        ratio = a["value"] / a["baseline"] if a["baseline"] else float("inf")
        rows.append(
            (
                what,
                a["metric"],
                window,
                _amount(a["metric"], a["value"]),
                _amount(a["metric"], a["baseline"]),
                f"{ratio:.1f}x",
                f"{a['score']:.0f}",
                a["severity"],
            )
        )
    title = f"Anomalies the worker found ({len(anomalies.rows)}; strongest {len(rows)} shown)"
    header = ("what", "metric", "window (UTC)", "observed", "baseline", "ratio", "z", "severity")
    _print(console, title, header, rows)


def trace_worth_opening(storage: Storage, trace_ids: Sequence[str]) -> str | None:
    """A trace with a failed tool call that ran again and succeeded; None when none did."""
    found = storage.query(_RETRIED_TOOL_SQL, {"ids": list(trace_ids)}).scalar()
    return str(found) if found else None


def _first_row(result: QueryResult) -> dict[str, Any]:
    return dict(zip(result.column_names, result.rows[0], strict=True))


def _print(
    console: Console, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    console.print()
    console.print(rich_table(list(header), [tuple(r) for r in rows], title=title))


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-5]


def _amount(metric: str, value: float) -> str:
    """A metric value in its unit (the scorer rates volumes per minute)."""
    if metric == "latency_p95_ms":
        return f"{value:,.1f} ms"
    if metric == "error_rate":
        return f"{value:.0%}"
    if metric == "cost_usd":
        return f"${value:,.4f}/min"
    return f"{value:,.0f} tokens/min"
