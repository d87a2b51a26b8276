"""Trace assembly: order, duplicates, grace, timeouts, late events, orphans, caps, state."""

from __future__ import annotations

import random

import pytest

from tests.unit.streams._spans import TRACE as TRACE_ID
from tests.unit.streams._spans import at, end, sid, start, whole
from tracestream.schemas import Redaction, SpanStatus, TraceRecord, Usage
from tracestream.streams._assembly import Assembler, AssemblyOutput, SpanEventLike
from tracestream.streams._pricing import Pricer
from tracestream.streams._trace_state import TraceState

pytestmark = pytest.mark.unit

GEN = {"kind": "generation", "model": {"name": "gpt-4o", "provider": "openai"}}


def _trace_events() -> list[SpanEventLike]:
    """root(1) -> agent(2) -> generation(3), tool(4) as one event; step(5) never ends."""
    return [
        start(1, None, 0, kind="workflow", name="checkout", input={"q": "hi"}),
        start(2, 1, 0.1, kind="agent"),
        start(3, 2, 0.2, **GEN),
        end(3, 2, 1.2, usage={"input_tokens": 800, "output_tokens": 100, "cached_tokens": 200}),
        whole(4, 2, 1.3, 1.5, kind="tool", tool={"name": "search"}),
        start(5, 1, 1.6),
        end(2, 1, 1.8, status="error", error={"type": "ValueError", "message": "x"}),
        end(1, None, 2.0, output={"a": 1}),
    ]


def _run(events: list[SpanEventLike], **kw: float) -> tuple[Assembler, AssemblyOutput]:
    asm = Assembler(Pricer(), **kw)  # type: ignore[arg-type]
    out = AssemblyOutput()
    for i, e in enumerate(events):
        out.extend(asm.apply(e, at(10 + i * 0.01)))
    out.extend(asm.due(at(20)))
    return asm, out


def _stable(t: TraceRecord) -> dict[str, object]:
    return t.model_dump(exclude={"emitted_at"})


def test_assembles_aggregates_and_timeline() -> None:
    _, out = _run(_trace_events())
    (t,) = out.traces
    assert (t.status, t.version, t.root_span_id, t.name) == ("unfinished", 1, sid(1), "checkout")
    assert (t.span_count, t.depth, t.error_count, t.tool_call_count) == (5, 3, 1, 1)
    assert t.duration_ms == 2000.0
    assert t.usage == Usage(input_tokens=800, output_tokens=100, cached_tokens=200)
    assert t.cost_usd == pytest.approx(0.00325, abs=1e-15)
    assert t.models == ("gpt-4o",)
    assert (t.input, t.output, t.services) == ({"q": "hi"}, {"a": 1}, ("api",))
    assert [(e.span_id, e.depth, e.start_offset_ms) for e in t.timeline] == [
        (sid(1), 0, 0.0), (sid(2), 1, 100.0), (sid(3), 2, 200.0), (sid(4), 2, 1300.0),
        (sid(5), 1, 1600.0),
    ]  # fmt: skip
    assert t.timeline[4].status is SpanStatus.UNFINISHED and t.timeline[4].end_offset_ms is None
    assert out.counts["traces_unfinished"] == 1


def test_span_records_emitted_when_complete_and_priced() -> None:
    _, out = _run(_trace_events())
    by_id = {s.span_id: s for s in out.spans}
    assert len(out.spans) == 5
    gen = by_id[sid(3)]
    assert gen.cost is not None and gen.cost.total_usd == pytest.approx(0.00325, abs=1e-15)
    assert gen.duration_ms == 1000.0 and len(gen.event_ids) == 2
    assert by_id[sid(5)].status is SpanStatus.UNFINISHED and by_id[sid(5)].end_time is None
    assert all(s.version == 1 for s in out.spans)


@pytest.mark.parametrize("seed", range(20))
def test_shuffled_order_gives_the_same_trace(seed: int) -> None:
    events = _trace_events()
    _, base = _run(events)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    _, out = _run(shuffled)
    assert _stable(out.traces[0]) == _stable(base.traces[0])
    assert sorted(s.span_id for s in out.spans) == sorted(s.span_id for s in base.spans)


