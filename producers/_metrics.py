"""Prometheus metrics of the SDK, defined once, read at scrape time.

The SDK keeps plain counters (see :meth:`Tracer.stats`); this collector turns
them into ``tracestream_sdk_*`` metric families when Prometheus scrapes, so
the span hot path pays nothing for metrics. prometheus-client is optional:
:func:`register_metrics` returns None when it is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["SdkCollector", "register_metrics"]


class StatsLike(Protocol):
    """What the collector reads (``TracerStats`` has it)."""

    @property
    def sent(self) -> int: ...
    @property
    def buffered(self) -> int: ...
    @property
    def buffered_bytes(self) -> int: ...
    @property
    def sampled_out(self) -> int: ...
    @property
    def dropped_by_reason(self) -> Mapping[str, int]: ...


class SdkCollector:
    """A prometheus-client collector over one tracer's counters.

    Metrics (base units, bounded labels):
        ``tracestream_sdk_events_sent_total``: events the transport delivered.
        ``tracestream_sdk_events_dropped_total{reason}``: events given up on.
        ``tracestream_sdk_events_buffered``: events accepted, not yet delivered.
        ``tracestream_sdk_buffer_bytes``: bytes held in the send buffer.
        ``tracestream_sdk_traces_sampled_out_total``: spans not recorded by sampling.
    """

    def __init__(self, stats: Callable[[], StatsLike], service: str) -> None:
        self._stats = stats
        self._service = service

    def collect(self) -> Iterator[Any]:
        """Called by the registry on each scrape. Never raises."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        try:
            stats = self._stats()
        except Exception:  # noqa: BLE001 - a scrape must not fail because of the SDK
            return
        labels = ["service"]
        sent = CounterMetricFamily(
            "tracestream_sdk_events_sent", "Events the SDK's transport delivered.", labels=labels
        )
        sent.add_metric([self._service], stats.sent)
        dropped = CounterMetricFamily(
            "tracestream_sdk_events_dropped",
            "Events the SDK gave up on, by reason.",
            labels=[*labels, "reason"],
        )
        for reason, count in sorted(stats.dropped_by_reason.items()):
            dropped.add_metric([self._service, reason], count)
        buffered = GaugeMetricFamily(
            "tracestream_sdk_events_buffered", "Events accepted, not yet delivered.", labels=labels
        )
        buffered.add_metric([self._service], stats.buffered)
        size = GaugeMetricFamily(
            "tracestream_sdk_buffer_bytes", "Bytes held in the SDK's send buffer.", labels=labels
        )
        size.add_metric([self._service], stats.buffered_bytes)
        sampled = CounterMetricFamily(
            "tracestream_sdk_spans_sampled_out",
            "Spans not recorded because head sampling left their trace out.",
            labels=labels,
        )
        sampled.add_metric([self._service], stats.sampled_out)
        yield from (sent, dropped, buffered, size, sampled)

    def describe(self) -> list[Any]:
        """No up-front description: the registry calls :meth:`collect` lazily."""
        return []


def register_metrics(
    registry: CollectorRegistry | None, stats: Callable[[], StatsLike], service: str
) -> SdkCollector | None:
    """Register an :class:`SdkCollector` on ``registry`` (the default registry if None).

    Returns:
        The collector (unregister it with ``registry.unregister``), or None when
        prometheus-client is not installed.
    """
    try:
        from prometheus_client import REGISTRY
    except ImportError:
        return None
    collector = SdkCollector(stats, service)
    (registry or REGISTRY).register(collector)
    return collector
