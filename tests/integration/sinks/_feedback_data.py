"""A known data set for the feedback reports, each answer worked out by hand.

Project ``fb``, 2026-11-02 from 10:00 UTC, six traces (F1..F6). Times are
milliseconds after the trace's start (every trace starts at its own minute).
What each trace is there for:

- F1 ``support``, good (score 0.9): plan (decision route=order-desk) -> kb
  search (doc-1, doc-2) -> lookup_order ok -> answer (gpt-4o, cites doc-1,
  all 1,000 input tokens cached, 200 reasoning tokens). The generation offers
  the tools lookup_order and refund; refund is never called anywhere.
- F2 ``support``, failed (root error) and scored 0.2: the kb search returns
  nothing, lookup_order times out twice (the second call is a retry; both
  pass the argument ``region``), the answer reasons for 5,000 tokens.
- F3 ``support``, ok (0.8): lookup_order fails once (with ``region``), the
  retry without it succeeds: a tool failure that does *not* make a bad trace.
- F4 ``support``, ok (0.85): F1's question for another order number (a near
  duplicate of F1); passes ``verbose`` to a call that succeeds.
- F5 ``support``, failed by its outcome (success false), unscored, short
  reasoning (100 tokens): a failure that must *not* count as long reasoning.
- F6 ``triage``, ok (0.95): a nested agent (classify, search_web,
  summarize on claude-sonnet-4, which offers search_web and escalate).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tracestream.schemas import (
    Cost,
    Decision,
    ErrorInfo,
    ModelInfo,
    Outcome,
    ScoreEvent,
    SpanRecord,
    ToolCall,
    TraceInfo,
    TraceRecord,
    Usage,
)
from tracestream.sinks import Storage
from tracestream.sinks._rows import TABLE_MAPPINGS, RetentionPolicy, map_records, record_json

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RANGE = (T0, T0 + timedelta(hours=1))
F1, F2, F3, F4, F5, F6 = (f"{i:032x}" for i in (0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6))
_MINUTE = {F1: 0, F2: 1, F3: 2, F4: 3, F5: 4, F6: 5}


def _sid(trace_id: str, n: int) -> str:
    return f"{int(trace_id[-2:], 16) * 16 + n:016x}"


def _span(
    trace_id: str,
    n: int,
    kind: str,
    name: str,
    at_ms: int,
    end_ms: int,
    *,
    parent: int | None = 1,
    status: str = "ok",
    **extra: Any,
) -> SpanRecord:
    start = T0 + timedelta(minutes=_MINUTE[trace_id], milliseconds=at_ms)
    return SpanRecord(
        project="fb",
        service="bot",
        environment="test",
        trace_id=trace_id,
        span_id=_sid(trace_id, n),
        parent_span_id=None if parent is None else _sid(trace_id, parent),
        trace=TraceInfo(name="support" if trace_id != F6 else "triage"),
        kind=kind,
        name=name,
        status=status,
        start_time=start,
        end_time=start + timedelta(milliseconds=end_ms - at_ms),
        duration_ms=float(end_ms - at_ms),
        version=1,
        processed_at=start,
        **extra,
    )


def _root(trace_id: str, name: str, end_ms: int, question: str, **kw: Any) -> SpanRecord:
    return _span(trace_id, 1, "workflow", name, 0, end_ms, parent=None, input=question, **kw)


def _plan(trace_id: str, end_ms: int, route: str) -> SpanRecord:
    decision = Decision(name="route", choice=route, reason="from the question")
    return _span(trace_id, 2, "reasoning", "plan", 0, end_ms, decisions=(decision,))


def _kb(trace_id: str, at_ms: int, end_ms: int, docs: list[str]) -> SpanRecord:
    items = [{"id": d, "text": f"text of {d}"} for d in docs]
    return _span(trace_id, 3, "retrieval", "kb-search", at_ms, end_ms, output=items)


def _lookup(
    trace_id: str, n: int, at_ms: int, end_ms: int, args: dict[str, Any], *, fails: bool = False
) -> SpanRecord:
    error = ErrorInfo(type="TimeoutError", message="order service did not answer within 2s")
    return _span(
        trace_id, n, "tool", "lookup_order", at_ms, end_ms,
        tool=ToolCall(name="lookup_order", call_id=f"c{n}", arguments=args,
                      result=None if fails else {"status": "shipped"}),
        status="error" if fails else "ok", error=error if fails else None,
    )  # fmt: skip


def _answer(
    trace_id: str,
    n: int,
    at_ms: int,
    end_ms: int,
    model: str,
    usage: Usage,
    cost: float,
    text: str,
    *,
    tools: tuple[str, ...] = (),
    name: str = "answer",
    parent: int = 1,
) -> SpanRecord:
    params: dict[str, Any] = {"temperature": 0}
    if tools:
        params["tools"] = [{"type": "function", "function": {"name": t}} for t in tools]
    return _span(
        trace_id, n, "generation", name, at_ms, end_ms, parent=parent,
        model=ModelInfo(name=model, provider="openai", parameters=params),
        usage=usage, cost=Cost(total_usd=cost), output={"role": "assistant", "content": text},
    )  # fmt: skip


def _ok(label: str = "resolved") -> Outcome:
    return Outcome(label=label, success=True)


def spans() -> list[SpanRecord]:
    timeout = ErrorInfo(type="TimeoutError", message="the order could not be looked up")
    return [
        _root(F1, "support", 1000, "Where is order 1001?", outcome=_ok()),
        _plan(F1, 100, "order-desk"),
        _kb(F1, 100, 200, ["doc-1", "doc-2"]),
        _lookup(F1, 4, 250, 350, {"order": "1001"}),
        _answer(F1, 5, 400, 1000, "gpt-4o",
                Usage(input_tokens=0, cached_tokens=1000, output_tokens=100, reasoning_tokens=200),
                0.002, "See doc-1.", tools=("lookup_order", "refund")),
        _root(F2, "support", 3000, "Where is order 2002?", status="error", error=timeout),
        _plan(F2, 100, "order-desk"),
        _kb(F2, 100, 200, []),
        _lookup(F2, 4, 200, 1200, {"order": "2002", "region": "eu"}, fails=True),
        _lookup(F2, 5, 1200, 2200, {"order": "2002", "region": "eu"}, fails=True),
        _answer(F2, 6, 2200, 2900, "claude-sonnet-4",
                Usage(input_tokens=4000, output_tokens=50, reasoning_tokens=5000), 0.02,
                "Sorry, the order system is down."),
        _root(F3, "support", 2000, "Where is order 3003 now??", outcome=_ok()),
        _plan(F3, 100, "order-desk"),
        _kb(F3, 100, 200, ["doc-3", "doc-4"]),
        _lookup(F3, 4, 200, 700, {"order": "3003", "region": "us"}, fails=True),
        _lookup(F3, 5, 700, 900, {"order": "3003"}),
        _answer(F3, 6, 1000, 1900, "gpt-4o",
                Usage(input_tokens=2000, output_tokens=80, reasoning_tokens=300), 0.005,
                "Per doc-3 and doc-4 it ships today."),
        _root(F4, "support", 800, "where is ORDER 4004?", outcome=_ok()),
        _plan(F4, 50, "order-desk"),
        _kb(F4, 50, 150, ["doc-1", "doc-5"]),
        _lookup(F4, 4, 150, 250, {"order": "4004", "verbose": True}),
        _answer(F4, 5, 300, 800, "gpt-4o",
                Usage(input_tokens=0, cached_tokens=1000, output_tokens=90, reasoning_tokens=100),
                0.0015, "doc-5 says it was delivered; see doc-10."),
        _root(F5, "support", 600, "Cancel my subscription",
              outcome=Outcome(label="escalated", success=False)),
        _plan(F5, 100, "self-service"),
        _answer(F5, 3, 100, 600, "gpt-4o",
                Usage(input_tokens=500, output_tokens=20, reasoning_tokens=100), 0.001,
                "A colleague will call you."),
        _root(F6, "triage", 500, "Is the site down?", outcome=_ok("triaged")),
        _span(F6, 2, "agent", "triager", 0, 450),
        _span(F6, 3, "step", "classify", 0, 100, parent=2),
        _span(F6, 4, "tool", "search_web", 100, 300, parent=2,
              tool=ToolCall(name="search_web", arguments={"q": "status page"})),
        _answer(F6, 5, 300, 450, "claude-sonnet-4", Usage(input_tokens=300, output_tokens=30),
                0.001, "No outage.", tools=("search_web", "escalate"), name="summarize",
                parent=2),
    ]  # fmt: skip


def scores() -> list[ScoreEvent]:
    values = ((F1, 0.9), (F2, 0.2), (F3, 0.8), (F4, 0.85), (F6, 0.95))
    return [
        ScoreEvent(
            schema_version=1, event_id=f"0190c8a0-0000-7000-8000-{n:012x}",
            event_type="score", project="fb", service="evaluator", environment="test",
            trace_id=tid, span_id=None, timestamp=T0 + timedelta(minutes=10 + n),
            name="helpfulness", value=value,
        )
        for n, (tid, value) in enumerate(values)
    ]  # fmt: skip


def traces() -> list[TraceRecord]:
    """The assembled traces (what export reads), one per root span."""
    return [
        TraceRecord(
            project="fb", trace_id=root.trace_id, environment="test", services=("bot",),
            trace=root.trace, name=root.name, status="error" if root.status == "error" else "ok",
            start_time=root.start_time, end_time=root.end_time, duration_ms=root.duration_ms,
            span_count=1, depth=1, input=root.input, output=root.output, version=1,
            emitted_at=root.start_time,
        )
        for root in spans()
        if root.parent_span_id is None
    ]  # fmt: skip


def insert_feedback_data(storage: Storage) -> None:
    """Insert the data set's spans, traces and scores through the sink's row mapping."""
    retention = RetentionPolicy(default_days=3650)
    for role, records in (("spans", spans()), ("traces", traces()), ("scores", scores())):
        mapping = TABLE_MAPPINGS[role]
        batch = map_records(mapping, [record_json(r) for r in records], retention)
        assert not batch.rejected, batch.rejected
        storage.insert(mapping.table, batch.table)
