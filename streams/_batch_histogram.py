"""A labelled Prometheus histogram that takes a batch of observations at once.

prometheus-client's ``Histogram`` observes one value at a time: a lock and a
Python scan of the bucket bounds per value, a tenth of the worker's metrics work
per span. The worker publishes spans in batches, so this collector counts a
batch's latencies per bucket first and adds each bucket once. It is built on
prometheus-client's public collector API (``Collector``, ``HistogramMetricFamily``)
and exposes the very samples a ``Histogram`` fed the same values exposes (held by
``tests/unit/streams/test_metrics.py``), but for the ``_created`` series.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["BatchHistogram", "BatchHistogramChild"]

# The bound labels Histogram writes ("0.005", "1.0", "+Inf"); untyped upstream.
_le_label: Callable[[float], str] = floatToGoString


class BatchHistogramChild:
    """One label set's bucket counts and sum. Safe to update and scrape from any thread."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * len(bounds)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, amount: float) -> None:
        """Count one value (as ``Histogram.observe``)."""
        self.observe_many((amount,))

    def observe_many(self, amounts: Sequence[float]) -> None:
        """Count every value, one increment per bucket hit. Amounts must not be NaN."""
        bounds = self._bounds
        hits = [0] * len(bounds)
        for amount in amounts:
            # The first bound >= amount, as Histogram.observe picks it; the last is +Inf.
            hits[bisect_left(bounds, amount)] += 1
        total = math.fsum(amounts)
        with self._lock:
            counts = self._counts
            for i, n in enumerate(hits):
                if n:
                    counts[i] += n
            self._sum += total

    def snapshot(self) -> tuple[list[int], float]:
        """The per-bucket (not cumulative) counts and the sum, read together."""
        with self._lock:
            return list(self._counts), self._sum


class BatchHistogram(Collector):
    """A histogram metric whose children take whole batches (see the module docstring)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        buckets: Iterable[float],
        registry: CollectorRegistry,
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = tuple(bounds)
        self._children: dict[tuple[str, ...], BatchHistogramChild] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def labels(self, *values: str) -> BatchHistogramChild:
        """The child for these label values, created on first use."""
        if len(values) != len(self._labelnames):
            raise ValueError(f"{self._name} takes labels {self._labelnames}, got {values!r}")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.setdefault(key, BatchHistogramChild(self._bounds))
        return child

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        with self._lock:
            children = list(self._children.items())
        les = [_le_label(b) for b in self._bounds]
        for key, child in children:
            counts, total = child.snapshot()
            cumulative = 0
            buckets = []
            for le, n in zip(les, counts, strict=True):
                cumulative += n
                buckets.append((le, float(cumulative)))
            family.add_metric(list(key), buckets, total)
        return [family]
