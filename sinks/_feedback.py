"""``tracestream analyze --report ...``: findings that say what to change.

:func:`feedback` runs the statements of :mod:`._feedback_sql` for the chosen
reports (tools, workflows, context, reasoning, examples) over one
:class:`~tracestream.sinks.AnalysisScope` and returns an
:class:`~tracestream.sinks.AnalysisReport`, the same shape as
:func:`~tracestream.sinks.analyze`'s, so the JSON, terminal and HTML
renderers serve both and the two can be merged into one report.

The examples report's candidates can be written as a selection file
(:func:`examples_selection`) that ``tracestream export --format examples
--selection FILE`` reads (:func:`read_selection`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._analytics import AnalysisReport, AnalysisScope, ReportTable, _params, render_sql
from ._errors import StorageRejected
from ._feedback_sql import FEEDBACK_QUERIES, REPORTS, SPLITS
from ._readonly import run_readonly
from ._sql import result_from_arrow
from ._storage import QueryResult, Storage

__all__ = [
    "FEEDBACK_REPORTS",
    "FeedbackOptions",
    "examples_selection",
    "feedback",
    "read_selection",
    "write_selection",
]

#: Report name -> its tables, in display order (``--report`` choices).
FEEDBACK_REPORTS: dict[str, tuple[str, ...]] = REPORTS

#: The ``kind`` of a selection file, checked when it is read.
SELECTION_KIND = "tracestream.examples-selection"

# Helper columns the SQL needs but a reader does not.
_HIDDEN = ("q", "input_json", "pick")


@dataclass(frozen=True, slots=True)
class FeedbackOptions:
    """The judgement thresholds the reports share (bound as query parameters).

    Attributes:
        low_score: a trace whose mean numeric score is below this scored low.
        good_score: an example candidate is good from this mean score up.
        long_reasoning_factor: reasoning is long at this many times the median
            reasoning tokens of the traces that succeeded.
    """

    low_score: float = 0.5
    good_score: float = 0.8
    long_reasoning_factor: float = 2.0

    def params(self) -> dict[str, float]:
        """The query parameters."""
        return {
            "low_score": self.low_score,
            "good_score": self.good_score,
            "long_reasoning_factor": self.long_reasoning_factor,
        }


def feedback(
    storage: Storage,
    scope: AnalysisScope,
    reports: tuple[str, ...],
    *,
    options: FeedbackOptions | None = None,
    into: AnalysisReport | None = None,
) -> AnalysisReport:
    """Answer the chosen ``reports`` for ``scope``; tables keyed ``"report.table"``.

    With ``into``, the tables are added to that report (after its own), so
    ``analyze`` sections and feedback reports print as one. Blocks for the
    queries, one after another.

    Raises:
        StorageRejected: an unknown report name or a bad ``where``.
        StorageUnavailable: the engine is down.
    """
    unknown = [r for r in reports if r not in REPORTS]
    if unknown:
        raise StorageRejected(f"unknown report {unknown[0]!r}; known: {', '.join(REPORTS)}")
    report = into if into is not None else AnalysisReport(scope)
    params: dict[str, Any] = {**_params(scope), **(options or FeedbackOptions()).params()}
    for name in REPORTS:
        if name not in reports:
            continue
        for key, template in FEEDBACK_QUERIES.items():
            if key.split(".", 1)[0] != name:
                continue
            began = time.perf_counter()
            sql = render_sql(template, scope)
            result = result_from_arrow(run_readonly(storage, sql, params))
            report.timings_s[key] = round(time.perf_counter() - began, 6)
            if key in SPLITS:
                _split(report, result, SPLITS[key])
                continue
            keep = [i for i, c in enumerate(result.column_names) if c not in _HIDDEN]
            columns = tuple(result.column_names[i] for i in keep)
            rows = [tuple(row[i] for i in keep) for row in result.rows]
            report.tables[key] = ReportTable(name, key.split(".", 1)[1], columns, rows)
        # Display order: the report's tables as REPORTS lists them.
        for table in REPORTS[name]:
            key = f"{name}.{table}"
            report.tables[key] = report.tables.pop(key)
    return report


def _split(
    report: AnalysisReport,
    result: QueryResult,
    levels: dict[str, tuple[str, tuple[str, ...]]],
) -> None:
    """Fill the tables of a multi-table query from its rows (first column ``level``)."""
    index = {n: i for i, n in enumerate(result.column_names)}
    for level, (key, columns) in levels.items():
        named = [c.partition("=") for c in columns]
        picks = [index[source or name] for name, _, source in named]
        rows = [tuple(row[i] for i in picks) for row in result.rows if row[0] == level]
        section, table = key.split(".", 1)
        names = tuple(name for name, _, _ in named)
        report.tables[key] = ReportTable(section, table, names, rows)


def examples_selection(report: AnalysisReport) -> dict[str, Any]:
    """The examples report's candidates as the selection ``export`` reads. Pure.

    Raises:
        KeyError: the report has no ``examples.candidates`` table.
    """
    cases = [
        {
            "trace_id": row["trace_id"],
            "label": row["label"],
            "operation": row["operation"],
            "score": row["score"],
            "duplicate_trace_ids": list(row["duplicate_trace_ids"]),
        }
        for row in report.table("examples.candidates").dicts()
    ]
    scope = report.scope.as_dict()
    return {"kind": SELECTION_KIND, "version": 1, "scope": scope, "cases": cases}


def write_selection(report: AnalysisReport, path: Path) -> int:
    """Write :func:`examples_selection` as JSON to ``path``; returns the case count."""
    selection = examples_selection(report)
    path.write_bytes(orjson.dumps(selection, option=orjson.OPT_INDENT_2) + b"\n")
    return len(selection["cases"])


def read_selection(path: Path) -> dict[str, Any]:
    """A selection file written by :func:`write_selection`, checked.

    Raises:
        ValueError: not a selection file (the message says why).
        OSError: the file cannot be read.
    """
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != SELECTION_KIND:
        raise ValueError(f"{path}: not an examples selection (kind {SELECTION_KIND!r} expected)")
    cases = data.get("cases")
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and isinstance(c.get("trace_id"), str) for c in cases
    ):
        raise ValueError(f"{path}: 'cases' must be a list of objects with a trace_id")
    return data
