"""The receiver's Prometheus metrics, created once from an injected registry.

Labels are bounded by design: ``status`` is one of the few HTTP codes the
receiver answers, ``outcome`` is ``accepted`` or ``rejected``.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["ReceiverMetrics"]

#: Every status the receiver answers on /v1/*, pre-created so rates start at zero.
STATUSES: Final = ("200", "400", "401", "404", "413", "415", "429", "503")


class ReceiverMetrics:
    """Counters and a latency histogram of the OTLP receiver.

    Args:
        registry: where the metrics live (a fresh ``CollectorRegistry`` in tests).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "tracestream_otlp_requests",
            "OTLP/HTTP export requests, by the status answered (401: ingest key rejected)",
            ["status"],
            registry=registry,
        )
        self.spans = Counter(
            "tracestream_otlp_spans",
            "Spans received: accepted (acknowledged by Kafka) or rejected (to the DLQ)",
            ["outcome"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "tracestream_otlp_request_duration_seconds",
            "Time from a request's arrival to its answer, Kafka's acknowledgement included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        for status in STATUSES:
            self.requests.labels(status)
        for outcome in ("accepted", "rejected"):
            self.spans.labels(outcome)

    def observe(self, status: int, accepted: int, rejected: int, seconds: float) -> None:
        """Count one answered request. Never raises."""
        self.requests.labels(str(status)).inc()
        if accepted:
            self.spans.labels("accepted").inc(accepted)
        if rejected:
            self.spans.labels("rejected").inc(rejected)
        self.request_seconds.observe(seconds)
