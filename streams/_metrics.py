"""Every Prometheus metric of the worker, defined once, on an injected registry.

All names start with ``tracestream_`` and use base units (seconds, USD, tokens).
Label values are bounded by design: reasons, detectors, statuses and span kinds
come from closed sets; models and services pass through a :class:`LabelLimiter`
(an allow-list, or the first ``top_n`` distinct values seen), the rest become
``other``. Tests pass a fresh ``CollectorRegistry``; the worker passes its own.

The worker calls the ``observe_*`` helpers from its event loop; they never block
and never raise on odd values (a negative duration is clamped to zero).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tracestream.schemas import AnomalyRecord, SpanRecord, TraceRecord

from ._batch_histogram import BatchHistogram
from ._validate import DLQ_REASONS

__all__ = ["OTHER", "LabelLimiter", "PipelineMetrics"]

OTHER: Final = "other"

#: Span latency buckets, seconds: 5 ms to 10 minutes (model calls are slow and vary a lot).
LATENCY_BUCKETS_S: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
BATCH_BUCKETS_S: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_TOKEN_KINDS: Final = ("input", "output", "cached", "cache_write", "reasoning")
_TRACE_STATUSES: Final = ("ok", "error", "incomplete", "unfinished")


@dataclass(frozen=True, slots=True)
class _SpanChildren:
    """The labelled metric children one (service, model, kind, status) updates."""

    spans: Any
    duration: Any
    cost: Any
    unpriced: Any
    tokens: tuple[Any, ...]


class LabelLimiter:
    """Maps an unbounded value (a model, a service) onto a bounded label set.

    With an allow-list, listed values pass and everything else is ``other``.
    Without one, the first ``top_n`` distinct values seen keep their name (first
    come, first served: cheap and stable for the life of the process) and later
    ones are ``other``. Thread-safe.
    """

    def __init__(self, allow: Iterable[str] = (), *, top_n: int = 20) -> None:
        self._allow = frozenset(allow)
        self._top_n = top_n
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "none"
        if self._allow:
            return value if value in self._allow else OTHER
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self._top_n:
                self._seen.add(value)
                return value
        return OTHER


class PipelineMetrics:
    """The worker's metrics. Create one per registry; pass it to whoever observes.

    Args:
        registry: where the metrics live (a fresh one per test).
        services: service allow-list; empty means first ``top_n`` seen.
        models: model allow-list; empty means first ``top_n`` seen.
        top_n: how many distinct services/models keep their own label when no allow-list.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        services: Iterable[str] = (),
        models: Iterable[str] = (),
        top_n: int = 20,
    ) -> None:
        self.registry = registry
        self._span_children: dict[tuple[str, str | None, str, str], _SpanChildren] = {}
        self.service_label = LabelLimiter(services, top_n=top_n)
        self.model_label = LabelLimiter(models, top_n=top_n)
        r = registry
        self.events_in = Counter(
            "tracestream_events_in",
            "Records consumed from the events topic, by event type (invalid: not parsed).",
            ["event_type"],
            registry=r,
        )
        self.events_invalid = Counter(
            "tracestream_events_invalid",
            "Records sent to the events DLQ, by reason.",
            ["reason"],
            registry=r,
        )
        for reason in DLQ_REASONS:
            self.events_invalid.labels(reason)
        self.dlq_publish_failures = Counter(
            "tracestream_dlq_publish_failures",
            "Dead letters the worker failed to produce (the batch is retried).",
            registry=r,
        )
        self.publish_failures = Counter(
            "tracestream_publish_failures",
            "Batches whose outputs the broker did not all acknowledge, by error (the whole "
            "batch is sent again; its offsets are committed only after every ack).",
            ["error"],
            registry=r,
        )
        self.redactions = Counter(
            "tracestream_redactions",
            "PII findings redacted, by detector.",
            ["detector"],
            registry=r,
        )
        self.spans = Counter(
            "tracestream_spans",
            "Span records published, by service, model, kind and status.",
            ["service", "model", "kind", "status"],
            registry=r,
        )
        self.span_duration = BatchHistogram(
            "tracestream_span_duration_seconds",
            "Span latency (end - start), by service, model and kind.",
            ["service", "model", "kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.tokens = Counter(
            "tracestream_tokens",
            "Tokens used by generations, by service, model and token kind.",
            ["service", "model", "token_kind"],
            registry=r,
        )
        self.cost = Counter(
            "tracestream_cost_usd",
            "Priced cost of generations in USD, by service and model.",
            ["service", "model"],
            registry=r,
        )
        self.unpriced = Counter(
            "tracestream_unpriced_generations",
            "Generations whose model has no known price (cost left null), by model.",
            ["model"],
            registry=r,
        )
        self.traces = Counter(
            "tracestream_traces",
            "Traces emitted by the assembler, by status (re-emissions included).",
            ["status"],
            registry=r,
        )
        for status in _TRACE_STATUSES:
            self.traces.labels(status)
        self.assembly_caps = Counter(
            "tracestream_assembly_events",
            "Assembly events by kind (duplicate/late/conflicting events, dropped spans, evictions).",
            ["kind"],
            registry=r,
        )
        # Not "open traces": the state of an emitted trace stays held linger_s for
        # late events, and max_open_traces and the memory budget count it too.
        self.traces_held = Gauge(
            "tracestream_assembly_traces_held",
            "Trace states this worker holds: traces still being assembled plus emitted "
            "ones kept for late events (linger_s); what max_open_traces caps.",
            registry=r,
        )
        self.state_bytes = Gauge(
            "tracestream_assembly_state_bytes",
            "Estimated memory of this worker's trace states (the max_trace_state_mb budget).",
            registry=r,
        )
        self.windows_closed = Counter(
            "tracestream_metric_windows",
            "Rolling-metric windows closed and published.",
            registry=r,
        )
        self.anomaly_score = Gauge(
            "tracestream_anomaly_score",
            "Robust z-score of the last closed window, by service, model and metric.",
            ["service", "model", "metric"],
            registry=r,
        )
        self.anomaly_active = Gauge(
            "tracestream_anomaly_active",
            "1 while the last closed window of (service, model, metric) was anomalous, else 0.",
            ["service", "model", "metric"],
            registry=r,
        )
        self.anomalies = Counter(
            "tracestream_anomalies",
            "Anomalous windows detected, by service, model, metric and direction.",
            ["service", "model", "metric", "direction"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "tracestream_consumer_lag_records",
            "Records between the high watermark and the worker's position, by partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.batch_duration = Histogram(
            "tracestream_batch_duration_seconds",
            "Wall time to process one batch of events.",
            buckets=BATCH_BUCKETS_S,
            registry=r,
        )
        self.last_batch_timestamp = Gauge(
            "tracestream_last_batch_timestamp_seconds",
            "Unix time the worker last finished a batch (for the stalled-pipeline alert).",
            registry=r,
        )
        self.processing_errors = Counter(
            "tracestream_processing_errors",
            "Unexpected errors while processing a valid event (the event goes to the DLQ).",
            ["stage"],
            registry=r,
        )

    # -- helpers the adapters call -------------------------------------------------

    def observe_spans(self, spans: Iterable[SpanRecord]) -> None:
        """Count published spans: status, latency, tokens, cost.

        Counts, tokens and costs are summed per label set and added once per
        call: each increment takes the metric's lock, and a span made up to
        eight of them. Latencies are counted into buckets per label set and
        added once per bucket (see :class:`BatchHistogram`).
        """
        sums: dict[int, tuple[_SpanChildren, list[float], list[float]]] = {}
        for span in spans:
            children = self._children(span)
            entry = sums.get(id(children))
            if entry is None:
                entry = sums[id(children)] = (children, [0.0] * 8, [])
            acc = entry[1]
            acc[0] += 1
            if span.duration_ms is not None:
                entry[2].append(max(span.duration_ms, 0) / 1e3)
            usage = span.usage
            if usage is not None:
                acc[1] += usage.input_tokens
                acc[2] += usage.output_tokens
                acc[3] += usage.cached_tokens
                acc[4] += usage.cache_write_tokens
                acc[5] += usage.reasoning_tokens
            if span.cost is not None:
                acc[6] += span.cost.total_usd
            elif span.model is not None and usage is not None:
                acc[7] += 1
        for children, acc, durations in sums.values():
            children.spans.inc(acc[0])
            if durations:
                children.duration.observe_many(durations)
            for child, n in zip(children.tokens, acc[1:6], strict=True):
                if n:
                    child.inc(n)
            if acc[6]:
                children.cost.inc(acc[6])
            if acc[7]:
                children.unpriced.inc(acc[7])

    def _children(self, span: SpanRecord) -> _SpanChildren:
        model_name = span.model.name if span.model else None
        key = (span.service, model_name, str(span.kind), str(span.status))
        children = self._span_children.get(key)
        if children is None:
            # labels() costs more than the increment itself. Keyed by raw values, so
            # bounded by a reset: the children themselves live on in the metrics.
            if len(self._span_children) >= 4096:
                self._span_children.clear()
            service = self.service_label(span.service)
            model = self.model_label(model_name)
            children = self._span_children[key] = _SpanChildren(
                self.spans.labels(service, model, key[2], key[3]),
                self.span_duration.labels(service, model, key[2]),
                self.cost.labels(service, model),
                self.unpriced.labels(model),
                tuple(self.tokens.labels(service, model, k) for k in _TOKEN_KINDS),
            )
        return children

    def observe_trace(self, trace: TraceRecord) -> None:
        """Count one emitted trace by status."""
        self.traces.labels(trace.status).inc()

    def observe_anomaly(self, anomaly: AnomalyRecord) -> None:
        """Count one anomalous window and set its score gauge."""
        service = self.service_label(anomaly.service)
        model = self.model_label(anomaly.model or None)
        self.anomalies.labels(service, model, anomaly.metric, anomaly.direction).inc()
        self.anomaly_score.labels(service, model, anomaly.metric).set(anomaly.score)
        self.anomaly_active.labels(service, model, anomaly.metric).set(1)

    def observe_clear(self, service: str, model: str | None, metric: str) -> None:
        """A closed window of (service, model) was not anomalous in ``metric``: flag 0."""
        self.anomaly_active.labels(
            self.service_label(service), self.model_label(model), metric
        ).set(0)

    def observe_score(
        self, service: str, model: str | None, metric: str, score: float, *, anomalous: bool
    ) -> None:
        """Set the gauges of a closed window that was scored (anomalous or not)."""
        service_l, model_l = self.service_label(service), self.model_label(model)
        self.anomaly_score.labels(service_l, model_l, metric).set(score)
        self.anomaly_active.labels(service_l, model_l, metric).set(1 if anomalous else 0)
