"""The batch pipeline without Kafka: bad records go to the DLQ, good ones flow on."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import Pipeline, Stages
from tracestream.streams._redaction import Redactor
from tracestream.streams._validate import SourceRecord, Validator

pytestmark = pytest.mark.unit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SCORE = {
    "event_id": "01936f4e-7c2a-7def-8a4b-0123456789ab",
    "event_type": "score",
    "project": "p",
    "service": "s",
    "trace_id": TRACE,
    "timestamp": "2026-11-24T07:30:00.123456Z",
    "name": "helpful",
    "value": True,
    "comment": "mail me at jane.doe@example.com",
}


def _records(*values: bytes) -> list[SourceRecord]:
    return [
        SourceRecord("t", 0, i, TRACE.encode(), v, (("h", b"1"),)) for i, v in enumerate(values)
    ]


def _pipeline() -> tuple[Pipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    stages = Stages(validator=Validator(max_event_bytes=10_000, max_depth=8), redactor=Redactor())
    return Pipeline(stages, PipelineMetrics(registry)), registry


def test_bad_records_go_to_dlq_and_the_batch_carries_on() -> None:
    pipeline, registry = _pipeline()
    out = pipeline.process(_records(b"nope", orjson.dumps(SCORE), b"[]"), now_ms=1)
    assert [d.reason for d in out.dead_letters] == ["not_json", "not_object"]
    assert [d.source.offset for d in out.dead_letters] == [0, 2]
    assert (
        registry.get_sample_value("tracestream_events_invalid_total", {"reason": "not_json"}) == 1
    )
    assert registry.get_sample_value("tracestream_events_in_total", {"event_type": "invalid"}) == 2
    assert len(out.scores) == 1


def test_scores_are_redacted_and_keyed_by_trace() -> None:
    pipeline, registry = _pipeline()
    out = pipeline.process(_records(orjson.dumps(SCORE)), now_ms=1)
    ((key, value),) = out.scores
    assert key == TRACE.encode()
    assert b"jane.doe@example.com" not in value
    assert registry.get_sample_value("tracestream_redactions_total", {"detector": "email"}) == 1


def _span_event(n: int, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"01936f4e-7c2a-7def-8a4b-{n:012x}",
            "event_type": "span",
            "project": "p",
            "service": "s",
            "trace_id": TRACE,
            "span_id": f"{n + 1:016x}",
            "parent_span_id": None if n == 0 else f"{1:016x}",
            "timestamp": "2026-11-24T09:30:00.500000+02:00",
            "kind": "tool",
            "name": "lookup",
            "start_time": "2026-11-24T09:30:00.100000+02:00",
            "end_time": "2026-11-24T09:30:00.500000+02:00",
            **extra,
        }
    )


def test_trace_state_changelog_bytes_carry_redacted_values_and_restore_equal() -> None:
    from tracestream.streams._assembly import Assembler
    from tracestream.streams._pricing import Pricer
    from tracestream.streams._trace_state import TraceState

    store: dict[str, TraceState] = {}
    stages = Stages(
        validator=Validator(max_event_bytes=10_000, max_depth=8),
        redactor=Redactor(),
        assembler=Assembler(Pricer(), store),
    )
    pipeline = Pipeline(stages, PipelineMetrics(CollectorRegistry()))
    clean = _span_event(0, output="3 hits")
    dirty = _span_event(1, output="write to jane.doe@example.com")
    pipeline.process(_records(clean, dirty), now_ms=1_800_000_000_000)
    state = store[TRACE]
    data = state.to_bytes()
    # The unchanged event is written as it arrived; the redacted one never is.
    assert clean in data
    assert b"jane.doe@example.com" not in data
    assert b"<EMAIL>" in data
    restored = TraceState.from_bytes(data)
    assert restored == state
    # Serializing the restored state (no kept bytes) says the same thing.
    assert TraceState.from_bytes(restored.to_bytes()) == state
    assert restored.spans[f"{1:016x}"].start is not None
    assert restored.spans[f"{1:016x}"].start.start_time.utcoffset().total_seconds() == 0


def test_an_event_assembly_fails_on_goes_to_the_dlq_without_its_partial_output() -> None:
    from datetime import datetime
    from typing import Any

    from tracestream.streams._assembly import Assembler, AssemblyOutput
    from tracestream.streams._pricing import Pricer

    class Failing(Assembler):
        """Fails on the fourth event after it emitted its span record (a bug mid-way)."""

        def apply(self, event: Any, now: datetime, *args: Any, **kwargs: Any) -> AssemblyOutput:
            out = super().apply(event, now, *args, **kwargs)
            if event.span_id == f"{4:016x}":
                raise RuntimeError("assembly bug")
            return out

    registry = CollectorRegistry()
    stages = Stages(
        validator=Validator(max_event_bytes=10_000, max_depth=8),
        redactor=Redactor(),
        assembler=Failing(Pricer()),
    )
    pipeline = Pipeline(stages, PipelineMetrics(registry))
    out = pipeline.process(_records(*(_span_event(n) for n in range(5))), now_ms=1_800_000_000_000)
    assert [d.reason for d in out.dead_letters] == ["processing_error"]
    assert out.dead_letters[0].source.offset == 3
    assert [s.span_id for s in out.spans] == [f"{n + 1:016x}" for n in (0, 1, 2, 4)]
    assert (
        registry.get_sample_value("tracestream_processing_errors_total", {"stage": "assemble"}) == 1
    )
