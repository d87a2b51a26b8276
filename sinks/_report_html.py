"""The analysis report as one self-contained HTML file with inline SVG charts.

No scripts, no fonts, no CDN: the file opens offline and can be mailed. The
charts are drawn here (a few dozen lines of SVG each) rather than with a
plotting library: three chart types do not justify a dependency that embeds
a megabyte of JavaScript. Pure functions; every value from the data is
escaped with :func:`html.escape`.

Charts: latency p50/p95 over time, error rate over time, cost by model
(horizontal bars), cost over time; each feedback report's section opens with
its own bar charts (:func:`feedback_charts`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ._analytics import AnalysisReport
from ._report_render import TITLES
from ._tabular import format_cell

__all__ = ["bar_chart_svg", "feedback_charts", "line_chart_svg", "report_html"]

_W, _H = 640, 220
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 16, 16, 36
_COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 x 10^k)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * exp:
            return float(step * exp)
    return float(10 * exp)


def _label(value: float) -> str:
    return format_cell(float(value)) if value else "0"


def line_chart_svg(
    title: str,
    xs: Sequence[datetime],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    unit: str = "",
) -> str:
    """A line chart over time; ``None`` values break the line."""
    if not xs:
        return f'<p class="empty">{_e(title)}: no data</p>'
    values = [v for _, ys in series for v in ys if v is not None]
    ymax = _nice_max(max(values, default=0.0))
    x0, x1 = xs[0].timestamp(), xs[-1].timestamp()
    span = (x1 - x0) or 1.0
    pw, ph = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def px(x: datetime) -> float:
        return _PAD_L + (x.timestamp() - x0) / span * pw if len(xs) > 1 else _PAD_L + pw / 2

    def py(y: float) -> float:
        return _PAD_T + ph - y / ymax * ph

    parts = [_axes(ymax, unit)]
    for i, (name, ys) in enumerate(series):
        color = _COLORS[i % len(_COLORS)]
        runs: list[list[str]] = [[]]
        for x, y in zip(xs, ys, strict=True):
            if y is None:
                runs.append([])
                continue
            runs[-1].append(f"{px(x):.1f},{py(y):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>'
                )
            elif run:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>')
        parts.append(
            f'<text x="{_PAD_L + 8 + 110 * i}" y="{_PAD_T + 10}" fill="{color}" '
            f'font-size="12">■ {_e(name)}</text>'
        )
    parts.extend(
        f'<text x="{px(x):.1f}" y="{_H - 12}" font-size="11" text-anchor="middle">'
        f"{_e(x.strftime('%m-%d %H:%M'))}</text>"
        for x in (xs[0], xs[len(xs) // 2], xs[-1])
    )
    return _svg(title, "".join(parts))


def bar_chart_svg(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "") -> str:
    """Horizontal bars, largest first as given."""
    if not bars:
        return f'<p class="empty">{_e(title)}: no data</p>'
    height = _PAD_T + 24 * len(bars) + 8
    vmax = _nice_max(max((v for _, v in bars), default=0.0))
    # Room for the longest label (about 7 px per character at 12 px), within reason.
    label_w = min(320, max(150, 7 * max(len(name) for name, _ in bars) + 12))
    pw = _W - label_w - _PAD_R - 80
    parts = []
    for i, (name, value) in enumerate(bars):
        y = _PAD_T + 24 * i
        w = max(1.0, value / vmax * pw) if value > 0 else 0.0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end">{_e(name)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="16" fill="{_COLORS[0]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="12">'
            f"{_e(unit)}{_e(_label(value))}</text>"
        )
    return _svg(title, "".join(parts), height=height)


def _axes(ymax: float, unit: str) -> str:
    ph = _H - _PAD_T - _PAD_B
    parts = []
    for i in range(5):
        y = _PAD_T + ph - ph * i / 4
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{_e(_label(ymax * i / 4))}{_e(unit)}</text>"
        )
    return "".join(parts)


def _svg(title: str, body: str, *, height: int = _H) -> str:
    return (
        f'<figure><figcaption>{_e(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img" '
        f'aria-label="{_e(title)}">{body}</svg></figure>'
    )


def _table_html(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return f'<h3>{_e(title)}</h3><p class="empty">no data</p>'
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell_html(v) for v in row) + "</tr>" for row in rows)
    return f"<h3>{_e(title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell_html(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{_e(format_cell(value, max_chars=120))}</td>'
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        # Lists of ids (the findings' example traces): one per line.
        return f"<td>{'<br>'.join(_e(v) for v in value)}</td>"
    return f'<td class="">{_e(format_cell(value, max_chars=120))}</td>'


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#111827}
h1{font-size:1.4rem}h2{margin-top:2rem;border-bottom:1px solid #e5e7eb}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:13px}
th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;margin:0 1rem 1rem 0}figcaption{font-weight:600;margin-bottom:4px}
svg text{fill:#374151;font-family:inherit}.empty{color:#6b7280}.meta{color:#6b7280}
"""


