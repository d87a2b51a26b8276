"""Assembly's byte budget: the estimate follows every state, and past the budget the oldest go."""

from __future__ import annotations

import pytest

from tests.unit.streams._spans import at, end, start, whole
from tracestream.streams._assembly import Assembler
from tracestream.streams._pricing import Pricer
from tracestream.streams._state_size import dormant_bytes, open_event_bytes, reopened_bytes
from tracestream.streams._trace_state import DormantTrace, TraceState

pytestmark = pytest.mark.unit

EVENT = open_event_bytes(1000)


def _tid(n: int) -> str:
    return f"{n:032x}"


def _dormant(asm: Assembler, tid: str) -> DormantTrace:
    state = asm.store[tid]
    assert isinstance(state, DormantTrace)
    return state


def test_estimate_follows_a_trace_from_open_to_dormant_to_gone() -> None:
    asm = Assembler(Pricer(), grace_s=5, linger_s=60)
    asm.apply(start(1, None, 0), at(0), size=1000)
    asm.apply(whole(2, 1, 0, 1), at(0), size=3000)
    assert asm.state_bytes == open_event_bytes(1000) + open_event_bytes(3000)
    asm.apply(end(1, None, 2), at(1), size=500)
    assert asm.state_bytes == sum(map(open_event_bytes, (1000, 3000, 500)))
    asm.due(at(6))  # emitted: lingers as its changelog bytes
    (tid,) = asm.store
    assert asm.state_bytes == dormant_bytes(len(_dormant(asm, tid).packed))
    asm.due(at(6 + 60))
    assert (asm.state_bytes, asm.open_traces) == (0, 0)


def test_without_a_size_the_wire_bytes_or_one_kib_count() -> None:
    asm = Assembler(Pricer())
    asm.apply(whole(1, None, 0, 1), at(0), wire=b"x" * 700)
    asm.apply(whole(2, 1, 0, 1), at(0))
    assert asm.state_bytes == open_event_bytes(700) + open_event_bytes(1024)


def test_duplicates_and_conflicts_add_nothing() -> None:
    asm = Assembler(Pricer())
    event = whole(1, None, 0, 1)
    asm.apply(event, at(0), size=1000)
    asm.apply(event, at(0), size=1000)  # same event_id
    asm.apply(whole(1, None, 0, 2), at(0), size=1000)  # a second, different whole span
    assert asm.state_bytes == EVENT


def test_a_woken_trace_counts_its_events_again() -> None:
    asm = Assembler(Pricer(), grace_s=1)
    first = whole(1, None, 0, 1)
    asm.apply(first, at(0), size=1000)
    asm.due(at(1))
    (tid,) = asm.store
    data = _dormant(asm, tid).data
    asm.apply(first, at(2), size=1000)  # a duplicate: the state stays dormant
    assert asm.state_bytes == dormant_bytes(len(_dormant(asm, tid).packed))
    asm.apply(whole(2, 1, 0, 1), at(2), size=1000)  # late: wakes it
    assert isinstance(asm.store[tid], TraceState)
    assert asm.state_bytes == reopened_bytes(len(data), 1) + EVENT


def test_budget_drops_lingering_traces_before_open_ones() -> None:
    asm = Assembler(Pricer(), grace_s=1, max_state_bytes=3 * EVENT)
    asm.apply(whole(1, None, 0, 1, trace_id=_tid(1)), at(0), size=1000)
    asm.due(at(1))  # trace 1 lingers
    asm.apply(start(1, None, 1, trace_id=_tid(2)), at(1), size=1000)
    asm.apply(start(1, None, 1, trace_id=_tid(3)), at(2), size=1000)
    assert set(asm.store) == {_tid(1), _tid(2), _tid(3)}
    out = asm.apply(start(1, None, 1, trace_id=_tid(4)), at(3), size=1000)
    assert set(asm.store) == {_tid(2), _tid(3), _tid(4)}
    assert out.traces == []  # a lingering trace was already published: nothing to emit
    assert (out.counts["evicted_lingering"], out.counts["evicted_for_memory"]) == (1, 1)
    assert asm.state_bytes == 3 * EVENT


