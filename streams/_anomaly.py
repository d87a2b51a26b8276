"""Anomaly scoring of closed windows against a robust baseline of the same key.

For each closed :class:`~tracestream.schemas.MetricWindow`, four metrics are
compared with the previous ``baseline_windows`` windows of the same (project,
service, model, kind, name):

- ``latency_p95_ms`` and ``error_rate`` (ratios: only windows with at least
  ``min_count`` spans are scored or enter the baseline, so one slow request
  in a quiet minute is not an alert);
- ``cost_usd`` and ``token_rate`` (volumes, per minute whatever the window
  length: every window counts).

Score: ``z = (value - median) / scale`` with ``scale = max(1.4826 * MAD,
floor)``. The floor (``max(absolute floor of the metric, rel_floor *
|median|)``, and for ``error_rate`` at least the binomial standard error at the
baseline rate) stops a perfectly flat baseline from turning a tiny change
into an infinite score. No score before ``min_baseline`` windows of history.
An anomaly is ``|z| >= threshold``; ``critical`` from twice the threshold.
Anomalous windows still enter the baseline: a lasting shift becomes the new
normal once it fills half the baseline (the median's breakdown point).

State: one :class:`BaselineState` per key, JSON-serializable, in a store the
caller owns (a changelogged table in the worker). One task at a time; no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, MutableMapping
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from tracestream.schemas import AnomalyRecord, MetricWindow

__all__ = ["DEFAULT_FLOORS", "METRICS", "AnomalyScorer", "BaselineState", "Metric"]

Metric = Literal["latency_p95_ms", "error_rate", "cost_usd", "token_rate"]
METRICS: tuple[Metric, ...] = ("latency_p95_ms", "error_rate", "cost_usd", "token_rate")
_RATIOS = frozenset({"latency_p95_ms", "error_rate"})
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation

#: Smallest scale per metric, in the metric's unit.
DEFAULT_FLOORS: Mapping[Metric, float] = {
    "latency_p95_ms": 1.0,
    "error_rate": 0.01,
    "cost_usd": 1e-6,
    "token_rate": 1.0,
}


class BaselineState(BaseModel):
    """The recent history of one key: newest last, at most ``baseline_windows`` per metric."""

    model_config = ConfigDict(extra="forbid")

    history: dict[str, list[float]] = Field(default_factory=dict)
    last_window_start: datetime | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> BaselineState:
        return cls.model_validate_json(data)


def baseline_key(w: MetricWindow) -> str:
    """The store key of a window's baseline."""
    return orjson.dumps([w.project, w.service, w.model, w.kind, w.name]).decode()


def metric_values(w: MetricWindow, min_count: int) -> dict[Metric, float]:
    """The metrics of one window that may be scored (ratios need ``min_count`` spans)."""
    per_minute = 60.0 / max(1e-9, (w.window_end - w.window_start).total_seconds())
    tokens = w.input_tokens + w.output_tokens + w.cached_tokens + w.reasoning_tokens
    values: dict[Metric, float] = {
        "cost_usd": w.cost_usd * per_minute,
        "token_rate": tokens * per_minute,
    }
    if w.count >= min_count and w.count > 0:
        values["error_rate"] = w.error_count / w.count
        if w.latency_p95_ms is not None:
            values["latency_p95_ms"] = w.latency_p95_ms
    return values


class AnomalyScorer:
    """Scores closed windows; see the module docstring for the rules.

    Args:
        store: baseline key -> state; the caller persists it. A new dict when omitted.
        threshold: |z| at or above which a metric is anomalous.
        baseline_windows: how many previous windows form the baseline.
        min_baseline: windows of history needed before scoring.
        min_count: spans a window needs for its latency and error rate to count.
        rel_floor: the scale is at least this fraction of the baseline median.
        floors: absolute scale floors per metric (see :data:`DEFAULT_FLOORS`).
    """

    def __init__(
        self,
        store: MutableMapping[str, BaselineState] | None = None,
        *,
        threshold: float = 4.0,
        baseline_windows: int = 30,
        min_baseline: int = 10,
        min_count: int = 20,
        rel_floor: float = 0.05,
        floors: Mapping[Metric, float] = DEFAULT_FLOORS,
    ) -> None:
        if not 1 <= min_baseline <= baseline_windows:
            raise ValueError("need 1 <= min_baseline <= baseline_windows")
        self.store: MutableMapping[str, BaselineState] = {} if store is None else store
        self.threshold = threshold
        self._n = baseline_windows
        self._min_baseline = min_baseline
        self._min_count = min_count
        self._rel_floor = rel_floor
        self._floors = {**DEFAULT_FLOORS, **floors}
        self.counts: Counter[str] = Counter()

    def score(self, window: MetricWindow, now: datetime) -> list[AnomalyRecord]:
        """Score ``window`` against its key's baseline, then add it to the baseline.

        Windows must arrive in time order per key; an older (or repeated) one is
        ignored and counted (``out_of_order_windows``), so replays do not skew it.
        """
        key = baseline_key(window)
        state = self.store.get(key) or BaselineState()
        if state.last_window_start is not None and window.window_start <= state.last_window_start:
            self.counts["out_of_order_windows"] += 1
            return []
        out: list[AnomalyRecord] = []
        for metric, value in metric_values(window, self._min_count).items():
            past = state.history.setdefault(metric, [])
            if len(past) >= self._min_baseline:
                record = self._judge(window, metric, value, past, now)
                if record is not None:
                    out.append(record)
            past.append(value)
            del past[: -self._n]
        state.last_window_start = window.window_start
        self.store[key] = state
        self.counts["windows_scored"] += 1
        self.counts["anomalies"] += len(out)
        return out

    def _judge(
        self, w: MetricWindow, metric: Metric, value: float, past: list[float], now: datetime
    ) -> AnomalyRecord | None:
        median = statistics.median(past)
        mad = statistics.median(abs(x - median) for x in past)
        floor = max(self._floors[metric], self._rel_floor * abs(median))
        if metric == "error_rate" and w.count > 0:
            p = min(max(median, 1.0 / w.count), 1.0)
            floor = max(floor, math.sqrt(p * (1 - p) / w.count))
        scale = max(_MAD_TO_SIGMA * mad, floor)
        z = (value - median) / scale
        if abs(z) < self.threshold:
            return None
        return AnomalyRecord(
            project=w.project,
            service=w.service,
            model=w.model,
            kind=w.kind,
            name=w.name,
            metric=metric,
            window_start=w.window_start,
            window_end=w.window_end,
            value=value,
            baseline=median,
            scale=scale,
            score=z,
            threshold=self.threshold,
            direction="high" if z > 0 else "low",
            severity="critical" if abs(z) >= 2 * self.threshold else "warning",
            detected_at=now,
        )
