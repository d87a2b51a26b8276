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

__all__ = ["TITLES", "report_json", "report_renderables"]

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
}


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
    it is for charts; ``--json`` and ``--html`` have it)."""
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
        out.append(rich_table(table.column_names, table.rows, title=title, max_chars=max_chars))
    out.append(Text(f"{len(report.timings_s)} queries in {report.total_s:.3f} s", "dim"))
    return out