def test_budget_cuts_the_oldest_open_trace_short_as_incomplete() -> None:
    asm = Assembler(Pricer(), max_state_bytes=2 * EVENT)
    for n in (1, 2):
        asm.apply(start(1, None, 0, trace_id=_tid(n)), at(n), size=1000)
    out = asm.apply(start(1, None, 0, trace_id=_tid(3)), at(3), size=1000)
    assert [(t.trace_id, t.status) for t in out.traces] == [(_tid(1), "incomplete")]
    assert (out.counts["evicted_traces"], out.counts["evicted_for_memory"]) == (1, 1)
    assert asm.open_traces == 2 and asm.state_bytes == 2 * EVENT


def test_budget_spares_the_trace_the_event_went_into() -> None:
    asm = Assembler(Pricer(), max_state_bytes=2 * EVENT)
    asm.apply(start(1, None, 0, trace_id=_tid(1)), at(0), size=1000)
    asm.apply(start(1, None, 0, trace_id=_tid(2)), at(1), size=1000)
    # The oldest trace grows past the budget: the other one goes, it stays.
    out = asm.apply(start(2, 1, 0, trace_id=_tid(1)), at(2), size=1000)
    assert set(asm.store) == {_tid(1)} and out.counts["evicted_for_memory"] == 1
    # Alone over the budget, it is kept (max_spans_per_trace bounds it).
    out = asm.apply(start(3, 1, 0, trace_id=_tid(1)), at(3), size=100_000)
    assert set(asm.store) == {_tid(1)} and out.counts["evicted_for_memory"] == 0
    assert asm.state_bytes == 2 * EVENT + open_event_bytes(100_000)


def test_a_restarted_assembler_estimates_the_restored_states() -> None:
    asm = Assembler(Pricer(), grace_s=1)
    asm.apply(whole(1, None, 0, 1, trace_id=_tid(1)), at(0), size=1000)
    asm.due(at(1))
    asm.apply(start(1, None, 0, trace_id=_tid(2)), at(1), size=1000)
    asm.apply(end(1, None, 1, trace_id=_tid(2)), at(1), size=1000)
    restored = {
        tid: TraceState.from_bytes(s.to_bytes()) if isinstance(s, TraceState) else s
        for tid, s in asm.store.items()
    }
    again = Assembler(Pricer(), restored)
    open_state = restored[_tid(2)]
    assert isinstance(open_state, TraceState)
    assert again.state_bytes == dormant_bytes(len(_dormant(asm, _tid(1)).packed)) + reopened_bytes(
        len(open_state.to_bytes()), 2
    )


def test_the_pipeline_counts_each_record_as_received() -> None:
    from prometheus_client import CollectorRegistry

    from tracestream.streams._metrics import PipelineMetrics
    from tracestream.streams._pipeline import Pipeline, Stages
    from tracestream.streams._redaction import Redactor
    from tracestream.streams._validate import SourceRecord, Validator

    asm = Assembler(Pricer())
    pipeline = Pipeline(
        Stages(Validator(max_event_bytes=1 << 20, max_depth=32), Redactor(), asm),
        PipelineMetrics(CollectorRegistry()),
    )
    clean = whole(1, None, 0, 1).model_dump_json().encode()
    # Redacted: the assembler gets no wire bytes, still the size received.
    pii = whole(2, 1, 0, 1, input="mail me at jane.doe@example.com").model_dump_json().encode()
    records = [SourceRecord("events", 0, i, b"k", v) for i, v in enumerate((clean, pii))]
    pipeline.process(records, now_ms=1_800_000_000_000)
    assert asm.state_bytes == open_event_bytes(len(clean)) + open_event_bytes(len(pii))
