"""The settings reach the stages: price overrides price what the table does not know."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracestream._settings import load_settings
from tracestream._stages import add_stateful_stages, pricer_from_settings, stateless_stages
from tracestream.schemas import ModelInfo, Usage

pytestmark = pytest.mark.unit

OVERRIDE = {
    "name": "acme-contract",
    "project": "acme",
    "model": "acme-llm-*",
    "effective_from": "2026-01-01T00:00:00Z",
    "input_per_mtok": 1.0,
    "output_per_mtok": 4.0,
}


def test_price_overrides_from_settings_price_an_unknown_model() -> None:
    pricer = pricer_from_settings(load_settings(price_overrides=[OVERRIDE]))
    at = datetime(2026, 11, 24, tzinfo=UTC)
    usage = Usage(input_tokens=2_000_000, output_tokens=500_000)
    cost = pricer.price(ModelInfo(name="acme-llm-1"), usage, at, project="acme")
    assert cost is not None
    assert cost.total_usd == pytest.approx(4.0)
    assert cost.price_source == "override:acme-contract"
    assert pricer.price(ModelInfo(name="acme-llm-1"), usage, at, project="other") is None
    assert (
        pricer_from_settings(load_settings()).price(ModelInfo(name="acme-llm-1"), usage, at) is None
    )


def test_stages_take_their_knobs_from_the_settings() -> None:
    settings = load_settings(
        grace_s=2.5, window_s=30, anomaly_threshold=6.0, price_overrides=[OVERRIDE]
    )
    trace_store: dict[str, object] = {}
    stages = stateless_stages(settings)
    add_stateful_stages(
        stages, settings, trace_store=trace_store, window_store={}, baseline_store={}
    )
    assert stages.assembler is not None and stages.scorer is not None
    assert stages.assembler.store is trace_store
    assert stages.scorer.threshold == 6.0
    at = datetime(2026, 11, 24, tzinfo=UTC)
    quote = stages.assembler.pricer.price(
        ModelInfo(name="acme-llm-2"), Usage(input_tokens=1_000_000), at, project="acme"
    )
    assert quote is not None and quote.total_usd == pytest.approx(1.0)


def test_the_memory_budget_reaches_the_assembler() -> None:
    from tests.unit.streams._spans import at as t
    from tests.unit.streams._spans import start
    from tracestream.streams._state_size import OPEN_BYTES_PER_EVENT, OPEN_BYTES_PER_JSON_BYTE

    settings = load_settings(max_trace_state_mb=1)
    stages = stateless_stages(settings)
    add_stateful_stages(stages, settings, trace_store={}, window_store={}, baseline_store={})
    assembler = stages.assembler
    assert assembler is not None
    traces = [f"{n:032x}" for n in range(1, 4)]
    # An event estimated at 0.4 MiB: two traces fit in 1 MiB, the third evicts the first.
    size = (int(0.4 * 2**20) - OPEN_BYTES_PER_EVENT) // OPEN_BYTES_PER_JSON_BYTE
    for n, tid in enumerate(traces):
        assembler.apply(start(1, None, 0, trace_id=tid), t(n), size=size)
    assert set(assembler.store) == set(traces[1:])


def test_redact_enabled_false_leaves_events_as_received() -> None:
    import orjson
    from prometheus_client import CollectorRegistry

    from tracestream.streams import Pipeline, PipelineMetrics, SourceRecord

    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    score = {
        "event_id": "01936f4e-7c2a-7def-8a4b-0123456789ab",
        "event_type": "score",
        "project": "p",
        "service": "s",
        "trace_id": trace,
        "timestamp": "2026-11-24T07:30:00.123456Z",
        "name": "helpful",
        "value": True,
        "comment": "mail me at jane.doe@example.com",
    }
    record = [SourceRecord("t", 0, 0, trace.encode(), orjson.dumps(score), ())]
    outputs = {}
    for enabled in (True, False):
        stages = stateless_stages(load_settings(redact_enabled=enabled))
        assert (stages.redactor is None) is not enabled
        pipeline = Pipeline(stages, PipelineMetrics(CollectorRegistry()))
        ((_, value),) = pipeline.process(record, now_ms=1).scores
        outputs[enabled] = value
    assert b"jane.doe@example.com" in outputs[False]
    assert b"jane.doe@example.com" not in outputs[True]
