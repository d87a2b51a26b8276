"""The state of one open trace, and how it becomes a TraceRecord and SpanRecords.

:class:`TraceState` is what the worker keeps per ``trace_id`` in a changelogged
table: a pydantic model that round-trips through :meth:`TraceState.to_bytes` /
:meth:`TraceState.from_bytes` exactly. It holds the events themselves (start
and end halves per span), so a record can be rebuilt at any time — after a
restart, or when a late event forces a re-emission with a higher version.

Record-building rules (the contract the sinks rely on):

- Status: ``incomplete`` when the trace was closed by the idle timeout or the
  open-trace cap before its root ended; else ``error`` when a root span ended
  in error; else ``unfinished`` when some span started and never ended; else
  ``ok``.
- Roots are spans without a parent. Orphans (parent never arrived) and spans
  caught in a parent cycle are counted in ``orphan_span_count`` and hung at
  depth 1, right under the roots (depth 0 when there is no root at all), keeping
  their real ``parent_span_id`` so a UI can show the dangling link. ``depth`` is
  the number of levels (a lone root is 1).
- A ``span.end`` whose ``span.start`` never came cannot become a record (no
  kind, name or start): it is kept and counted, and used if the start arrives.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

import cramjam
import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from tracestream.schemas import (
    Cost,
    Redaction,
    SpanEndEvent,
    SpanEvent,
    SpanKind,
    SpanRecord,
    SpanStartEvent,
    SpanStatus,
    TimelineEntry,
    TraceInfo,
    TraceRecord,
    TraceStatus,
    Usage,
    construct,
    construct_from,
    exact,
)

from ._json import model_json, non_defaults, state_json
from ._pricing import MissReason, Pricer

__all__ = [
    "BUILT_FIELDS",
    "NOT_CARRIED",
    "DormantTrace",
    "SpanState",
    "StoredTrace",
    "TraceState",
    "build_span",
    "build_trace",
]


class SpanState(BaseModel):
    """The halves of one span seen so far, and what was last emitted for it."""

    model_config = ConfigDict(extra="forbid")

    start: SpanStartEvent | SpanEvent | None = Field(None, discriminator="event_type")
    end: SpanEndEvent | None = None
    redactions: tuple[Redaction, ...] = ()
    #: Version of the last SpanRecord emitted for it; 0: none yet.
    emitted_version: int = 0
    #: The last emitted record said ``unfinished``: its end, when it comes, is a new version.
    emitted_unfinished: bool = False
    # The JSON of the start/end event: the bytes it arrived as when the worker
    # kept it unchanged (validated, nothing redacted), else its serialization
    # from the first changelog write. Serializing the events again on every
    # write was most of a state write. Not state: a restored span starts without.
    _start_json: bytes | None = PrivateAttr(None)
    _end_json: bytes | None = PrivateAttr(None)
    # The redactions' JSON and the tuple it was written from (compared by
    # identity: a span's redactions are set once): a third of a span's write.
    _redactions_json: tuple[tuple[Redaction, ...], bytes] | None = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        # The kept bytes are a cache: equal states are equal with or without them.
        if not isinstance(other, SpanState):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    def _kept(self) -> dict[str, Any]:
        # The private dict itself: pydantic's attribute access for private names
        # costs more than serializing the rest of the span.
        kept: dict[str, Any] | None = self.__pydantic_private__
        if kept is None:
            kept = {}
            object.__setattr__(self, "__pydantic_private__", kept)
        return kept

    def set_start(self, event: SpanStartEvent | SpanEvent, wire: bytes | None) -> None:
        """Fill the start slot; ``wire``: the JSON ``event`` was parsed from, if unchanged."""
        self.start = event
        self._kept()["_start_json"] = wire

    def set_end(self, event: SpanEndEvent, wire: bytes | None) -> None:
        """Fill the end slot; ``wire`` as in :meth:`set_start`."""
        self.end = event
        self._kept()["_end_json"] = wire

    def to_json(self) -> bytes:
        """The JSON of this span's state: the events' own bytes where kept, else serialized."""
        parts: list[bytes] = []
        self._json_parts(parts)
        return b"".join(parts)

    def _json_parts(self, parts: list[bytes]) -> None:
        # Appends the JSON in pieces for the caller to join once: the events'
        # bytes are most of a state, and joining per span and again per trace
        # copied them twice. Outside the events it is what pydantic writes with
        # exclude_defaults, written field by field: a loop over the fields (as
        # TraceState.to_bytes does) made a state write 50% dearer (callgrind), and
        # this runs per span per write. A field added to SpanState fails the
        # unpacking below at once, and a test fills every field and holds the
        # bytes equal to pydantic's.
        start, end, redactions, emitted_version, emitted_unfinished = self.__dict__.values()
        kept = self._kept()
        first = len(parts)
        # An event serialized here is kept too (the halves only change through
        # set_start/set_end).
        if start is not None:
            data = kept.get("_start_json")
            if data is None:
                data = kept["_start_json"] = model_json(start)
            parts += (b',"start":', data)
        if end is not None:
            data = kept.get("_end_json")
            if data is None:
                data = kept["_end_json"] = model_json(end)
            parts += (b',"end":', data)
        if redactions:
            # Kept with the tuple they were written from (compared by identity: a
            # span's redactions are set once): a third of a span's write. An
            # exact-size copy, not orjson's worst-case buffer (see exact).
            written = kept.get("_redactions_json")
            if written is None or written[0] is not redactions:
                written = kept["_redactions_json"] = (redactions, exact(state_json(redactions)))
            parts += (b',"redactions":', written[1])
        if emitted_version != 0:
            parts += (b',"emitted_version":', str(emitted_version).encode())
        if emitted_unfinished:
            parts.append(b',"emitted_unfinished":true')
        if len(parts) == first:
            parts.append(b"{}")
        else:
            parts[first] = b"{" + parts[first][1:]  # a key, never an event's bytes
            parts.append(b"}")

    @property
    def parent(self) -> str | None:
        half = self.start or self.end
        return half.parent_span_id if half is not None else None

    @property
    def ended(self) -> bool:
        return self.end is not None or isinstance(self.start, SpanEvent)


class TraceState(BaseModel):
    """Everything known about one trace. Times are processing times (``now``) in UTC."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str
    project: str
    environment: str
    trace: TraceInfo | None = None
    spans: dict[str, SpanState] = Field(default_factory=dict)
    seen_event_ids: set[str] = Field(default_factory=set)
    dropped_span_ids: set[str] = Field(default_factory=set)
    dropped_span_count: int = 0
    first_seen: datetime
    last_seen: datetime
    root_ended_at: datetime | None = None
    #: When it should next be emitted (root end + grace, or late events + grace); None: not yet.
    emit_at: datetime | None = None
    #: Closed by the idle timeout or the open-trace cap before its root ended.
    timed_out: bool = False
    version: int = 0
    #: After emission the state lingers this long for late events, then is dropped.
    expires_at: datetime | None = None

    def to_bytes(self) -> bytes:
        """Serialize for a changelogged table (UTF-8 JSON).

        What pydantic writes with ``exclude_defaults`` (a test holds the two equal
        as JSON), from the fields as they are: pydantic's serializer took a third
        of a state write for the dozen small fields. The spans come last, in one
        join with the events' kept bytes.
        """
        fields = non_defaults(self)
        fields.pop("spans", None)
        head = state_json(fields)
        if not self.spans:
            return head
        # head is a non-empty object (trace_id is required): splice the spans in
        # last, in one join (the events' bytes are most of it: copy them once).
        parts = [head[:-1], b',"spans":{']
        for sid, span in self.spans.items():
            parts += (orjson.dumps(sid), b":")
            span._json_parts(parts)
            parts.append(b",")
        parts[-1] = b"}}"
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> TraceState:
        """Inverse of :meth:`to_bytes`."""
        return cls.model_validate_json(data)

    def roots_ended(self) -> bool:
        """True when there is a root (a span without parent, by either half) and all roots ended."""
        # One pass that stops at the first open root: the root is usually the
        # first span and, split into halves, ends last, so this is called for
        # most events while it is still open.
        found = False
        for span in self.spans.values():
            if span.parent is None:
                if not span.ended:
                    return False
                found = True
        return found