def test_duplicates_counted_once() -> None:
    events = _trace_events()
    _, out = _run(events + events[:3] + [events[3]])
    (t,) = out.traces
    assert t.span_count == 5 and t.usage.input_tokens == 800
    assert out.counts["duplicate_events"] == 4
    assert len(out.spans) == 5


def test_conflicting_half_is_ignored_and_counted() -> None:
    _, out = _run([whole(1, None, 0, 1), end(1, None, 5, status="error")])
    assert out.traces[0].status == "ok" and out.counts["conflicting_events"] == 1


def test_due_only_after_grace() -> None:
    asm = Assembler(Pricer(), grace_s=5)
    asm.apply(whole(1, None, 0, 1), at(100))
    assert asm.due(at(104.9)).traces == []
    assert [t.status for t in asm.due(at(105)).traces] == ["ok"]


def test_idle_timeout_emits_incomplete() -> None:
    asm = Assembler(Pricer(), idle_timeout_s=60)
    asm.apply(start(1, None, 0), at(0))
    asm.apply(whole(2, 1, 0, 1), at(30))  # activity moves the deadline
    assert asm.due(at(89)).traces == []
    (t,) = asm.due(at(90)).traces
    assert (t.status, t.span_count) == ("incomplete", 2)


def test_late_event_reemits_with_higher_version() -> None:
    asm = Assembler(Pricer(), grace_s=5, linger_s=600)
    asm.apply(start(1, None, 0), at(0))
    asm.apply(start(2, 1, 0.5), at(0))
    asm.apply(end(1, None, 2), at(1))
    first = asm.due(at(6))
    assert [(t.status, t.version) for t in first.traces] == [("unfinished", 1)]
    assert [(s.span_id, s.status, s.version) for s in first.spans if s.span_id == sid(2)] == [
        (sid(2), SpanStatus.UNFINISHED, 1)
    ]
    late = asm.apply(end(2, 1, 1.5), at(30))
    assert [(s.span_id, s.status, s.version) for s in late.spans] == [(sid(2), SpanStatus.OK, 2)]
    assert late.counts["late_events"] == 1
    assert asm.due(at(34)).traces == []
    (t,) = asm.due(at(35)).traces
    assert (t.status, t.version) == ("ok", 2)
    assert asm.due(at(35 + 600)).traces == [] and asm.open_traces == 0


def test_timed_out_trace_becomes_ok_when_root_arrives_late() -> None:
    asm = Assembler(Pricer(), idle_timeout_s=10, grace_s=1)
    asm.apply(whole(2, 1, 0, 1), at(0))
    assert [t.status for t in asm.due(at(10)).traces] == ["incomplete"]
    asm.apply(whole(1, None, 0, 2), at(11))
    assert [(t.status, t.version) for t in asm.due(at(12)).traces] == [("ok", 2)]


def test_orphans_hang_under_the_root_and_are_counted() -> None:
    _, out = _run([whole(1, None, 0, 5), whole(7, 99, 1, 2), whole(8, 7, 1.5, 1.8)])
    (t,) = out.traces
    assert t.orphan_span_count == 1
    assert {e.span_id: e.depth for e in t.timeline} == {sid(1): 0, sid(7): 1, sid(8): 2}
    assert t.timeline[1].parent_span_id == sid(99)


def test_parent_cycle_terminates_as_orphan() -> None:
    _, out = _run([whole(1, 2, 0, 1), whole(2, 1, 0.5, 1)], idle_timeout_s=5)
    (t,) = out.traces
    assert (t.status, t.orphan_span_count, t.depth) == ("incomplete", 1, 2)


def test_headless_end_is_counted_not_emitted() -> None:
    _, out = _run([whole(1, None, 0, 3), end(2, 1, 2)])
    assert out.traces[0].span_count == 1 and out.counts["headless_spans"] == 1


def test_error_root_gives_error_trace() -> None:
    _, out = _run([whole(1, None, 0, 1, status="error", error={"type": "Boom"})])
    assert out.traces[0].status == "error" and out.counts["traces_error"] == 1


def test_span_cap_drops_and_counts() -> None:
    events = [start(1, None, 0)] + [whole(i, 1, 0, 1) for i in range(2, 8)] + [end(1, None, 2)]
    events.append(whole(7, 1, 0, 1))  # a dropped span's duplicate half: not counted twice
    _, out = _run(events, max_spans_per_trace=3)
    (t,) = out.traces
    assert (t.span_count, t.dropped_span_count) == (3, 5)
    assert out.counts["dropped_spans"] == 5


