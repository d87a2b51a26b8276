"""A small data set with hand-computed answers, for analyze/query/export tests.

Project ``shop`` (three traces, 10:00-11:00 UTC on 2026-11-01) and project
``other`` (one trace with an unpriced model). Built from the contract models
and inserted through the sink's own row mapping, so the tests read what the
sink writes. One generation span is stored twice (versions 1 and 2): reads
must count it once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tracestream.schemas import (
    AnomalyRecord,
    Cost,
    ErrorInfo,
    ModelInfo,
    ScoreEvent,
    SpanRecord,
    ToolCall,
    TraceInfo,
    TraceRecord,
    Usage,
)
from tracestream.sinks import Storage
from tracestream.sinks._rows import TABLE_MAPPINGS, RetentionPolicy, map_records, record_json

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
RANGE = (datetime(2026, 11, 1, 10, 0, tzinfo=UTC), datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
T1, T2, T3, T4 = (f"{i:032x}" for i in (0xA1, 0xA2, 0xA3, 0xA4))


def _sid(n: int) -> str:
    return f"{n:016x}"


def _span(
    trace_id: str,
    n: int,
    kind: str,
    name: str,
    at_ms: int,
    duration_ms: float,
    *,
    project: str = "shop",
    service: str = "checkout",
    parent: int | None = 1,
    status: str = "ok",
    version: int = 1,
    **extra: Any,
) -> SpanRecord:
    start = T0 + timedelta(milliseconds=at_ms)
    return SpanRecord(
        project=project,
        service=service,
        environment="production",
        trace_id=trace_id,
        span_id=_sid(int(trace_id[-2:], 16) * 16 + n),
        parent_span_id=None if parent is None else _sid(int(trace_id[-2:], 16) * 16 + parent),
        trace=TraceInfo(
            name="answer", session_id=f"s-{trace_id[-1]}", user_id="u-1", tags=("beta",)
        ),
        kind=kind,
        name=name,
        status=status,
        start_time=start,
        end_time=start + timedelta(milliseconds=duration_ms),
        duration_ms=duration_ms,
        version=version,
        processed_at=start,
        **extra,
    )


def _gen(
    trace_id: str,
    n: int,
    at_ms: int,
    duration_ms: float,
    model: str,
    tin: int,
    tout: int,
    cost: float | None,
    prompt: str,
    answer: str,
    **kw: Any,
) -> SpanRecord:
    return _span(
        trace_id, n, "generation", "chat", at_ms, duration_ms,
        model=ModelInfo(name=model, provider="openai" if model == "gpt-4o" else "anthropic",
                        parameters={"temperature": 0}),
        usage=Usage(input_tokens=tin, output_tokens=tout),
        cost=None if cost is None else Cost(total_usd=cost),
        input=[{"role": "system", "content": "You are a shop assistant."},
               {"role": "user", "content": prompt}],
        output={"role": "assistant", "content": answer},
        **kw,
    )  # fmt: skip


def _tool(
    trace_id: str, n: int, at_ms: int, duration_ms: float, tool: str, **kw: Any
) -> SpanRecord:
    return _span(
        trace_id, n, "tool", tool, at_ms, duration_ms,
        tool=ToolCall(name=tool, call_id=f"call-{n}", arguments={"q": "order 42"},
                      result={"rows": 1}),
        **kw,
    )  # fmt: skip


def spans() -> list[SpanRecord]:
    timeout = ErrorInfo(type="TimeoutError", message="request 123 timed out after 30s")
    timeout2 = ErrorInfo(type="TimeoutError", message="request 456 timed out after 30s")
    return [
        # T1: ok; its first generation is stored twice (version 1 unfinished, version 2 final).
        _span(T1, 1, "agent", "answer", 0, 1000, parent=None,
              input="Where is order 42?", output="It ships tomorrow."),
        _span(T1, 2, "generation", "chat", 100, 5, status="unset", version=1),
        _gen(T1, 2, 100, 400, "gpt-4o", 1000, 100, 0.0035, "Where is order 42?",
             "Let me check.", version=2),
        _tool(T1, 3, 500, 200, "web_search"),
        _gen(T1, 4, 700, 300, "gpt-4o", 500, 50, 0.00175, "Where is order 42?",
             "It ships tomorrow."),
        # T2: error; a tool times out and the root fails with it.
        _span(T2, 1, "agent", "answer", 60_000, 2000, parent=None, status="error", error=timeout,
              input="Cancel my plan", output=None),
        _gen(T2, 2, 60_100, 600, "claude-sonnet-4", 2000, 200, 0.009, "Cancel my plan",
             "Looking it up."),
        _tool(T2, 3, 60_800, 100, "web_search"),
        _tool(T2, 4, 60_900, 900, "sql_query", status="error", error=timeout2),
        # T3: ok, another service, an hour later.
        _span(T3, 1, "agent", "answer", 3_600_000, 500, parent=None, service="search",
              input="Refund policy?", output="30 days."),
        _gen(T3, 2, 3_600_050, 200, "gpt-4o", 300, 30, 0.00105, "Refund policy?", "30 days.",
             service="search"),
        _tool(T3, 3, 3_600_300, 150, "web_search", service="search"),
        _tool(T3, 4, 3_600_400, 100, "sql_query", service="search"),
        # T4: another project, an unknown model (unpriced).
        _span(T4, 1, "agent", "answer", 1_800_000, 50, parent=None, project="other"),
        _gen(T4, 2, 1_800_010, 40, "mystery-1", 10, 5, None, "hi", "hello", project="other"),
    ]  # fmt: skip


def traces() -> list[TraceRecord]:
    def trace(
        tid: str,
        project: str,
        service: str,
        status: str,
        at_ms: int,
        dur: float,
        spans_: int,
        cost: float | None,
        inp: str,
        out: str | None,
        version: int = 1,
    ) -> TraceRecord:
        start = T0 + timedelta(milliseconds=at_ms)
        return TraceRecord(
            project=project, trace_id=tid, environment="production", services=(service,),
            trace=TraceInfo(name="answer", session_id=f"s-{tid[-1]}", user_id="u-1",
                            tags=("beta",)),
            name="answer", status=status, start_time=start,
            end_time=start + timedelta(milliseconds=dur), duration_ms=dur, span_count=spans_,
            depth=1, cost_usd=cost, input=inp, output=out, version=version, emitted_at=start,
        )  # fmt: skip

    return [
        trace(T1, "shop", "checkout", "incomplete", 0, 900, 3, 0.0035, "Where is order 42?", None),
        trace(T1, "shop", "checkout", "ok", 0, 1000, 4, 0.00525, "Where is order 42?",
              "It ships tomorrow.", version=2),
        trace(T2, "shop", "checkout", "error", 60_000, 2000, 4, 0.009, "Cancel my plan", None),
        trace(T3, "shop", "search", "ok", 3_600_000, 500, 4, 0.00105, "Refund policy?",
              "30 days."),
        trace(T4, "other", "checkout", "ok", 1_800_000, 50, 2, None, "hi", "hello"),
    ]  # fmt: skip


def scores() -> list[ScoreEvent]:
    def score(n: int, tid: str, name: str, value: float | bool | str, at_s: int) -> ScoreEvent:
        return ScoreEvent(
            schema_version=1, event_id=f"0190c8a0-0000-7000-8000-{n:012x}",
            event_type="score", project="shop", service="evaluator",
            environment="production", trace_id=tid, span_id=None,
            timestamp=T0 + timedelta(seconds=at_s), name=name, value=value,
        )  # fmt: skip

    return [
        score(1, T1, "helpfulness", 0.9, 10),
        score(2, T2, "helpfulness", 0.2, 70),
        score(3, T3, "helpfulness", 0.7, 3610),
        score(4, T1, "thumbs_up", True, 20),
        score(5, T2, "thumbs_up", False, 80),
        score(6, T3, "topic", "billing", 3620),
    ]


def anomalies() -> list[AnomalyRecord]:
    return [
        AnomalyRecord(
            project="shop", service="checkout", model="", kind="tool", name="sql_query",
            metric="latency_p95_ms", window_start=T0 + timedelta(minutes=1),
            window_end=T0 + timedelta(minutes=2), value=900.0, baseline=120.0, scale=40.0,
            score=19.5, threshold=6.0, direction="high", detected_at=T0 + timedelta(minutes=2),
        ),
        AnomalyRecord(
            project="shop", service="checkout", model="", kind="tool", name="sql_query",
            metric="error_rate", window_start=T0 + timedelta(minutes=1),
            window_end=T0 + timedelta(minutes=2), value=1.0, baseline=0.0, scale=0.1,
            score=10.0, threshold=6.0, direction="high", detected_at=T0 + timedelta(minutes=2),
        ),
    ]  # fmt: skip


def insert_known_data(storage: Storage) -> None:
    """Insert every record of the data set.

    Superseded versions go in their own, earlier insert: within one block a
    ReplacingMergeTree already keeps only the newest, and the point is to make
    the readers' FINAL do that work.
    """
    retention = RetentionPolicy(default_days=3650)  # TTL from start_time; more overflows DateTime
    all_spans, all_traces = spans(), traces()
    batches: list[tuple[str, list[Any]]] = [
        ("spans", [r for r in all_spans if r.status == "unset"]),
        ("traces", [r for r in all_traces if r.status == "incomplete"]),
        ("spans", [r for r in all_spans if r.status != "unset"]),
        ("traces", [r for r in all_traces if r.status != "incomplete"]),
        ("scores", scores()),
        ("anomalies", anomalies()),
    ]
    for role, records in batches:
        mapping = TABLE_MAPPINGS[role]
        batch = map_records(mapping, [record_json(r) for r in records], retention)
        assert not batch.rejected, batch.rejected
        storage.insert(mapping.table, batch.table)
