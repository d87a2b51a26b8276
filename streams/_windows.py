"""Tumbling windows of rolling metrics per (project, service, model, kind, name).

A span counts in the window holding its ``end_time`` (when it completed);
``unfinished`` records have no latency and are skipped. The assembler emits a
finished record for a span exactly once (a re-emitted version only ever turns
``unfinished`` into finished), so feeding every span record it emits counts
each span once. Tokens: ``input_tokens`` here includes cache-write tokens
(both are uncached input); cached and reasoning tokens have their own columns.

Closing is by event-time watermark: ``max end_time seen - allowed_lateness``.
A window closes when its end is at or before the watermark; a span for a
closed window is dropped and counted (``late_spans``). So that the last
windows close when traffic stops, :meth:`WindowAggregator.close_due` also
flushes everything once no span arrived for ``window_s + allowed_lateness_s``
of processing time. Event time, not the clock, drives the rest, so replaying
old data produces the same windows.

State is one :class:`WindowState` per (key, window start) in a store the
caller owns (the worker: a plain changelogged table, since Faust's windowed
tables are not restored after a restart), plus an in-memory index rebuilt
with :meth:`WindowAggregator.rebuild_index`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta

import orjson
from pydantic import BaseModel, ConfigDict, Field

from tracestream.schemas import MetricWindow, SpanKind, SpanRecord, SpanStatus

from ._sketch import SketchBins

__all__ = ["WindowAggregator", "WindowState", "merge", "window_from_state"]


class WindowState(BaseModel):
    """Running totals of one key in one window (JSON-serializable)."""

    model_config = ConfigDict(extra="forbid")

    project: str
    service: str
    model: str
    kind: SpanKind
    name: str
    window_start: datetime
    window_end: datetime
    count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency: SketchBins = Field(default_factory=SketchBins)

    def store_key(self) -> str:
        return _store_key(
            self.window_start, (self.project, self.service, self.model, self.kind, self.name)
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowState:
        return cls.model_validate_json(data)


def _store_key(start: datetime, key: tuple[str, ...]) -> str:
    # JSON, not a separator, because span names may contain any character.
    return orjson.dumps([start.isoformat(), *key]).decode()


def window_from_state(state: WindowState, now: datetime) -> MetricWindow:
    """The closed-window record of ``state`` (quantiles from its sketch)."""
    p50, p95, p99 = state.latency.quantiles(0.50, 0.95, 0.99)
    return MetricWindow(
        project=state.project,
        service=state.service,
        model=state.model,
        kind=state.kind,
        name=state.name,
        window_start=state.window_start,
        window_end=state.window_end,
        count=state.count,
        error_count=state.error_count,
        input_tokens=state.input_tokens,
        output_tokens=state.output_tokens,
        cached_tokens=state.cached_tokens,
        reasoning_tokens=state.reasoning_tokens,
        cost_usd=state.cost_usd,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
        latency_sketch=state.latency.to_base64() if state.latency.n else None,
        emitted_at=now,
    )


def merge(a: MetricWindow, b: MetricWindow) -> MetricWindow:
    """One window from two of the same key and span (e.g. from two partitions).

    Exact: counts and tokens add, the sketches' buckets add, quantiles are
    recomputed from the merged sketch. Raises ValueError on different keys.
    """
    key = ("project", "service", "model", "kind", "name", "window_start", "window_end")
    if any(getattr(a, f) != getattr(b, f) for f in key):
        raise ValueError("windows of different keys or time spans cannot be merged")
    sketch = SketchBins.from_base64(a.latency_sketch) if a.latency_sketch else SketchBins()
    if b.latency_sketch:
        sketch.merge(SketchBins.from_base64(b.latency_sketch))
    p50, p95, p99 = sketch.quantiles(0.50, 0.95, 0.99)
    return a.model_copy(
        update={
            "count": a.count + b.count,
            "error_count": a.error_count + b.error_count,
            "input_tokens": a.input_tokens + b.input_tokens,
            "output_tokens": a.output_tokens + b.output_tokens,
            "cached_tokens": a.cached_tokens + b.cached_tokens,
            "reasoning_tokens": a.reasoning_tokens + b.reasoning_tokens,
            "cost_usd": a.cost_usd + b.cost_usd,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "latency_p99_ms": p99,
            "latency_sketch": sketch.to_base64() if sketch.n else None,
            "emitted_at": max(a.emitted_at, b.emitted_at),
        }
    )


class WindowAggregator:
    """Folds finished spans into tumbling windows and closes them by watermark.

    Args:
        store: store key -> state; the caller persists it. A new dict when omitted.
        window_s: window length in seconds (windows align to the epoch).
        allowed_lateness_s: how far behind the newest end time a span may be.
        max_open_windows: states kept; spans for new (key, window)s beyond it
            are dropped and counted (``window_overflow``).

    One task at a time; no I/O; never reads the clock.
    """

    def __init__(
        self,
        store: MutableMapping[str, WindowState] | None = None,
        *,
        window_s: float = 60.0,
        allowed_lateness_s: float = 10.0,
        max_open_windows: int = 100_000,
    ) -> None:
        self.store: MutableMapping[str, WindowState] = {} if store is None else store
        self._window = timedelta(seconds=window_s)
        self._lateness = timedelta(seconds=allowed_lateness_s)
        self._max_open = max_open_windows
        self._max_event: datetime | None = None
        self._last_start: datetime | None = None
        self._last_arrival: datetime | None = None
        self._by_end: dict[datetime, set[str]] = {}
        # (window start, key) -> store key: the JSON store key is built once per window.
        self._skeys: dict[tuple[datetime, str, str, str, SpanKind, str], str] = {}
        self.counts: Counter[str] = Counter()
        self.rebuild_index()

    def rebuild_index(self) -> None:
        """Recompute the in-memory index (and the watermark floor) from the store."""
        self._by_end = {}
        for k, s in self.store.items():
            self._by_end.setdefault(s.window_end, set()).add(k)
            # A span ended at or after its window's start: a safe watermark floor.
            if self._max_event is None or s.window_start > self._max_event:
                self._max_event = s.window_start

    @property
    def watermark(self) -> datetime | None:
        return None if self._max_event is None else self._max_event - self._lateness

    def add(self, span: SpanRecord, now: datetime) -> bool:
        """Count one span record; False when skipped (unfinished, late, overflow)."""
        if span.status is SpanStatus.UNFINISHED or span.end_time is None:
            return False
        end = span.end_time
        wm = self.watermark
        # Most spans of a batch end in the window the previous one ended in.
        start = self._last_start
        if start is None or not start <= end < start + self._window:
            start = self._last_start = _align(end, self._window)
        if wm is not None and start + self._window <= wm:
            self.counts["late_spans"] += 1
            return False
        self._last_arrival = now
        if self._max_event is None or end > self._max_event:
            self._max_event = end
        model = span.model.name if span.model is not None else ""
        ident = (start, span.project, span.service, model, span.kind, span.name)
        skey = self._skeys.get(ident)
        if skey is None:
            skey = self._skeys[ident] = _store_key(start, ident[1:])
        state = self.store.get(skey)
        if state is None:
            if len(self.store) >= self._max_open:
                self.counts["window_overflow"] += 1
                return False
            state = WindowState(
                project=span.project,
                service=span.service,
                model=model,
                kind=span.kind,
                name=span.name,
                window_start=start,
                window_end=start + self._window,
            )
            self._by_end.setdefault(state.window_end, set()).add(skey)
        # Straight into the field values: pydantic's __setattr__ (no validation on
        # assignment here anyway) cost more than the arithmetic, seven times per span.
        totals = state.__dict__
        totals["count"] += 1
        totals["error_count"] += span.status is SpanStatus.ERROR
        usage = span.usage
        if usage is not None:
            totals["input_tokens"] += usage.input_tokens + usage.cache_write_tokens
            totals["output_tokens"] += usage.output_tokens
            totals["cached_tokens"] += usage.cached_tokens
            totals["reasoning_tokens"] += usage.reasoning_tokens
        if span.cost is not None:
            totals["cost_usd"] += span.cost.total_usd
        state.latency.add(span.duration_ms or 0.0)
        self.store[skey] = state
        return True

    def close_due(self, now: datetime) -> list[MetricWindow]:
        """Close and return every window ending at or before the watermark.

        Everything is flushed when no span arrived for a window plus the
        allowed lateness (processing time), so quiet keys do not hang open.
        """
        if self._last_arrival is None and self._by_end:
            self._last_arrival = now  # restored state: the idle clock starts now
        wm = self.watermark
        idle = (
            self._last_arrival is not None
            and now - self._last_arrival >= self._window + self._lateness
        )
        if idle:
            due = list(self._by_end)
        elif wm is None:
            return []
        else:
            due = [end for end in self._by_end if end <= wm]
        out: list[MetricWindow] = []
        if due:
            self._skeys.clear()  # bounded: rebuilt for the windows still open
        for end in sorted(due):
            for skey in sorted(self._by_end.pop(end)):
                state = self.store.pop(skey, None)
                if state is not None:
                    out.append(window_from_state(state, now))
        return out


def _align(t: datetime, window: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // window) * window
