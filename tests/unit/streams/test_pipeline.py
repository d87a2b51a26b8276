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
