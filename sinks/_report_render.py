"""An :class:`AnalysisReport` as JSON or terminal tables. Pure; no I/O.

The HTML report lives in :mod:`._report_html`. The JSON shape is::

    {"scope": {...}, "sections": {"performance": {"overview": [{...}], ...}, ...},
     "timings_s": {"performance": 0.12, ...}, "total_s": 0.5}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ._analytics import AnalysisReport
from ._tabular import jsonable, rich_table

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["TERMINAL_COLUMNS", "TITLES", "report_json", "report_renderables"]

#: Human titles of the report tables.
TITLES: dict[str, str] = {
    "performance.overview": "Performance: all spans",
    "performance.operations": "Performance by operation (kind, name)",
    "performance.traces": "Traces by status",
    "performance.timeseries": "Over time",
    "costs.totals": "Costs: totals",
    "costs.by_model": "Costs by model",
    "costs.by_service": "Costs by service",
    "costs.by_project": "Costs by project",
    "quality.scores": "Quality: score distributions",
    "quality.worst_traces": "Quality: worst-scored traces",
    "patterns.tool_sequences": "Patterns: most frequent tool-call sequences",
    "patterns.error_signatures": "Patterns: error signatures",
    "anomalies.anomalies": "Anomalies (strongest first)",
    "tools.tools": "Tools: failures, latency, retries and what a failure costs the trace",
    "tools.error_types": "Tools: error types",
    "tools.failure_arguments": "Tools: argument keys that go with failures",
    "tools.never_called": "Tools offered to the model but never called",
    "workflows.workflows": "Workflows: runs, success, latency, cost, score",
    "workflows.variants": "Workflows: step-order variants",
    "workflows.steps": "Workflows: steps on the critical path, skipped, repeated, waited for",
    "context.retrievals": "Context: retrievals, empty results and items used",
    "context.input_tokens": "Context: does more input help? (traces by input tokens)",
    "context.caching": "Context: prompt caching by model",
    "reasoning.by_outcome": "Reasoning against outcome",
    "reasoning.decisions": "Reasoning: decisions and how they ended",
    "reasoning.long_failures": "Reasoning: long reasoning that ended badly",
    "examples.candidates": "Examples: good and bad cases per operation (near duplicates collapsed)",
}

#: The columns a terminal shows for the wide feedback tables (``--json`` and
#: ``--html`` have all of them); a table not listed shows every column.
#: ``"label=a/b"`` shows two counts as one cell, ``"15/33"``.
TERMINAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "tools.tools": ("tool", "calls", "error_rate", "p95_ms", "retries",
                    "bad when it failed=bad_with_failure/traces_with_failure",
                    "bad otherwise=bad_without_failure/traces_without_failure",
                    "example_trace_ids"),
    "tools.failure_arguments": ("tool", "key",
                                "failed with key=failures_with_key/calls_with_key",
                                "failed without=failures_without_key/calls_without_key",
                                "example_trace_ids"),
    "workflows.workflows": ("workflow", "traces", "success_rate", "p50_ms", "p95_ms",
                            "mean_cost_usd", "mean_score", "example_failed_trace_ids"),
    "workflows.steps": ("workflow", "step", "critical_share", "mean_critical_ms",
                        "skipped_traces", "repeated_traces", "mean_wait_ms",
                        "example_trace_ids"),
    "context.retrievals": ("retrieval", "retrievals", "p95_ms", "mean_items", "empty",
                           "bad_rate_after_empty", "bad_rate_after_results",
                           "next_after_empty", "used_share", "example_empty_trace_ids"),
    "context.caching": ("model", "generations", "cached_share",
                        "generations_without_cache_hit", "example_uncached_trace_ids"),
    "reasoning.decisions": ("decision", "choice", "times", "share", "success_rate",
                            "mean_score", "example_trace_ids"),
    "reasoning.long_failures": ("trace_id", "workflow", "outcome", "reasoning_tokens",
                                "succeeded_median_reasoning_tokens", "score"),
    "examples.candidates": ("operation", "label", "trace_id", "score", "cost_usd", "errors",
                            "duplicates", "input"),
}  # fmt: skip


def _terminal_rows(
    key: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The columns a terminal shows, with id lists as "first id +n" (ids stay whole
    so they can be pasted into ``tracestream show``)."""
    shown = [c for c in TERMINAL_COLUMNS.get(key, columns) if c.partition("=")[0]]
    specs = []
    for spec in shown:
        label, _, ratio = spec.partition("=")
        parts = ratio.split("/") if ratio else [label]
        if all(p in columns for p in parts):
            specs.append((label, [columns.index(p) for p in parts]))
    out = []
    for row in rows:
        cells: list[Any] = []
        for label, index in specs:
            value = row[index[0]]
            if len(index) == 2:
                value = f"{value}/{row[index[1]]}"
            elif label.endswith("trace_ids") and isinstance(value, list | tuple):
                value = f"{value[0]} +{len(value) - 1}" if len(value) > 1 else "".join(value)
            cells.append(value)
        out.append(tuple(cells))
    return tuple(label for label, _ in specs), out


def report_dict(report: AnalysisReport) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    sections: dict[str, dict[str, Any]] = {}
    for key, table in report.tables.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, {})[name] = [
            {k: jsonable(v) for k, v in row.items()} for row in table.dicts()
        ]
    return {
        "scope": report.scope.as_dict(),
        "sections": sections,
        "timings_s": report.timings_s,
        "total_s": round(report.total_s, 6),
    }


def report_json(report: AnalysisReport) -> str:
    """The report as indented JSON text."""
    return orjson.dumps(report_dict(report), option=orjson.OPT_INDENT_2).decode()


def report_renderables(report: AnalysisReport, *, max_chars: int = 60) -> list[RenderableType]:
    """Rich renderables, one table per report table (the time series is skipped:
    it is for charts; ``--json`` and ``--html`` have it). Wide feedback tables
    show the columns in :data:`TERMINAL_COLUMNS`."""
    from rich.text import Text

    scope = report.scope.as_dict()
    filters = ", ".join(
        f"{k}={v}" for k, v in scope.items() if k in ("project", "service", "model", "where") and v
    )
    header = f"tracestream analyze  {scope['from']} → {scope['to']}"
    out: list[RenderableType] = [Text(header + (f"  ({filters})" if filters else ""), "bold")]
    for key, table in report.tables.items():
        if key == "performance.timeseries":
            continue
        title = TITLES.get(key, key)
        if not table.rows:
            out.append(Text(f"{title}: no data", "dim"))
            continue
        columns, rows = _terminal_rows(key, table.column_names, table.rows)
        # Variants share long prefixes: what differs is at the end.
        width = 2 * max_chars if key == "workflows.variants" else max_chars
        out.append(rich_table(columns, rows, title=title, max_chars=width))
    out.append(Text(f"{len(report.timings_s)} queries in {report.total_s:.3f} s", "dim"))
    return out