#: Shared (it is frozen): building one per record cost more than the record.
_NO_TRACE_INFO = TraceInfo()
#: A trace's records in timeline order.
_BY_START = attrgetter("start_time", "span_id")
#: SpanRecord fields that build_span makes: merged from both halves, derived, or the
#: emission's own. Every other field of the record is the span event's field of the
#: same name, taken as it is from the start half (``_FROM_START``) or the end half
#: (``_FROM_END``): read off the models, so a field added to an event model and to
#: SpanRecord flows through (a test holds that every event field is carried).
BUILT_FIELDS = frozenset(
    {"trace", "status", "duration_ms", "cost", "attributes", "redactions"}
    | {"event_ids", "version", "processed_at"}
)
#: Span event fields no record carries: the envelope's own (``event_ids`` holds the ids).
NOT_CARRIED = frozenset({"schema_version", "event_id", "event_type", "timestamp"})
_FROM_START = tuple(
    n for n in SpanRecord.model_fields if n in SpanStartEvent.model_fields and n not in BUILT_FIELDS
)
_FROM_END = tuple(
    n
    for n in SpanRecord.model_fields
    if n in SpanEndEvent.model_fields
    and n not in SpanStartEvent.model_fields
    and n not in BUILT_FIELDS
)
# One C call for the values of many fields.
_start_values = itemgetter(*_FROM_START)
_end_values = itemgetter(*_FROM_END)
#: Every SpanRecord field with its default (required ones are all built or carried).
_RECORD_DEFAULTS = {
    name: info.get_default(call_default_factory=True)
    for name, info in SpanRecord.model_fields.items()
}


