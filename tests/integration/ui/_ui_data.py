"""The explorer's data set: the sinks' known data plus two traces the pages need.

- ``T5``: a support-agent turn as a user sees it: a retrieval, a generation
  that calls a tool (OpenAI-style ``tool_calls``), the tool failing with a
  stack, its retry succeeding, the final answer; the first generation's input
  had an email redacted. Project ``shop``, service ``support``, session
  ``s-5``, user ``u-2``, tag ``vip``.
- ``T6``: a big trace (``big_spans`` spans, nested three levels deep under
  the root) for the tree's virtualisation; project ``bulk``.
- ``T7``: a trace still running (its root has not ended, so the worker has
  emitted no trace row yet), project ``live``, at 12:30: after the range the
  other tests read.

Written through the sink's own row mapping, like the known data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.sinks._known_data import T0, insert_known_data
from tracestream.schemas import (
    Cost,
    ErrorInfo,
    ModelInfo,
    Redaction,
    SpanRecord,
    ToolCall,
    TraceInfo,
    TraceRecord,
    Usage,
)
from tracestream.sinks import TABLE_MAPPINGS, RetentionPolicy, Storage, map_records, record_json

T5 = f"{0xB5:032x}"
T6 = f"{0xB6:032x}"
T7 = f"{0xB7:032x}"
T5_START = T0 + timedelta(minutes=5)
T6_START = T0 + timedelta(minutes=20)
_INFO5 = TraceInfo(name="support-turn", session_id="s-5", user_id="u-2", tags=("vip",))
_INFO6 = TraceInfo(name="batch-job", user_id="u-3")


def sid(trace: int, n: int) -> str:
    """Span id ``n`` of the trace numbered ``trace``."""
    return f"{trace:04x}{n:012x}"


def _span5(n: int, parent: int | None, kind: str, name: str, at_ms: int, dur: float,
           **extra: Any) -> SpanRecord:  # fmt: skip
    start = T5_START + timedelta(milliseconds=at_ms)
    return SpanRecord(
        project="shop", service="support", environment="production", trace_id=T5,
        span_id=sid(0xB5, n), parent_span_id=None if parent is None else sid(0xB5, parent),
        trace=_INFO5, kind=kind, name=name, status=extra.pop("status", "ok"),
        start_time=start, end_time=start + timedelta(milliseconds=dur), duration_ms=dur,
        processed_at=start, **extra,
    )  # fmt: skip


def t5_spans() -> list[SpanRecord]:
    ask = [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "Where is my parcel? Reach me at [EMAIL]."},
    ]
    stack = 'Traceback (most recent call last):\n  File "tools.py", line 12\nConnectionError'
    return [
        _span5(1, None, "agent", "support-turn", 0, 3000,
               input="Where is my parcel?", output="It arrives on Monday."),
        _span5(2, 1, "retrieval", "kb-search", 10, 120, input="parcel delivery",
               output=[{"doc": "shipping-policy", "score": 0.82}]),
        _span5(3, 1, "generation", "plan", 150, 700,
               model=ModelInfo(name="gpt-4o", provider="openai",
                               parameters={"temperature": 0.2, "max_tokens": 256}),
               usage=Usage(input_tokens=812, output_tokens=64, cached_tokens=512),
               cost=Cost(input_usd=0.00075, output_usd=0.00064, cached_usd=0.00064,
                         total_usd=0.00203),
               input=ask,
               output={"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order": "A-17"}'}}]},
               redactions=(Redaction(detector="email", field="input[1].content"),)),
        _span5(4, 1, "tool", "lookup_order", 900, 400, status="error",
               tool=ToolCall(name="lookup_order", call_id="call_1",
                             arguments={"order": "A-17"}),
               error=ErrorInfo(type="ConnectionError", message="orders-db refused the connection",
                               stack=stack)),
        _span5(5, 1, "tool", "lookup_order", 1400, 300,
               tool=ToolCall(name="lookup_order", call_id="call_1", arguments={"order": "A-17"},
                             result={"status": "shipped", "eta": "Monday"}),
               attributes={"retry": 1}),
        _span5(6, 1, "generation", "answer", 1750, 1200,
               model=ModelInfo(name="gpt-4o", provider="openai", parameters={"temperature": 0.2}),
               usage=Usage(input_tokens=900, output_tokens=40),
               cost=Cost(input_usd=0.00225, output_usd=0.0004, total_usd=0.00265),
               input=[*ask, {"role": "tool", "tool_call_id": "call_1",
                             "content": '{"status": "shipped", "eta": "Monday"}'}],
               output={"role": "assistant", "content": "It arrives on Monday."}),
    ]  # fmt: skip


def t6_spans(big_spans: int) -> list[SpanRecord]:
    """Root, then agents of 10 steps of 10 tools each, until ``big_spans`` spans."""
    start = T6_START
    out: list[SpanRecord] = []

    def add(n: int, parent: int | None, kind: str, name: str, at_ms: float, dur: float) -> None:
        begin = start + timedelta(milliseconds=at_ms)
        out.append(SpanRecord(
            project="bulk", service="batch", environment="production", trace_id=T6,
            span_id=sid(0xB6, n), parent_span_id=None if parent is None else sid(0xB6, parent),
            trace=_INFO6, kind=kind, name=name, status="ok", start_time=begin,
            end_time=begin + timedelta(milliseconds=dur), duration_ms=dur, processed_at=begin,
        ))  # fmt: skip

    add(1, None, "workflow", "batch-job", 0, big_spans * 10 + 10)
    n = 1
    agent = 0
    while n < big_spans:
        n += 1
        agent_n, agent_at = n, agent * 1110.0
        add(agent_n, 1, "agent", f"agent-{agent}", agent_at, 1100)
        for step in range(10):
            if n >= big_spans:
                break
            n += 1
            step_n, step_at = n, agent_at + step * 110
            add(step_n, agent_n, "step", f"step-{agent}.{step}", step_at, 100)
            for tool in range(10):
                if n >= big_spans:
                    break
                n += 1
                add(n, step_n, "tool", f"tool-{tool}", step_at + tool * 10, 9)
        agent += 1
    return out


def t7_spans() -> list[SpanRecord]:
    start = T0 + timedelta(minutes=150)
    common: dict[str, Any] = {
        "project": "live", "service": "chat", "environment": "production", "trace_id": T7,
        "processed_at": start,
    }  # fmt: skip
    return [
        SpanRecord(**common, span_id=sid(0xB7, 1), kind="agent", name="still-running",
                   status="unset", start_time=start),
        SpanRecord(**common, span_id=sid(0xB7, 2), parent_span_id=sid(0xB7, 1), kind="tool",
                   name="search", status="ok", start_time=start + timedelta(milliseconds=5),
                   end_time=start + timedelta(milliseconds=25), duration_ms=20.0),
    ]  # fmt: skip


def ui_traces(big_spans: int) -> list[TraceRecord]:
    big = t6_spans(big_spans)
    return [
        TraceRecord(
            project="shop", trace_id=T5, environment="production", services=("support",),
            trace=_INFO5, root_span_id=sid(0xB5, 1), name="support-turn", status="error",
            start_time=T5_START, end_time=T5_START + timedelta(milliseconds=3000),
            duration_ms=3000, span_count=6, depth=1,
            usage=Usage(input_tokens=1712, output_tokens=104, cached_tokens=512),
            cost_usd=0.00468, error_count=1, tool_call_count=2, models=("gpt-4o",),
            input="Where is my parcel?", output="It arrives on Monday.", emitted_at=T5_START,
        ),
        TraceRecord(
            project="bulk", trace_id=T6, environment="production", services=("batch",),
            trace=_INFO6, root_span_id=sid(0xB6, 1), name="batch-job", status="ok",
            start_time=T6_START, end_time=big[0].end_time, duration_ms=big[0].duration_ms,
            span_count=len(big), depth=3, emitted_at=T6_START,
        ),
    ]  # fmt: skip


def insert_ui_data(storage: Storage, *, big_spans: int = 2000) -> None:
    """The known data set, then T5, T6 and T7."""
    insert_known_data(storage)
    retention = RetentionPolicy(default_days=3650)
    for role, records in (
        ("spans", [*t5_spans(), *t6_spans(big_spans), *t7_spans()]),
        ("traces", ui_traces(big_spans)),
    ):
        mapping = TABLE_MAPPINGS[role]
        batch = map_records(mapping, [record_json(r) for r in records], retention)
        assert not batch.rejected, batch.rejected
        storage.insert(mapping.table, batch.table)
