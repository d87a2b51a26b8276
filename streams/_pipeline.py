"""One batch of raw records in, everything the worker must publish out.

:class:`Pipeline` chains the pure stages (validate, redact, price, assemble,
rolling windows, anomaly scoring) over a batch of :class:`SourceRecord`. It has
no Kafka and no Faust in it: the adapter (``streams/runtime/``) turns consumed
messages into source records, hands a batch to :meth:`Pipeline.process`, and
produces the :class:`BatchOutput`. Tests drive it directly with a dict as the
trace store.

Error policy: the worker never stops on bad input. A record that fails to
validate, or a valid event on which a later stage raises, becomes a
:class:`DeadLetter`; the rest of the batch carries on.

Who may call it: one task at a time per pipeline (it mutates its state store).
It never blocks and never performs I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracestream.schemas import (
    AnomalyRecord,
    MetricWindow,
    Redaction,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanRecord,
    SpanStartEvent,
    TraceRecord,
)

from ._anomaly import AnomalyScorer
from ._assembly import Assembler, AssemblyOutput
from ._json import model_json
from ._metrics import PipelineMetrics
from ._redaction import Redactor
from ._validate import DeadLetter, ParsedEvent, SourceRecord, Validator, dead_letter
from ._windows import WindowAggregator

__all__ = ["BatchOutput", "Pipeline", "Stages"]


@dataclass(slots=True)
class BatchOutput:
    """What one batch (or one tick) produced, in publish order per list."""

    dead_letters: list[DeadLetter] = field(default_factory=list)
    scores: list[tuple[bytes, bytes]] = field(default_factory=list)
    spans: list[SpanRecord] = field(default_factory=list)
    traces: list[TraceRecord] = field(default_factory=list)
    windows: list[MetricWindow] = field(default_factory=list)
    anomalies: list[AnomalyRecord] = field(default_factory=list)

    def extend(self, other: BatchOutput) -> None:
        """Append everything of ``other``."""
        self.dead_letters += other.dead_letters
        self.scores += other.scores
        self.spans += other.spans
        self.traces += other.traces
        self.windows += other.windows
        self.anomalies += other.anomalies

    def __len__(self) -> int:
        return (
            len(self.dead_letters)
            + len(self.scores)
            + len(self.spans)
            + len(self.traces)
            + len(self.windows)
            + len(self.anomalies)
        )


@dataclass(slots=True)
class Stages:
    """The pure core the pipeline calls. Filled in by the worker's composition root."""

    validator: Validator
    #: None: redaction is off (``redact_enabled = false``); events pass as received.
    redactor: Redactor | None
    assembler: Assembler | None = None
    #: Rolling windows over the span records the assembler emits.
    windows: WindowAggregator | None = None
    #: Scores each closed window against its key's baseline.
    scorer: AnomalyScorer | None = None