@dataclass(slots=True)
class DormantTrace:
    """An emitted trace waiting out its linger, held as its changelog bytes, compressed.

    Most states a worker holds are emitted traces kept only in case a late
    event comes (the linger is minutes; a trace is open for seconds). As
    object graphs they were most of the heap and most of the garbage
    collector's work; as bytes they are one untracked object each. A late
    event wakes the state (:meth:`wake`); the changelog gets the same bytes.

    The bytes are held LZ4-compressed: lingering traces are most of a busy
    worker's memory (up to ``max_open_traces`` of them), and their JSON shrinks
    3.2x (the bench's traces: 6.7 KB to 2.1 KB, 8.6 µs to compress, 4.5 µs to
    expand, once per trace and once per changelog write). The changelog record
    stays the plain JSON.
    """

    trace_id: str
    first_seen: datetime
    last_seen: datetime
    version: int
    expires_at: datetime | None
    #: The changelog record, LZ4 block-compressed (with its size).
    packed: bytes
    #: The changelog record's size.
    size: int
    #: Always None: only a state with nothing left to emit goes dormant.
    emit_at: None = None

    @classmethod
    def of(cls, state: TraceState) -> DormantTrace:
        """The dormant form of ``state`` (which must have been emitted and be due nowhere)."""
        if state.emit_at is not None or state.version == 0:
            raise ValueError("only an emitted trace with nothing due can go dormant")
        return cls.holding(
            state.trace_id,
            state.first_seen,
            state.last_seen,
            state.version,
            state.expires_at,
            state.to_bytes(),
        )

    @classmethod
    def holding(
        cls,
        trace_id: str,
        first_seen: datetime,
        last_seen: datetime,
        version: int,
        expires_at: datetime | None,
        data: bytes,
    ) -> DormantTrace:
        """A dormant trace of the changelog record ``data`` (whose header fields are given)."""
        packed = bytes(cramjam.lz4.compress_block(data))
        return cls(trace_id, first_seen, last_seen, version, expires_at, packed, len(data))

    @property
    def data(self) -> bytes:
        """The changelog record (expanded on every call)."""
        return bytes(cramjam.lz4.decompress_block(self.packed))

    def wake(self) -> TraceState:
        """The full state again."""
        return TraceState.from_bytes(self.data)

    def to_bytes(self) -> bytes:
        """The changelog record (the bytes the state went dormant with)."""
        return self.data


