"""``tracestream show``: one trace in the terminal, the tree beside waterfall bars.

Takes the read API's answers (:meth:`Reader.trace`, :meth:`Reader.span`), so
the terminal shows what the web page shows. Pure: builds rich renderables;
the command prints them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

__all__ = ["bar", "render_search", "render_span", "render_trace", "tail_line"]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def bar(start_ms: float, end_ms: float | None, total_ms: float, width: int) -> str:
    """A waterfall bar of ``width`` cells: blank before the span, ``█`` while it runs.

    A span always gets at least one cell, so a 1 ms call in a minute-long trace
    is still seen; an unfinished span runs to the end (``░``).
    """
    total = max(total_ms, 1e-9)
    first = min(width - 1, int(start_ms / total * width))
    if end_ms is None:
        return " " * first + "░" * (width - first)
    last = max(first + 1, min(width, round(end_ms / total * width)))
    return " " * first + "█" * (last - first) + " " * (width - last)


def render_trace(data: Mapping[str, Any], *, bar_width: int = 40) -> RenderableType:
    """The header line and the span table (tree, kind, duration, bar, status)."""
    spans: Sequence[Mapping[str, Any]] = data["spans"]
    total = max([s["end_ms"] or s["start_ms"] for s in spans] or [0.0])
    head = data.get("trace") or {}
    title = Text(f"{head.get('name') or data['trace_id']}  ", style="bold")
    title.append(data["trace_id"], style="dim")
    facts = [
        f"status {head.get('status', 'in progress')}",
        f"started {data['start_time'].replace('T', ' ').removesuffix('Z')} UTC",
        f"duration {_ms(head.get('duration_ms', total))}",
        f"{len(spans)} spans",
    ]
    if head.get("cost_usd") is not None:
        facts.append(f"cost ${head['cost_usd']:.5f}")
    if head.get("input_tokens") or head.get("output_tokens"):
        facts.append(f"tokens {head['input_tokens']} in / {head['output_tokens']} out")
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="dim")
    table.add_column("span", no_wrap=True, overflow="ellipsis", max_width=60)
    table.add_column("kind", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column(f"0 … {_ms(total)}", no_wrap=True)
    table.add_column("", no_wrap=True)
    for s in spans:
        error = s["status"] == "error"
        label = Text("  " * s["depth"] + s["name"], style="bold red" if error else "")
        if s.get("model"):
            label.append(f" {s['model']}", style="dim")
        note = Text()
        if error:
            note.append(f"{s['error_type']}: {s['error_message']}", style="red")
        if s.get("anomaly"):
            note.append(" anomaly", style="yellow")
        table.add_row(
            label,
            s["kind"],
            _ms(s["duration_ms"]),
            Text(
                bar(s["start_ms"], s["end_ms"], total, bar_width),
                style="red" if error else ("magenta" if s.get("critical") else "cyan"),
            ),
            note,
        )
    return Group(title, Text("  ·  ".join(facts), style="dim"), Text(""), table)


def _pretty(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def render_span(detail: Mapping[str, Any]) -> RenderableType:
    """One span's payloads for ``--full``: input, output, tool call, error."""
    span = detail["span"]
    parts: list[RenderableType] = []
    sections: Iterable[tuple[str, Any]] = (
        ("input", span.get("input")),
        ("output", span.get("output")),
        ("tool arguments", span.get("tool_arguments")),
        ("tool result", span.get("tool_result")),
    )
    for name, value in sections:
        if value is not None:
            parts.append(Text(f"{name}:", style="dim"))
            parts.append(Text(_pretty(value)))
    if span.get("error_type"):
        parts.append(Text(f"{span['error_type']}: {span['error_message']}", style="red"))
        if span.get("error_stack"):
            parts.append(Text(span["error_stack"], style="red dim"))
    if span.get("redactions"):
        done = ", ".join(f"{r['detector']} in {r['field']}" for r in span["redactions"])
        parts.append(Text(f"redacted: {done}", style="dim"))
    title = f"{span['name']} ({span['kind']}, {span['span_id']})"
    body: RenderableType = Group(*parts) if parts else Text("(no payload)", style="dim")
    return Panel(body, title=title, title_align="left",
                 border_style="red" if span["status"] == "error" else "dim")  # fmt: skip


def _when(iso_text: str) -> str:
    return iso_text.replace("T", " ")[:23]


def render_search(found: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Matching spans, newest first: when, trace/span, kind and name, the snippet."""
    if not found:
        return Text("no span matches", style="dim")
    lines: list[RenderableType] = []
    for hit in found:
        head = Text(f"{_when(hit['start_time'])}  ", style="dim")
        head.append(f"{hit['trace_id']}/{hit['span_id']}  ", style="cyan")
        head.append(f"{hit['project']}/{hit['service']} {hit['kind']} {hit['name']}",
                    style="bold red" if hit["status"] == "error" else "bold")  # fmt: skip
        body = Text(f"  {hit['field']}: ", style="dim")
        body.append(hit["snippet"])
        lines.extend((head, body))
    lines.append(Text(f"{len(found)} span{'s' if len(found) != 1 else ''}", style="dim"))
    return Group(*lines)


def tail_line(trace: Mapping[str, Any]) -> Text:
    """One completed trace on one line; errors in red."""
    error = trace["status"] == "error" or trace["error_count"] > 0
    line = Text(f"{_when(trace['start_time'])}  ", style="dim")
    line.append(f"{trace['status']:<10}", style="bold red" if error else "green")
    line.append(f"{_ms(trace['duration_ms']):>9}  {trace['span_count']:>5} spans  ")
    cost = trace.get("cost_usd")
    line.append(f"{'$' + format(cost, '.5f') if cost is not None else '-':>9}  ")
    line.append(f"{trace['project']}/{trace['name'] or '-'}  ", style="bold")
    line.append(trace["trace_id"], style="cyan")
    if trace.get("input_preview"):
        line.append(f"  {trace['input_preview'][:80]}", style="dim")
    return line