class Pipeline:
    """Validate, redact, price, assemble and window one batch at a time.

    Args:
        stages: the pure processing objects.
        metrics: where to count what happened.
    """

    def __init__(self, stages: Stages, metrics: PipelineMetrics) -> None:
        self._stages = stages
        self._metrics = metrics

    def rebuild_indexes(self) -> None:
        """Recompute the stages' in-memory indexes from their stores (after a restore)."""
        if self._stages.assembler is not None:
            self._stages.assembler.rebuild_index()
        if self._stages.windows is not None:
            self._stages.windows.rebuild_index()

    def process(self, records: Sequence[SourceRecord], *, now_ms: int) -> BatchOutput:
        """Run one batch through every stage. Never raises on bad input."""
        out = BatchOutput()
        m = self._metrics
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        # Counted locally and added once per batch: a labelled child lookup per event
        # cost more than the counting itself.
        events_in: Counter[str] = Counter()
        redacted: Counter[str] = Counter()
        # One assembly output for the whole batch: a fresh one per event (two lists
        # and a Counter) and handing each over cost more than many events' assembly.
        assembled = AssemblyOutput()
        try:
            self._process(records, now_ms, now, out, events_in, redacted, assembled)
        finally:
            for event_type, n in events_in.items():
                m.events_in.labels(event_type).inc(n)
            for detector, n in redacted.items():
                m.redactions.labels(detector).inc(n)
            self._take(assembled, out)
        self._close_windows(now, out)
        return out

    def _process(
        self,
        records: Sequence[SourceRecord],
        now_ms: int,
        now: datetime,
        out: BatchOutput,
        events_in: Counter[str],
        redacted: Counter[str],
        assembled: AssemblyOutput,
    ) -> None:
        validator = self._stages.validator
        redactor = self._stages.redactor
        m = self._metrics
        spans, traces = assembled.spans, assembled.traces
        for record in records:
            parsed = validator.validate(record, now_ms=now_ms)
            if isinstance(parsed, DeadLetter):
                self._reject(parsed, out)
                continue
            events_in[parsed.event_type] += 1
            try:
                if redactor is None:
                    event = parsed
                else:
                    event, redactions = _redact(redactor, parsed)
                    for r in redactions:
                        redacted[r.detector] += r.count
                if isinstance(event, ScoreEvent):
                    out.scores.append((event.trace_id.encode(), model_json(event)))
                    continue
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the worker
                m.processing_errors.labels("redact").inc()
                self._reject(dead_letter(record, "processing_error", exc, now_ms=now_ms), out)
                continue
            assembler = self._stages.assembler
            if assembler is None:
                continue
            n_spans, n_traces = len(spans), len(traces)
            try:
                start_redactions = redactions if isinstance(event, SpanStartEvent) else ()
                # The record's bytes stand for the event only while redaction left it as is.
                raw = record.value or b""
                wire = raw if event is parsed else None
                assembler.apply(event, now, start_redactions, wire, assembled, len(raw))
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the worker
                # What the failed event added is not published (its counts stay:
                # they only feed diagnostics).
                del spans[n_spans:], traces[n_traces:]
                m.processing_errors.labels("assemble").inc()
                self._reject(dead_letter(record, "processing_error", exc, now_ms=now_ms), out)

    def tick(self, *, now_ms: int) -> BatchOutput:
        """Close what is due at ``now_ms`` (traces past their grace, windows past their end)."""
        out = BatchOutput()
        assembler = self._stages.assembler
        if assembler is not None:
            self._take(assembler.due(datetime.fromtimestamp(now_ms / 1000, UTC)), out)
            self._metrics.traces_held.set(assembler.open_traces)
            self._metrics.state_bytes.set(assembler.state_bytes)
        self._close_windows(datetime.fromtimestamp(now_ms / 1000, UTC), out)
        return out

    def _take(self, assembled: AssemblyOutput, out: BatchOutput) -> None:
        out.spans += assembled.spans
        out.traces += assembled.traces
        for cap, n in assembled.counts.items():
            self._metrics.assembly_caps.labels(cap).inc(n)
        windows = self._stages.windows
        if windows is not None:
            for span in assembled.spans:
                # processed_at (processing time) only drives the idle flush;
                # windows follow event time.
                windows.add(span, span.processed_at)

    def _close_windows(self, now: datetime, out: BatchOutput) -> None:
        """Close due windows; score each against its baseline (scoring never drops a window)."""
        windows = self._stages.windows
        if windows is None:
            return
        closed = windows.close_due(now)
        self._count(windows.counts, "window")
        if not closed:
            return
        out.windows += closed
        scorer = self._stages.scorer
        if scorer is None:
            return
        for window in closed:
            try:
                out.anomalies += scorer.score(window, now)
            except Exception:  # noqa: BLE001 - a scoring bug must not lose the windows
                self._metrics.processing_errors.labels("anomaly").inc()
        self._count(scorer.counts, "anomaly")

    def _count(self, counts: Counter[str], prefix: str) -> None:
        for kind, n in counts.items():
            if n:
                self._metrics.assembly_caps.labels(f"{prefix}_{kind}").inc(n)
        counts.clear()

    def _reject(self, letter: DeadLetter, out: BatchOutput) -> None:
        self._metrics.events_in.labels("invalid").inc()
        self._metrics.events_invalid.labels(letter.reason).inc()
        out.dead_letters.append(letter)


def _redact(redactor: Redactor, event: ParsedEvent) -> tuple[ParsedEvent, tuple[Redaction, ...]]:
    # Narrow the union so the redactor's TypeVar binds to one event type.
    if isinstance(event, SpanEvent):
        return redactor.redact_event(event)
    if isinstance(event, SpanStartEvent):
        return redactor.redact_event(event)
    if isinstance(event, SpanEndEvent):
        return redactor.redact_event(event)
    return redactor.redact_event(event)