#: What a trace store holds per trace id.
StoredTrace = TraceState | DormantTrace


def build_span(
    state: TraceState, span_id: str, pricer: Pricer, now: datetime, version: int = 1
) -> tuple[SpanRecord, MissReason | None] | None:
    """The record of one span (None while its start is missing) and why it has no cost.

    Generations are priced here, at their start time, for the trace's project.
    """
    s = state.spans[span_id]
    start = s.start
    if start is None:
        return None
    end: SpanEndEvent | SpanEvent | None = start if isinstance(start, SpanEvent) else s.end
    status = end.status if end is not None else SpanStatus.UNFINISHED
    duration = None
    if end is not None:
        # Split events come from different clocks; a negative duration is clamped, not rejected.
        duration = max(0.0, (end.end_time - start.start_time).total_seconds() * 1000)
    cost, miss = None, None
    if start.kind is SpanKind.GENERATION and end is not None:
        cost, miss = pricer.quote(start.model, end.usage, start.start_time, project=state.project)
    attributes = dict(start.attributes)
    # Start events cannot carry redactions (the worker keeps them on the span
    # state); end and whole-span events carry their own.
    redactions = s.redactions
    if end is not None:
        redactions = redactions + end.redactions
        if end is not start:
            attributes.update(end.attributes)
    ids = (start.event_id,) if end is None or end is start else (start.event_id, end.event_id)
    # Every value comes from validated events (or is derived within the contract's
    # bounds), so the record is constructed without re-validating: validation here
    # cost more than the rest of assembly together.
    # Filled in field order: the record's __dict__ is its JSON's key order.
    values = _RECORD_DEFAULTS.copy()
    values.update(zip(_FROM_START, _start_values(start.__dict__), strict=True))
    if end is not None:
        values.update(zip(_FROM_END, _end_values(end.__dict__), strict=True))
    values["trace"] = state.trace or _NO_TRACE_INFO
    values["status"] = status
    values["duration_ms"] = duration
    values["cost"] = cost
    values["attributes"] = attributes
    values["redactions"] = redactions
    values["event_ids"] = ids
    values["version"] = version
    values["processed_at"] = now
    record = construct_from(SpanRecord, values)
    return record, miss


def _depths(state: TraceState, records: dict[str, SpanRecord]) -> tuple[dict[str, int], int]:
    """Depth per span (BFS from the roots) and the number of orphans."""
    children: dict[str, list[str]] = {}
    for sid, r in records.items():
        if r.parent_span_id is not None:
            children.setdefault(r.parent_span_id, []).append(sid)
    roots = [sid for sid, r in records.items() if r.parent_span_id is None]
    depth: dict[str, int] = {}
    orphan_depth = 1 if roots else 0
    orphans = 0
    queue = deque((sid, 0) for sid in roots)
    while True:
        while queue:
            sid, d = queue.popleft()
            if sid in depth:
                continue
            depth[sid] = d
            queue.extend((c, d + 1) for c in children.get(sid, ()))
        # Whatever BFS did not reach hangs off a missing parent (or a cycle):
        # take the earliest such span as the next orphan subtree root.
        rest = [sid for sid in records if sid not in depth]
        if not rest:
            return depth, orphans
        first = min(rest, key=lambda sid: (records[sid].start_time, sid))
        orphans += 1
        queue.append((first, orphan_depth))


