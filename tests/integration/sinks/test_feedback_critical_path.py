"""The workflows report's critical path and waits against a reference walk in Python.

Random span trees (nesting, parallel children, children ending after their
parent, ties on end times, zero durations, orphans) are stored, each trace
under a workflow of its own, and every step's critical and waiting time in
the report must equal what :func:`_walk` and :func:`_waits` compute: the
definitions written in ``_feedback_sql`` done the plain way, one cursor on a
stack at a time.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tracestream.schemas import SpanRecord, TraceInfo
from tracestream.sinks import ChdbStorage
from tracestream.sinks._analytics import AnalysisScope
from tracestream.sinks._feedback import feedback
from tracestream.sinks._rows import TABLE_MAPPINGS, RetentionPolicy, map_records, record_json

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
TRACES = 150


@dataclass(frozen=True, slots=True)
class _Span:
    n: int
    parent: int | None  # 0: a parent id that is not in the trace
    name: str
    start: int  # ms after the trace's start
    end: int


def _tree(rng: random.Random) -> list[_Span]:
    root = _Span(1, None, "", 0, rng.randrange(50, 400, 10))
    spans = [root]
    used: set[tuple[int, int]] = {(root.start, root.end)}
    for n in range(2, rng.randint(2, 12)):
        parent = rng.choice(spans)
        # Times on a 10 ms grid so ends tie often; a child may start before its
        # parent ends and run past it (parallel work the walk must skip).
        start = parent.start + rng.randrange(0, max(10, parent.end - parent.start + 40), 10)
        end = start + rng.choice((0, 10, 20, 50, 100, 200))
        if (start, end) in used:  # equal start and end: order falls to span-id hashes
            continue
        used.add((start, end))
        orphan = rng.random() < 0.05
        name = rng.choice(("a", "b", "c", "d"))
        spans.append(_Span(n, 0 if orphan else parent.n, name, start, end))
    return spans


def _order(spans: list[_Span]) -> list[_Span]:
    # The report's order: start, then longer first (a parent before its children).
    return sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))


def _walk(spans: list[_Span]) -> dict[int, float]:
    """Each span's time on the critical path: the walk back from the root's end."""
    ordered = _order(spans)
    position = {s.n: i for i, s in enumerate(ordered)}
    by_n = {s.n: s for s in spans}
    crit = {s.n: 0.0 for s in spans}
    stack = [(1, float(by_n[1].end))]
    while stack:
        at, cursor = stack[-1]
        kids = [s for s in spans if s.parent == at and s.end <= cursor and s.start < cursor]
        if not kids:
            stack.pop()
            crit[at] += cursor - by_n[at].start
            continue
        kid = max(kids, key=lambda s: (s.end, position[s.n]))
        crit[at] += cursor - kid.end
        stack[-1] = (at, float(kid.start))
        stack.append((kid.n, float(kid.end)))
    return crit


def _waits(spans: list[_Span]) -> dict[int, float]:
    """Each span's idle time since its parent started or an earlier sibling ended."""
    by_n = {s.n: s for s in spans}
    waits = {}
    for s in spans:
        if s.parent is None or s.parent == 0:
            waits[s.n] = 0.0
            continue
        ready = max(
            [by_n[s.parent].start]
            + [k.end for k in spans if k.parent == s.parent and k.start < s.start]
        )
        waits[s.n] = max(0.0, float(s.start - ready))
    return waits


def _record(trace: int, workflow: str, span: _Span) -> SpanRecord:
    trace_id = f"{0xC0000 + trace:032x}"
    start = T0 + timedelta(seconds=trace, milliseconds=span.start)
    parent = None
    if span.parent is not None:
        parent = f"{trace * 64 + (span.parent or 63):016x}"
    return SpanRecord(
        project="cp", service="bot", environment="test", trace_id=trace_id,
        span_id=f"{trace * 64 + span.n:016x}", parent_span_id=parent,
        trace=TraceInfo(name=workflow), kind="step", name=span.name or workflow, status="ok",
        start_time=start, end_time=start + timedelta(milliseconds=span.end - span.start),
        duration_ms=float(span.end - span.start), version=1, processed_at=start,
    )  # fmt: skip


def test_critical_path_and_waits_equal_the_reference_walk(chdb_storage: ChdbStorage) -> None:
    rng = random.Random(14)
    trees = {f"w{t:03d}": _tree(rng) for t in range(TRACES)}
    records = [
        _record(t, workflow, span)
        for t, (workflow, spans) in enumerate(trees.items())
        for span in spans
    ]
    mapping = TABLE_MAPPINGS["spans"]
    batch = map_records(
        mapping, [record_json(r) for r in records], RetentionPolicy(default_days=3650)
    )
    assert not batch.rejected, batch.rejected
    chdb_storage.insert(mapping.table, batch.table)

    scope = AnalysisScope(T0, T0 + timedelta(hours=1), project="cp", top_n=20)
    steps = feedback(chdb_storage, scope, ("workflows",)).table("workflows.steps").dicts()
    got = {(r["workflow"], r["step"]): (r["mean_critical_ms"], r["total_wait_ms"]) for r in steps}

    expected: dict[tuple[str, str], tuple[float, float]] = {}
    for workflow, spans in trees.items():
        crit, waits = _walk(spans), _waits(spans)
        assert sum(crit.values()) == spans[0].end  # the path covers the root's duration
        totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for s in spans:
            totals[s.name or workflow][0] += crit[s.n]
            totals[s.name or workflow][1] += waits[s.n]
        for step, (critical, wait) in totals.items():
            expected[(workflow, step)] = (round(critical, 3), round(wait, 3))
    assert got == expected
    # The data has what the walk must handle: parallel children off the path,
    # nesting and orphans.
    off_path = sum(
        1 for spans in trees.values() for s in spans if s.parent and _walk(spans)[s.n] == 0
    )
    assert off_path > 50
    assert any(s.parent == 0 for spans in trees.values() for s in spans)
    assert any(s.parent not in (None, 0, 1) for spans in trees.values() for s in spans)
