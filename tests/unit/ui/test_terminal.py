"""``tracestream show``'s rendering: bars on one time axis, errors named."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from tracestream.ui import render_span, render_trace
from tracestream.ui._terminal import bar

pytestmark = pytest.mark.unit


def test_bars_share_one_axis_and_never_vanish() -> None:
    assert bar(0, 100, 100, 10) == "█" * 10
    assert bar(50, 100, 100, 10) == " " * 5 + "█" * 5
    assert bar(20, 20.1, 100, 10) == "  █       "  # a short span keeps one cell
    assert bar(99.9, 100, 100, 10) == " " * 9 + "█"
    assert bar(30, None, 100, 10) == "   " + "░" * 7  # still running


def span(n: int, depth: int, name: str, start: float, end: float, **extra: Any) -> dict[str, Any]:
    return {"span_id": f"{n:016x}", "depth": depth, "name": name, "kind": extra.pop("kind", "step"),
            "status": extra.pop("status", "ok"), "start_ms": start, "end_ms": end,
            "duration_ms": end - start, "model": extra.pop("model", ""), "critical": False,
            "anomaly": False, "error_type": "", "error_message": "", **extra}  # fmt: skip


def text(renderable: Any) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def test_the_trace_as_a_tree_with_bars_and_its_errors() -> None:
    data = {
        "trace_id": "ab" * 16,
        "start_time": "2026-11-01T10:05:00.000000Z",
        "trace": {"name": "turn", "status": "error", "duration_ms": 2000.0, "cost_usd": 0.0042,
                  "input_tokens": 10, "output_tokens": 5},
        "spans": [
            span(1, 0, "turn", 0, 2000, kind="agent"),
            span(2, 1, "chat", 0, 500, kind="generation", model="gpt-4o"),
            span(3, 1, "lookup", 1000, 2000, kind="tool", status="error",
                 error_type="Timeout", error_message="gave up"),
        ],
    }  # fmt: skip
    assert text(render_trace(data, bar_width=8)).splitlines() == [
        f"turn  {'ab' * 16}",
        "status error  ·  started 2026-11-01 10:05:00.000000 UTC  ·  duration 2.00 s  ·  3 spans  ·  "
        "cost $0.00420  ·  tokens 10 in / 5 out",
        "",
        "span           kind        duration  0 … 2.00 s",
        "turn           agent         2.00 s  ████████",
        "  chat gpt-4o  generation    500 ms  ██",
        "  lookup       tool          1.00 s      ████    Timeout: gave up",
    ]


def test_full_shows_the_payloads_and_the_redactions() -> None:
    detail = {"span": {"span_id": "0" * 16, "name": "chat", "kind": "generation",
                       "status": "ok", "input": [{"role": "user", "content": "hi [EMAIL]"}],
                       "output": "hello", "tool_arguments": None, "tool_result": None,
                       "error_type": "", "redactions": [{"detector": "email",
                                                         "field": "input[0].content"}]}}  # fmt: skip
    shown = text(render_span(detail))
    assert '"content": "hi [EMAIL]"' in shown and "hello" in shown
    assert "redacted: email in input[0].content" in shown


def test_a_snippet_is_cut_around_the_first_whole_word_match() -> None:
    from tracestream.ui._read import snippet

    texts = {"input": '"ordering is not an order"', "output": None, "error_message": ""}
    assert snippet(texts, ("order",), width=5) == ("input", "…t an order")
    # Fields in order; JSON payloads are searched as their text; "Order" != "order".
    texts = {
        "input": '"Order form"',
        "output": '{"note": "the order\\nships"}',
        "error_message": "",
    }
    assert snippet(texts, ("order",), width=8) == ("output", '…": "the order\\nships"…')
    assert snippet(texts, ("missing",)) == ("", "")