def build_trace(
    state: TraceState, spans: dict[str, SpanRecord], now: datetime, version: int
) -> TraceRecord:
    """The trace record from the span records built for ``state`` (every span with a start)."""
    ordered = sorted(spans.values(), key=_BY_START)
    depth, orphans = _depths(state, spans)
    roots = [r for r in ordered if r.parent_span_id is None]
    root = roots[0] if roots else None
    # The earliest start, or an end before it (split events come from different clocks).
    first = ordered[0].start_time if ordered else None
    for s in state.spans.values():
        if s.end is not None and (first is None or s.end.end_time < first):
            first = s.end.end_time
    start = first if first is not None else now
    # One pass for every aggregate (they were a pass each).
    end: datetime | None = None
    unfinished = False
    usage = [0, 0, 0, 0, 0]
    cost_parts = [Decimal(0)] * 6
    priced = unpriced = errors = tools = 0
    services: set[str] = set()
    models: set[str] = set()
    timeline = []
    for r in ordered:
        services.add(r.service)
        if r.end_time is not None and (end is None or r.end_time > end):
            end = r.end_time
        status = r.status
        if status is SpanStatus.UNFINISHED:
            unfinished = True
        elif status is SpanStatus.ERROR:
            errors += 1
        if r.kind is SpanKind.TOOL or r.tool is not None:
            tools += 1
        if r.model is not None:
            models.add(r.model.name)
        u = r.usage
        if u is not None:
            usage[0] += u.input_tokens
            usage[1] += u.output_tokens
            usage[2] += u.cached_tokens
            usage[3] += u.cache_write_tokens
            usage[4] += u.reasoning_tokens
        if r.kind is SpanKind.GENERATION and status is not SpanStatus.UNFINISHED:
            c = r.cost
            if c is None:
                unpriced += 1
            else:
                priced += 1
                # Decimal of the float's repr: sums without binary drift.
                for i, v in enumerate(
                    (
                        c.input_usd,
                        c.output_usd,
                        c.cached_usd,
                        c.cache_write_usd,
                        c.reasoning_usd,
                        c.total_usd,
                    )
                ):
                    if v:  # most parts are zero (no cache or reasoning tokens): skip the Decimal
                        cost_parts[i] += Decimal(repr(v))
        timeline.append(
            construct(
                TimelineEntry,
                span_id=r.span_id,
                parent_span_id=r.parent_span_id,
                name=r.name,
                kind=r.kind,
                status=status,
                start_offset_ms=(r.start_time - start).total_seconds() * 1000,
                end_offset_ms=(r.end_time - start).total_seconds() * 1000 if r.end_time else None,
                depth=depth[r.span_id],
            )
        )
    trace_status: TraceStatus
    if state.timed_out or root is None or state.root_ended_at is None:
        trace_status = "incomplete"
    elif any(r.status is SpanStatus.ERROR for r in roots):
        trace_status = "error"
    elif unfinished:
        trace_status = "unfinished"
    else:
        trace_status = "ok"
    cost = None
    if priced:
        # Sums of valid costs (non-negative): valid, so not validated again.
        cost = construct(
            Cost,
            input_usd=float(cost_parts[0]),
            output_usd=float(cost_parts[1]),
            cached_usd=float(cost_parts[2]),
            cache_write_usd=float(cost_parts[3]),
            reasoning_usd=float(cost_parts[4]),
            total_usd=float(cost_parts[5]),
            price_source="sum",
        )
    trace = state.trace or _NO_TRACE_INFO
    # Built from validated records only: construct, do not re-validate (see build_span).
    return construct(
        TraceRecord,
        project=state.project,
        trace_id=state.trace_id,
        environment=state.environment,
        services=tuple(sorted(services)),
        trace=trace,
        root_span_id=root.span_id if root else None,
        name=trace.name or (root.name if root else None),
        status=trace_status,
        start_time=start,
        end_time=end,
        duration_ms=(end - start).total_seconds() * 1000 if end is not None else None,
        span_count=len(ordered),
        depth=max(depth.values(), default=-1) + 1,
        usage=construct(
            Usage,
            input_tokens=usage[0],
            output_tokens=usage[1],
            cached_tokens=usage[2],
            cache_write_tokens=usage[3],
            reasoning_tokens=usage[4],
        ),
        cost_usd=cost.total_usd if cost else None,
        cost=cost,
        unpriced_generations=unpriced,
        error_count=errors,
        tool_call_count=tools,
        models=tuple(sorted(models)),
        input=root.input if root else None,
        output=root.output if root else None,
        timeline=tuple(timeline),
        orphan_span_count=orphans,
        dropped_span_count=state.dropped_span_count,
        version=version,
        emitted_at=now,
    )
