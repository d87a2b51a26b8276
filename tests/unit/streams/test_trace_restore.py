"""Changelog records restore dormant when the trace was emitted with nothing due, else whole."""

from __future__ import annotations

import orjson
import pydantic
import pytest

from tests.unit.streams._spans import at, start, whole
from tracestream.streams._assembly import Assembler
from tracestream.streams._pricing import Pricer
from tracestream.streams._trace_restore import dormant_trace_from_bytes, stored_trace_from_bytes
from tracestream.streams._trace_state import DormantTrace, TraceState

pytestmark = pytest.mark.unit


def _tid(n: int) -> str:
    return f"{n:032x}"


def _states() -> Assembler:
    """Trace 1 lingering (dormant), 2 open, 3 emitted with a late event due again."""
    asm = Assembler(Pricer(), grace_s=1, linger_s=600)
    asm.apply(whole(1, None, 0, 1, trace_id=_tid(1)), at(0))
    asm.apply(whole(1, None, 0, 1, trace_id=_tid(3)), at(0))
    asm.due(at(1))
    asm.apply(start(1, None, 1, trace_id=_tid(2)), at(1))
    asm.apply(whole(2, 1, 0, 1, trace_id=_tid(3)), at(2))  # late: woken, due at 3
    return asm


def test_a_lingering_trace_restores_as_the_bytes_it_went_dormant_with() -> None:
    asm = _states()
    dormant = asm.store[_tid(1)]
    assert isinstance(dormant, DormantTrace)
    restored = stored_trace_from_bytes(dormant.to_bytes())
    assert restored == dormant
    assert restored.wake() == TraceState.from_bytes(dormant.data)


@pytest.mark.parametrize("tid", [_tid(2), _tid(3)], ids=["open", "emitted-with-late-events-due"])
def test_a_trace_with_work_left_restores_whole(tid: str) -> None:
    state = _states().store[tid]
    assert isinstance(state, TraceState)
    restored = stored_trace_from_bytes(state.to_bytes())
    assert isinstance(restored, TraceState) and restored == state


def test_a_restored_worker_re_emits_as_if_it_had_not_restarted() -> None:
    asm = _states()
    records = {tid: s.to_bytes() for tid, s in asm.store.items()}
    again = Assembler(Pricer(), {t: stored_trace_from_bytes(b) for t, b in records.items()})
    assert isinstance(again.store[_tid(1)], DormantTrace)
    for assembler in (asm, again):
        assembler.apply(whole(9, 1, 0, 1, trace_id=_tid(1)), at(5))  # late: wakes trace 1
    expected = sorted((t.trace_id, t.version, t.span_count) for t in asm.due(at(10)).traces)
    got = sorted((t.trace_id, t.version, t.span_count) for t in again.due(at(10)).traces)
    assert got == expected == [(_tid(1), 2, 2), (_tid(3), 2, 2)]


def test_naive_times_and_broken_records_take_the_validating_path() -> None:
    dormant = _states().store[_tid(1)]
    assert isinstance(dormant, DormantTrace)
    fields = orjson.loads(dormant.data)
    fields["expires_at"] = fields["expires_at"].rstrip("Z")  # naive: msgspec refuses it
    restored = stored_trace_from_bytes(orjson.dumps(fields))
    assert isinstance(restored, TraceState)
    with pytest.raises(pydantic.ValidationError):
        stored_trace_from_bytes(b'{"trace_id": 1}')
    with pytest.raises(pydantic.ValidationError):
        stored_trace_from_bytes(b"not json")


def test_a_dormant_trace_holds_its_record_compressed_and_gives_it_back_whole() -> None:
    asm = Assembler(Pricer(), grace_s=1)
    for n in range(1, 9):  # a trace of eight similar spans, as real ones are
        asm.apply(whole(n, None if n == 1 else 1, 0, 1, input=f"question {n}"), at(0))
    state = asm.store[next(iter(asm.store))]
    assert isinstance(state, TraceState)
    record = state.model_copy(update={"version": 1}).to_bytes()
    asm.due(at(1))
    dormant = asm.store[state.trace_id]
    assert isinstance(dormant, DormantTrace)
    assert dormant.to_bytes() == dormant.data and dormant.size == len(dormant.data)
    assert len(dormant.packed) * 2 < dormant.size
    assert orjson.loads(dormant.data)["spans"] == orjson.loads(record)["spans"]


def test_a_broken_dormant_record_costs_only_its_own_late_events() -> None:
    from prometheus_client import CollectorRegistry

    from tracestream.streams._metrics import PipelineMetrics
    from tracestream.streams._pipeline import Pipeline, Stages
    from tracestream.streams._redaction import Redactor
    from tracestream.streams._validate import SourceRecord, Validator

    dormant = _states().store[_tid(1)]
    assert isinstance(dormant, DormantTrace)
    fields = orjson.loads(dormant.data)
    fields["spans"] = {"x": {"start": {"event_type": "nonsense"}}}  # the header still reads
    restored = stored_trace_from_bytes(orjson.dumps(fields))
    assert isinstance(restored, DormantTrace)
    asm = Assembler(Pricer(), {_tid(1): restored})
    pipeline = Pipeline(
        Stages(Validator(max_event_bytes=1 << 20, max_depth=32), Redactor(), asm),
        PipelineMetrics(CollectorRegistry()),
    )
    late = whole(5, 1, 0, 1, trace_id=_tid(1)).model_dump_json().encode()
    other = whole(1, None, 0, 1, trace_id=_tid(7)).model_dump_json().encode()
    out = pipeline.process(
        [SourceRecord("e", 0, 0, b"k", late), SourceRecord("e", 0, 1, b"k", other)],
        now_ms=1_800_000_000_000,
    )
    assert [d.reason for d in out.dead_letters] == ["processing_error"]
    assert out.dead_letters[0].value == late
    assert [s.trace_id for s in out.spans] == [_tid(7)]


def test_the_header_reads_trace_state_fields_as_trace_state_writes_them() -> None:
    # The header Struct names TraceState fields: the same names, the same defaults
    # (to_bytes leaves a field at its default out), so a rename cannot drift apart.
    from tracestream.streams._trace_restore import _Header

    fields = TraceState.model_fields
    assert set(_Header.__struct_fields__) <= set(fields)
    required = len(_Header.__struct_fields__) - len(_Header.__struct_defaults__)
    for name in _Header.__struct_fields__[:required]:
        assert fields[name].is_required(), name
    for name, default in zip(
        _Header.__struct_fields__[required:], _Header.__struct_defaults__, strict=True
    ):
        assert fields[name].get_default() == default, name


def test_only_a_dormant_record_is_decoded_cheaply() -> None:
    """What a restore holds decoded as it reads: the dormant records; the rest wait whole."""
    asm = _states()
    dormant = asm.store[_tid(1)]
    assert dormant_trace_from_bytes(dormant.to_bytes()) == dormant
    for tid in (_tid(2), _tid(3)):
        assert dormant_trace_from_bytes(asm.store[tid].to_bytes()) is None
    assert dormant_trace_from_bytes(b"not json") is None
