"""Trace assembly: span events in, SpanRecords and versioned TraceRecords out.

:class:`Assembler` keeps one :class:`~tracestream.streams._trace_state.TraceState`
per trace in a store the caller owns (a ``dict`` in tests, a changelogged Faust
table in the worker: write-back happens on every change, ``store[trace_id] =
state``), plus a small in-memory index (due times, open-trace order) that
:meth:`Assembler.rebuild_index` recomputes from the store after a restart.

Lifecycle of a trace (all times are the ``now`` the caller passes in):

1. Events are applied in any order. A span's record is emitted as soon as both
   halves are known. Duplicate events (same ``event_id``) count once; a second,
   different half for a span that already has it is ignored and counted.
2. When every root (span without parent) has ended, the trace is due after
   ``grace_s``; with no event for ``idle_timeout_s`` it is due as
   ``incomplete``. At emission, spans still open are emitted ``unfinished``.
3. The state then lingers ``linger_s`` for late events, held in the store as
   its changelog bytes (:class:`~tracestream.streams._trace_state.DormantTrace`,
   woken by the next event): each burst of them re-emits the trace
   ``grace_s`` later with ``version + 1`` (and the span with a new version
   when an ``unfinished`` span ends), so the sink's
   ReplacingMergeTree keeps the newest. After the linger the state is dropped;
   a later event starts a new partial trace (its version would restart at 1,
   which is why the linger should exceed the lateness producers show).

Bounds: spans beyond ``max_spans_per_trace`` are dropped and counted (per
trace and globally); opening a trace beyond ``max_open_traces`` evicts the
oldest (by first sight), emitting it at once (``incomplete`` unless its roots
ended). ``max_state_bytes`` bounds the states' estimated memory (see
``_state_size.py``: the count caps alone allow gigabytes, since an event may be
up to a megabyte): past it the oldest states are evicted the same way, which
mostly drops lingering traces (they are the oldest) before it cuts an open one
short. Every bite is counted in :attr:`AssemblyOutput.counts`.

Who may call it: one task at a time. Never blocks, never does I/O, never reads
the clock.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracestream.schemas import (
    Redaction,
    SpanEndEvent,
    SpanEvent,
    SpanRecord,
    SpanStartEvent,
    TraceRecord,
    construct,
)

from ._pricing import Pricer
from ._state_size import dormant_bytes, open_event_bytes, reopened_bytes
from ._trace_state import (
    DormantTrace,
    SpanState,
    StoredTrace,
    TraceState,
    build_span,
    build_trace,
)

__all__ = ["Assembler", "AssemblyOutput", "SpanEventLike"]

SpanEventLike = SpanStartEvent | SpanEndEvent | SpanEvent


@dataclass(slots=True)
class AssemblyOutput:
    """Records to publish, and what happened, as counter increments.

    ``counts`` keys: ``duplicate_events``, ``conflicting_events``,
    ``late_events``, ``dropped_spans``, ``evicted_traces`` (emitted early by a
    cap), ``evicted_lingering`` (already emitted, dropped early),
    ``evicted_for_memory`` (either of those, by the byte budget), ``headless_spans``
    (ended, never started), ``unpriced_<reason>`` (see ``MissReason``),
    ``traces_<status>``.
    """

    spans: list[SpanRecord] = field(default_factory=list)
    traces: list[TraceRecord] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def extend(self, other: AssemblyOutput) -> None:
        self.spans += other.spans
        self.traces += other.traces
        self.counts.update(other.counts)


class Assembler:
    """Assembles traces from span events. See the module docstring for the rules.

    Args:
        pricer: prices generation spans when their records are built.
        store: trace_id -> state; the caller persists it. A new dict when omitted.
        grace_s: wait after the roots ended, for stragglers.
        idle_timeout_s: no event this long: emit as ``incomplete``.
        max_spans_per_trace: spans kept per trace; more are dropped and counted.
        max_open_traces: states kept; opening one more evicts the oldest.
        linger_s: how long an emitted trace's state is kept for late events.
        max_state_bytes: estimated memory of all states; past it the oldest are
            evicted. None: no byte budget.
    """

    def __init__(
        self,
        pricer: Pricer,
        store: MutableMapping[str, StoredTrace] | None = None,
        *,
        grace_s: float = 5.0,
        idle_timeout_s: float = 300.0,
        max_spans_per_trace: int = 1000,
        max_open_traces: int = 100_000,
        linger_s: float = 600.0,
        max_state_bytes: int | None = None,
    ) -> None:
        self.pricer = pricer
        self.store: MutableMapping[str, StoredTrace] = {} if store is None else store
        self._grace = timedelta(seconds=grace_s)
        self._idle = timedelta(seconds=idle_timeout_s)
        self._linger = timedelta(seconds=linger_s)
        self._max_spans = max_spans_per_trace
        self._max_open = max_open_traces
        self._max_bytes = max_state_bytes
        self._heap: list[tuple[datetime, str]] = []
        self._next: dict[str, datetime] = {}  # earliest scheduled check per trace
        self._order: dict[str, None] = {}  # insertion order = first sight: eviction order
        # The record last emitted per (trace, span) of traces not yet emitted: the
        # trace's aggregates reuse it instead of building and pricing every span
        # again. Derived data only (a restart starts empty and rebuilds), so it is
        # not part of the state; dropped when the trace is emitted (bounded memory).
        self._records: dict[str, dict[str, SpanRecord]] = {}
        # Estimated memory per held state and their sum (see _state_size.py).
        self._bytes: dict[str, int] = {}
        self._total_bytes = 0
        self.rebuild_index()

    @property
    def open_traces(self) -> int:
        """States held (open, or lingering after emission)."""
        return len(self._order)

    @property
    def state_bytes(self) -> int:
        """Estimated memory of the states held (see ``_state_size.py``)."""
        return self._total_bytes

    def rebuild_index(self) -> None:
        """Recompute the in-memory index from the store (call after a restore)."""
        states = sorted(self.store.values(), key=lambda s: (s.first_seen, s.trace_id))
        self._order = dict.fromkeys(s.trace_id for s in states)
        self._records = {}
        self._bytes = {s.trace_id: _held_bytes(s) for s in states}
        self._total_bytes = sum(self._bytes.values())
        self._next = {s.trace_id: self._next_check(s) for s in states}
        self._heap = [(t, tid) for tid, t in self._next.items()]
        heapq.heapify(self._heap)

    def apply(
        self,
        event: SpanEventLike,
        now: datetime,
        redactions: Sequence[Redaction] = (),
        wire: bytes | None = None,
        out: AssemblyOutput | None = None,
        size: int | None = None,
    ) -> AssemblyOutput:
        """Fold one span event in. ``redactions``: what the redactor found in a start event.

        ``wire``: the JSON bytes ``event`` was validated from, only when nothing
        changed it since (never after a redaction); the state's changelog
        record reuses them. ``out``: where to add the records and counts (a
        batch's shared output; a new one when omitted); returned. ``size``: the
        event's JSON length as received, for the byte budget (default: ``wire``'s
        length, else 1 KiB).
        """
        if out is None:
            out = AssemblyOutput()
        tid = event.trace_id
        state = self.store.get(tid)
        woken_from = None
        if isinstance(state, DormantTrace):
            woken_from = state.size
            state = state.wake()  # a late event: rare, so waking may be slow
        if state is None:
            while len(self._order) >= self._max_open:
                self._evict_oldest(now, out)
            # Values from a validated event: no second validation (a fifth of assembly).
            state = construct(
                TraceState,
                trace_id=tid,
                project=event.project,
                environment=event.environment,
                first_seen=now,
                last_seen=now,
            )
            self._order[tid] = None
        elif event.event_id in state.seen_event_ids:
            out.counts["duplicate_events"] += 1
            return out  # a woken state is not kept: the store still holds it dormant
        if woken_from is not None:
            self._set_bytes(tid, reopened_bytes(woken_from, _events_held(state)))
        state.last_seen = now
        if event.trace is not None:
            state.trace = event.trace
        if len(state.seen_event_ids) < 4 * self._max_spans:
            state.seen_event_ids.add(event.event_id)
        span = state.spans.get(event.span_id)
        if span is None:
            if len(state.spans) >= self._max_spans:
                if event.span_id not in state.dropped_span_ids:
                    state.dropped_span_count += 1
                    out.counts["dropped_spans"] += 1
                    if len(state.dropped_span_ids) < self._max_spans:
                        state.dropped_span_ids.add(event.span_id)
                self._save(state)
                return out
            span = state.spans[event.span_id] = construct(SpanState)
        if not _merge(span, event, redactions, wire):
            out.counts["conflicting_events"] += 1
        else:
            if size is None:
                size = len(wire) if wire is not None else 1024
            self._set_bytes(tid, self._bytes.get(tid, 0) + open_event_bytes(size))
            if span.start is not None and span.ended:
                if span.emitted_version == 0 or span.emitted_unfinished:
                    self._emit_span(state, event.span_id, now, out)
                if not state.root_ended_at and state.roots_ended():
                    state.root_ended_at = now
                    state.timed_out = False
                    state.emit_at = state.emit_at or now + self._grace
        if state.version > 0:
            out.counts["late_events"] += 1
            state.emit_at = state.emit_at or now + self._grace
        self._save(state)
        if self._max_bytes is not None and self._total_bytes > self._max_bytes:
            self._shed(tid, now, out)
        return out

    def due(self, now: datetime) -> AssemblyOutput:
        """Emit every trace due at ``now`` and drop states whose linger has passed."""
        out = AssemblyOutput()
        heap = self._heap
        while heap and heap[0][0] <= now:
            t, tid = heapq.heappop(heap)
            if self._next.get(tid) != t:
                continue  # superseded by an earlier check
            state = self.store.get(tid)
            if state is None:
                self._forget(tid)
                continue
            self._advance(state, now, out)
        if len(heap) > 2 * len(self._next) + 1024:
            self._heap = [(t, tid) for tid, t in self._next.items()]
            heapq.heapify(self._heap)
        return out

    def _advance(self, state: StoredTrace, now: datetime, out: AssemblyOutput) -> None:
        if isinstance(state, TraceState):
            if state.emit_at is not None and state.emit_at <= now:
                self._emit_trace(state, now, out)
            elif state.version == 0 and state.last_seen + self._idle <= now:
                state.timed_out = not state.roots_ended()
                self._emit_trace(state, now, out)
        if state.version > 0 and state.expires_at is not None and state.expires_at <= now:
            del self.store[state.trace_id]
            self._forget(state.trace_id)
        elif isinstance(state, DormantTrace):
            self._schedule(state, reschedule=True)  # unchanged: no store write, no changelog
        elif state.version > 0 and state.emit_at is None:
            dormant = DormantTrace.of(state)
            self._set_bytes(state.trace_id, dormant_bytes(len(dormant.packed)))
            self._save(dormant, reschedule=True)
        else:
            self._save(state, reschedule=True)

    def _evict_oldest(self, now: datetime, out: AssemblyOutput) -> None:
        self._evict(next(iter(self._order)), now, out)

    def _shed(self, keep: str, now: datetime, out: AssemblyOutput) -> None:
        """Evict the oldest states, except ``keep`` (the trace an event just went into),
        until the estimate is within the byte budget."""
        assert self._max_bytes is not None
        order = self._order
        while self._total_bytes > self._max_bytes and len(order) > 1:
            oldest = iter(order)
            tid = next(oldest)
            if tid == keep:
                tid = next(oldest)
            self._evict(tid, now, out)
            out.counts["evicted_for_memory"] += 1

    def _evict(self, tid: str, now: datetime, out: AssemblyOutput) -> None:
        state = self.store.get(tid)
        if isinstance(state, TraceState) and (state.version == 0 or state.emit_at is not None):
            state.timed_out = not state.roots_ended()
            self._emit_trace(state, now, out)
            out.counts["evicted_traces"] += 1
        else:
            out.counts["evicted_lingering"] += 1
        self.store.pop(tid, None)
        self._forget(tid)

    def _emit_span(
        self, state: TraceState, span_id: str, now: datetime, out: AssemblyOutput
    ) -> None:
        span = state.spans[span_id]
        built = build_span(state, span_id, self.pricer, now, span.emitted_version + 1)
        if built is None:
            return
        record, miss = built
        span.emitted_version = record.version
        span.emitted_unfinished = not span.ended
        self._records.setdefault(state.trace_id, {})[span_id] = record
        if miss is not None:
            out.counts[f"unpriced_{miss}"] += 1
        out.spans.append(record)

    def _emit_trace(self, state: TraceState, now: datetime, out: AssemblyOutput) -> None:
        records: dict[str, SpanRecord] = {}
        for sid, span in state.spans.items():
            if span.start is None:
                out.counts["headless_spans"] += 1
                continue
            if span.emitted_version == 0:
                self._emit_span(state, sid, now, out)
            cached = self._records.get(state.trace_id, {}).get(sid)
            # Every change to a span re-emits it (refreshing the cache) once emitted.
            if cached is not None and cached.version == span.emitted_version:
                records[sid] = cached
                continue
            built = build_span(state, sid, self.pricer, now)
            if built is not None:
                records[sid] = built[0]
        state.version += 1
        record = build_trace(state, records, now, state.version)
        # Lingering traces are many and rarely touched again: keep no records for them.
        self._records.pop(state.trace_id, None)
        out.traces.append(record)
        out.counts[f"traces_{record.status}"] += 1
        state.emit_at = None
        state.expires_at = now + self._linger

    def _next_check(self, state: StoredTrace) -> datetime:
        # The earlier of the emission time and the idle deadline (open) or the
        # linger's end (emitted); called on every event, so no list and min().
        emit_at = state.emit_at
        if state.version == 0:
            other = state.last_seen + self._idle
        elif state.expires_at is not None:
            other = state.expires_at
        elif emit_at is not None:
            return emit_at
        else:
            return state.last_seen + self._idle
        return other if emit_at is None or other < emit_at else emit_at

    def _save(self, state: StoredTrace, *, reschedule: bool = False) -> None:
        self.store[state.trace_id] = state
        self._schedule(state, reschedule=reschedule)

    def _schedule(self, state: StoredTrace, *, reschedule: bool) -> None:
        nxt = self._next_check(state)
        current = self._next.get(state.trace_id)
        # Idle deadlines only move later: leave the earlier check in the heap
        # and re-schedule lazily when it pops (one heap push per check, not per event).
        if reschedule or current is None or nxt < current:
            self._next[state.trace_id] = nxt
            heapq.heappush(self._heap, (nxt, state.trace_id))

    def _set_bytes(self, tid: str, held: int) -> None:
        self._total_bytes += held - self._bytes.get(tid, 0)
        self._bytes[tid] = held

    def _forget(self, tid: str) -> None:
        self._total_bytes -= self._bytes.pop(tid, 0)
        self._records.pop(tid, None)
        self._next.pop(tid, None)
        self._order.pop(tid, None)


def _events_held(state: TraceState) -> int:
    return sum((s.start is not None) + (s.end is not None) for s in state.spans.values())


def _held_bytes(state: StoredTrace) -> int:
    """The estimate for a state found in the store (after a restore)."""
    if isinstance(state, DormantTrace):
        return dormant_bytes(len(state.packed))
    return reopened_bytes(len(state.to_bytes()), _events_held(state))


def _merge(
    span: SpanState, event: SpanEventLike, redactions: Sequence[Redaction], wire: bytes | None
) -> bool:
    """Put ``event`` into its slot; False when the slot is taken (a conflicting event)."""
    if isinstance(event, SpanStartEvent):
        if span.start is not None:
            return False
        span.set_start(event, wire)
        span.redactions = tuple(redactions)
    elif isinstance(event, SpanEndEvent):
        if span.end is not None or isinstance(span.start, SpanEvent):
            return False
        span.set_end(event, wire)
    else:
        if span.start is not None or span.end is not None:
            return False
        span.set_start(event, wire)
    return True