def report_html(report: AnalysisReport) -> str:
    """The whole report as one HTML document (charts first, then every table)."""
    scope = report.scope.as_dict()
    ts = report.tables.get("performance.timeseries")
    charts: list[str] = []
    if ts is not None:
        rows = ts.dicts()
        xs = [r["bucket"] for r in rows]
        charts.append(
            line_chart_svg(
                "Latency over time (ms)",
                xs,
                [("p50", [r["p50_ms"] for r in rows]), ("p95", [r["p95_ms"] for r in rows])],
            )
        )
        charts.append(
            line_chart_svg(
                "Error rate over time (%)",
                xs,
                [("error rate", [100 * r["error_rate"] for r in rows])],
            )
        )
        charts.append(
            line_chart_svg("Cost over time (USD)", xs, [("cost", [r["cost_usd"] for r in rows])])
        )
    by_model = report.tables.get("costs.by_model")
    if by_model is not None:
        charts.append(
            bar_chart_svg(
                "Cost by model (USD)",
                [(r["model"], float(r["cost_usd"])) for r in by_model.dicts()],
                unit="$",
            )
        )
    sections: list[str] = []
    current = ""
    for key, table in report.tables.items():
        section = key.split(".", 1)[0]
        if section != current:
            sections.append(f"<h2>{_e(section.capitalize())}</h2>")
            sections.extend(feedback_charts(report, section))
            current = section
        sections.append(_table_html(TITLES.get(key, key), table.column_names, table.rows))
    filters = " · ".join(
        f"{k}: {v}" for k, v in scope.items() if k in ("project", "service", "model", "where") and v
    )
    timing = f"{len(report.timings_s)} queries, {report.total_s:.3f} s"
    overview = f"<h2>Charts</h2>{''.join(charts)}" if charts else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>tracestream report {_e(scope['from'])} to {_e(scope['to'])}</title>"
        f"<style>{_CSS}</style></head><body>"
        f'<h1>tracestream analysis</h1><p class="meta">{_e(scope["from"])} → {_e(scope["to"])}'
        f"{' · ' + _e(filters) if filters else ''} · {_e(timing)}</p>"
        f"{overview}{''.join(sections)}</body></html>\n"
    )


def _bars(
    report: AnalysisReport, key: str, label: Any, value: str, *, scale: float = 1.0
) -> list[tuple[str, float]]:
    table = report.tables.get(key)
    if table is None:
        return []
    return [
        (label(r) if callable(label) else str(r[label]), scale * float(r[value] or 0))
        for r in table.dicts()
    ]


def feedback_charts(report: AnalysisReport, section: str) -> list[str]:
    """The bar charts that open a feedback report's section (none for other sections)."""
    charts: list[tuple[str, list[tuple[str, float]], str]] = []
    if section == "tools":
        charts = [
            (
                "Error rate by tool (%)",
                _bars(report, "tools.tools", "tool", "error_rate", scale=100),
                "",
            ),
            ("Retries by tool", _bars(report, "tools.tools", "tool", "retries"), ""),
        ]
    elif section == "workflows":
        charts = [
            (
                "Success rate by workflow (%)",
                _bars(report, "workflows.workflows", "workflow", "success_rate", scale=100),
                "",
            ),
            (
                "Share of end-to-end time on the critical path (%)",
                _bars(
                    report,
                    "workflows.steps",
                    lambda r: f"{r['workflow']} / {r['step']}",
                    "critical_share",
                    scale=100,
                ),
                "",
            ),
        ]
    elif section == "context":
        charts = [
            (
                "Success rate by input tokens (%)",
                _bars(report, "context.input_tokens", "input_tokens", "success_rate", scale=100),
                "",
            ),
            (
                "Cached share of input tokens by model (%)",
                _bars(report, "context.caching", "model", "cached_share", scale=100),
                "",
            ),
        ]
    elif section == "reasoning":
        charts = [
            (
                "Mean reasoning tokens by outcome",
                _bars(report, "reasoning.by_outcome", "outcome", "mean_reasoning_tokens"),
                "",
            ),
            (
                "Decision choices: success rate (%)",
                _bars(
                    report,
                    "reasoning.decisions",
                    lambda r: f"{r['decision']} = {r['choice']}",
                    "success_rate",
                    scale=100,
                ),
                "",
            ),
        ]
    elif section == "examples":
        table = report.tables.get("examples.candidates")
        counts: dict[str, float] = {}
        for row in table.dicts() if table is not None else []:
            name = f"{row['operation']} / {row['label']}"
            counts[name] = counts.get(name, 0.0) + 1
        charts = [("Candidates by operation and label", list(counts.items()), "")]
    return [bar_chart_svg(title, bars, unit=unit) for title, bars, unit in charts]