def test_open_trace_cap_evicts_oldest_as_incomplete() -> None:
    asm = Assembler(Pricer(), max_open_traces=2)
    traces = [f"{n:032x}" for n in (1, 2, 3)]
    for i, tid in enumerate(traces):
        out = asm.apply(start(1, None, 0, trace_id=tid), at(i))
    assert [(t.trace_id, t.status) for t in out.traces] == [(traces[0], "incomplete")]
    assert out.counts["evicted_traces"] == 1 and asm.open_traces == 2


def test_state_round_trips_and_index_rebuilds() -> None:
    asm = Assembler(Pricer(), grace_s=5)
    events = _trace_events()
    for e in events[:-1]:
        asm.apply(e, at(0), redactions=[Redaction(detector="email", field="input")])
    asm.apply(events[-1], at(1))
    raw = {k: v.to_bytes() for k, v in asm.store.items()}
    restored = {k: TraceState.from_bytes(v) for k, v in raw.items()}
    assert restored == dict(asm.store)
    asm2 = Assembler(Pricer(), restored, grace_s=5)  # a restarted worker
    assert asm2.due(at(5.9)).traces == []
    (t,) = asm2.due(at(6)).traces
    (expected,) = asm.due(at(6)).traces
    assert _stable(t) == _stable(expected)


def test_start_redactions_are_carried_into_the_span() -> None:
    asm = Assembler(Pricer())
    asm.apply(start(1, None, 0), at(0), redactions=[Redaction(detector="email", field="input")])
    (span,) = asm.apply(
        end(1, None, 1, redactions=[{"detector": "phone", "field": "output"}]), at(0)
    ).spans
    assert [r.detector for r in span.redactions] == ["email", "phone"]


def test_unknown_model_counted() -> None:
    _, out = _run([whole(1, None, 0, 1, kind="generation", model={"name": "mine"}, usage={})])
    assert out.counts["unpriced_unknown_model"] == 1
    assert out.traces[0].unpriced_generations == 1 and out.traces[0].cost_usd is None


class _CountingStore(dict[str, object]):
    """A dict that counts writes (each one is a changelog record in the worker)."""

    writes = 0

    def __setitem__(self, key: str, value: object) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_emitted_trace_lingers_as_bytes_and_wakes_for_a_late_event() -> None:
    from tracestream.streams._trace_state import DormantTrace

    store = _CountingStore()
    asm = Assembler(Pricer(), store, grace_s=5, idle_timeout_s=60, linger_s=600)  # type: ignore[arg-type]
    asm.apply(start(1, None, 0), at(0))
    asm.apply(start(2, 1, 0.5), at(0))
    asm.apply(end(1, None, 2), at(1))
    full = store[TRACE_ID]
    assert isinstance(full, TraceState)
    expected = full.model_copy(deep=True)
    (first,) = asm.due(at(6)).traces
    dormant = store[TRACE_ID]
    assert isinstance(dormant, DormantTrace)
    # The changelog record of the dormant state is the emitted state's, byte for byte.
    assert dormant.to_bytes() == full.to_bytes()
    woken = dormant.wake()
    assert woken.version == 1 and woken.spans.keys() == expected.spans.keys()
    # Checks while it lingers write nothing (no changelog traffic).
    writes = store.writes
    assert asm.due(at(61)).traces == [] and store.writes == writes
    late = asm.apply(end(2, 1, 1.5), at(70))
    assert isinstance(store[TRACE_ID], TraceState) and late.counts["late_events"] == 1
    (second,) = asm.due(at(75)).traces
    assert (first.version, second.version) == (1, 2)
    assert (second.status, second.span_count) == ("ok", 2)
    assert isinstance(store[TRACE_ID], DormantTrace)
    assert asm.due(at(75 + 600)).traces == [] and TRACE_ID not in store
    assert asm.open_traces == 0


def test_only_an_emitted_state_goes_dormant() -> None:
    from tracestream.streams._trace_state import DormantTrace

    asm = Assembler(Pricer())
    asm.apply(start(1, None, 0), at(0))
    with pytest.raises(ValueError, match="emitted"):
        DormantTrace.of(asm.store[TRACE_ID])  # type: ignore[arg-type]
