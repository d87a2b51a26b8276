"""Query results as JSON, CSV and terminal tables. Pure functions, no I/O.

Values come from :func:`~tracestream.sinks._sql.result_from_arrow`: datetimes
are timezone-aware, decimals are ``Decimal``, maps are dicts. JSON gets ISO
8601 datetimes (``Z`` for UTC) and plain numbers; CSV the same text.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from ._storage import QueryResult

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["format_cell", "jsonable", "result_csv", "result_json", "rich_table", "terminal_console"]


def jsonable(value: Any) -> Any:
    """A JSON-friendly copy of one result value (recursively)."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/inf from empty aggregates: JSON has no such numbers
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def result_json(result: QueryResult) -> str:
    """The rows as a JSON array of objects, one per line inside the array."""
    rows = [
        orjson.dumps({k: jsonable(v) for k, v in row.items()}).decode() for row in result.dicts()
    ]
    if not rows:
        return "[]"
    return "[\n" + ",\n".join(rows) + "\n]"


def result_csv(result: QueryResult) -> str:
    """The rows as CSV with a header line (RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.column_names)
    for row in result.rows:
        writer.writerow(["" if v is None else _text(jsonable(v)) for v in row])
    return out.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def format_cell(value: Any, *, max_chars: int = 80) -> str:
    """One value for a terminal cell: floats to 4 significant places, long text cut."""
    if value is None:
        return "∅"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "∅"
        if value != 0 and abs(value) < 0.01:
            return f"{value:.4g}"
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = _text(jsonable(value))
    text = text.replace("\n", "⏎")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def terminal_console() -> Console:
    """A rich console; wide when output goes to a pipe or file (rich would use 80 columns)."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=160)


def rich_table(
    column_names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    max_chars: int = 80,
) -> Table:
    """A rich table of the rows; numbers right-aligned."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows)
        for i in range(len(column_names))
    ]
    for name, is_num in zip(column_names, numeric, strict=True):
        table.add_column(name, justify="right" if is_num else "left", overflow="fold")
    for row in rows:
        table.add_row(*(format_cell(v, max_chars=max_chars) for v in row))
    return table
