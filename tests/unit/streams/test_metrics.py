"""Worker metrics: names, units and bounded labels."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tracestream.streams._metrics import OTHER, LabelLimiter, PipelineMetrics

pytestmark = pytest.mark.unit


def test_allow_list_maps_the_rest_to_other() -> None:
    limit = LabelLimiter(["gpt-4o"])
    assert limit("gpt-4o") == "gpt-4o"
    assert limit("my-finetune-123") == OTHER
    assert limit(None) == "none"


def test_top_n_keeps_first_values_seen() -> None:
    limit = LabelLimiter(top_n=2)
    assert [limit(v) for v in ["a", "b", "c", "a", "d"]] == ["a", "b", OTHER, "a", OTHER]


def test_every_metric_is_prefixed_and_reasons_are_precreated() -> None:
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    names = [family.name for family in registry.collect()]
    assert names
    assert all(name.startswith("tracestream_") for name in names)
    text = generate_latest(registry).decode()
    assert 'tracestream_events_invalid_total{reason="not_json"} 0.0' in text
    assert 'tracestream_traces_total{status="incomplete"} 0.0' in text


def test_label_cardinality_is_bounded() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry, top_n=3)
    for i in range(100):
        metrics.observe_score(f"svc-{i}", f"model-{i}", "latency_p95_ms", 1.0, anomalous=False)
    series = [
        s for f in registry.collect() if f.name == "tracestream_anomaly_score" for s in f.samples
    ]
    assert len(series) == 4  # three named + "other"


def test_observing_a_batch_of_spans_counts_what_observing_each_counts() -> None:
    from datetime import UTC, datetime

    from benchmarks.core import core_events
    from tracestream.streams._assembly import Assembler
    from tracestream.streams._pipeline import Pipeline, Stages
    from tracestream.streams._pricing import Pricer
    from tracestream.streams._redaction import Redactor
    from tracestream.streams._validate import SourceRecord, Validator

    events = core_events(60)
    stages = Stages(
        Validator(max_event_bytes=1 << 20, max_depth=32), Redactor(), Assembler(Pricer())
    )
    pipeline = Pipeline(stages, PipelineMetrics(CollectorRegistry()))
    out = pipeline.process(
        [SourceRecord("e", 0, i, k, v) for i, (k, v) in enumerate(events)],
        now_ms=int(datetime.now(UTC).timestamp() * 1000),
    )
    assert any(s.cost for s in out.spans) and any(s.usage for s in out.spans)
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    each, batch = PipelineMetrics(one_by_one), PipelineMetrics(batched)
    for span in out.spans:
        each.observe_spans((span,))
    batch.observe_spans(out.spans)

    def samples(
        registry: CollectorRegistry,
    ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): round(s.value, 9)
            for metric in registry.collect()
            for s in metric.samples
            if not s.name.endswith("_created")
        }

    counted = samples(batched)
    assert counted == samples(one_by_one)
    spans = sum(v for (name, _), v in counted.items() if name == "tracestream_spans_total")
    assert spans == len(out.spans)


def test_observing_many_latencies_at_once_gives_prometheus_own_samples() -> None:
    from prometheus_client import Histogram

    from tracestream.streams._batch_histogram import BatchHistogram
    from tracestream.streams._metrics import LATENCY_BUCKETS_S

    # Values on, just under and just over every bound, zero and beyond the last bound.
    amounts = [0.0, 1e9]
    for bound in LATENCY_BUCKETS_S:
        amounts += [bound, bound * 0.999, bound * 1.001]
    registries = CollectorRegistry(), CollectorRegistry()
    one = Histogram("lat", "latency", ["k"], buckets=LATENCY_BUCKETS_S, registry=registries[0])
    many = BatchHistogram(
        "lat", "latency", ["k"], buckets=LATENCY_BUCKETS_S, registry=registries[1]
    )
    for amount in amounts:
        one.labels("a").observe(amount)
    many.labels("a").observe_many(amounts[:5])
    many.labels("a").observe_many(amounts[5:])

    def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
        return {
            (s.name, s.labels.get("le", "")): round(s.value, 9)
            for metric in registry.collect()
            for s in metric.samples
            if not s.name.endswith("_created")
        }

    # Bucket counts exactly; the sum up to float rounding (added in another order).
    assert samples(registries[1]) == pytest.approx(samples(registries[0]), rel=1e-12)
