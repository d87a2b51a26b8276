"""The tracer: makes spans, turns them into events, hands the bytes to a transport.

Everything a span does on the application thread ends in :meth:`Tracer._emit`:
build a dict, ``orjson.dumps`` it (with size caps and the mask hook), and
``transport.send`` it, which only enqueues. Nothing here waits on the network
and no public method raises into the host application, whatever the values
recorded or the state of Kafka; failures are counted in :meth:`Tracer.stats`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracestream.schemas import SCHEMA_VERSION

from ._buffer import DropCounter
from ._context import CURRENT_SPAN, otel_parent
from ._ids import (
    iso_from_ns,
    new_event_id,
    new_span_id,
    new_trace_id,
    sample_bound,
    trace_sampled,
)
from ._memory import InMemoryTransport
from ._metrics import register_metrics
from ._payload import Mask, apply_mask, encode_event
from ._span import Span, TraceState
from ._transport import Transport

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["Tracer", "TracerStats"]

logger = logging.getLogger("tracestream.producers")

_KINDS = frozenset(
    ("workflow", "agent", "step", "generation", "tool", "retrieval", "reasoning", "event")
)
_SCORE_SOURCES = frozenset(("human", "evaluator", "heuristic", "api"))


@dataclass(frozen=True, slots=True)
class TracerStats:
    """Counters of a tracer and its transport (events unless said otherwise).

    Attributes:
        sent: delivered by the transport.
        dropped: given up on (``dropped_by_reason``: ``buffer_full``,
            ``delivery_failed``, ``shutdown``, ``encode_failed``, ``invalid_score``, ...).
        buffered: accepted by the transport, not yet delivered.
        buffered_bytes: bytes held in the transport's buffer.
        sampled_out: spans not recorded because sampling left their trace out.
    """

    sent: int
    dropped: int
    buffered: int
    buffered_bytes: int
    sampled_out: int
    dropped_by_reason: dict[str, int] = field(default_factory=dict)


class Tracer:
    """Creates spans and emits their events through a transport.

    Thread-safe; one per process is the usual setup (see ``tracestream.configure``).

    Args:
        project: tenant the events belong to.
        service: the emitting service.
        environment: production, staging, ...
        transport: where events go; default an :class:`InMemoryTransport`.
        release: version of the service, put on every trace (``TraceInfo.release``).
        sample_rate: fraction of traces recorded, decided from the trace id.
        mask: hook applied to inputs, outputs, attributes and tool arguments
            before they are serialized; if it raises, the value is replaced by
            a marker, never sent unmasked.
        max_payload_bytes: cap per payload value (input, output, each
            attribute, tool arguments); larger values become a truncation marker.
        max_event_bytes: cap of a whole event (the worker's limit).
        emit_start_events: also emit ``span.start`` when a span begins (then
            ``span.end`` at its end) instead of one ``span`` event at the end:
            long-running spans become visible while they run, at twice the cost.
        flush_at_exit: register :meth:`shutdown` with ``atexit``.
        shutdown_timeout_s: the budget of that exit-time shutdown.
        metrics_registry: a prometheus-client registry to expose ``tracestream_sdk_*`` on.
        enabled: False makes every span a no-op (nothing is recorded).

    Raises:
        ValueError: an argument is out of range (at construction only).
    """

    def __init__(
        self,
        *,
        project: str,
        service: str,
        environment: str = "development",
        transport: Transport | None = None,
        release: str | None = None,
        sample_rate: float = 1.0,
        mask: Mask | None = None,
        max_payload_bytes: int = 64 * 1024,
        max_event_bytes: int = 1024 * 1024,
        emit_start_events: bool = False,
        flush_at_exit: bool = True,
        shutdown_timeout_s: float = 5.0,
        metrics_registry: CollectorRegistry | None = None,
        enabled: bool = True,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be within [0, 1]")
        if max_payload_bytes < 256 or max_event_bytes < 4096:
            raise ValueError("max_payload_bytes >= 256 and max_event_bytes >= 4096")
        for label, value in (
            ("project", project),
            ("service", service),
            ("environment", environment),
        ):
            if not value or len(value) > 256:
                raise ValueError(f"{label} must be 1 to 256 characters")
        self.project = project
        self.service = service
        self.environment = environment
        self.transport: Transport = transport if transport is not None else InMemoryTransport()
        self.release = release
        self.mask = mask
        self.max_payload_bytes = max_payload_bytes
        self.max_event_bytes = max_event_bytes
        self.emit_start_events = emit_start_events
        self.shutdown_timeout_s = shutdown_timeout_s
        self._bound = sample_bound(sample_rate if enabled else 0.0)
        self._sampled_out = 0
        self._drops = DropCounter(what="tracestream Tracer")
        self._is_shutdown = False
        self._registry = metrics_registry
        self._collector = (
            register_metrics(metrics_registry, self.stats, service)
            if metrics_registry is not None
            else None
        )
        self._atexit = flush_at_exit
        if flush_at_exit:
            atexit.register(self._exit_hook)

    # --- spans ---------------------------------------------------------------------

    def start_span(
        self,
        name: str,
        *,
        kind: str = "step",
        input: Any = None,
        attributes: dict[str, Any] | None = None,
        trace_id: str | None = None,
        parent: Span | None = None,
    ) -> Span:
        """Create a span, child of ``parent`` or of the current span, or a new trace's root.

        The span is not made current until it is entered with ``with``. Its
        trace follows, in order: ``parent``; the current span; ``trace_id``;
        an active OpenTelemetry span; else a new random trace id.
        Never raises (an unknown ``kind`` becomes ``step``).
        """
        if parent is None:
            parent = CURRENT_SPAN.get()
        if parent is not None:
            trace, parent_id = parent.trace, parent.span_id
        else:
            parent_id = None
            if trace_id is None:
                picked = otel_parent()
                if picked is not None:
                    trace_id, parent_id = picked
                else:
                    trace_id = new_trace_id()
            info = {"name": str(name)[:512] or "trace"}
            if self.release:
                info["release"] = str(self.release)[:256]
            trace = TraceState(trace_id, trace_sampled(trace_id, self._bound), info)
        if kind not in _KINDS:
            kind = str(getattr(kind, "value", kind))
            if kind not in _KINDS:
                kind = "step"
        span = Span(
            self,
            trace,
            new_span_id(),
            parent_id,
            kind,
            str(name)[:512] or "span",
            self.max_payload_bytes,
        )
        if input is not None:
            span.input = input
        if attributes:
            span.attributes = dict(attributes)
        return span

    def span(
        self,
        name: str,
        *,
        kind: str = "step",
        input: Any = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """A span of any kind; use as ``with tracer.span("name") as span:``."""
        return self.start_span(name, kind=kind, input=input, attributes=attributes)

    def trace(
        self,
        name: str,
        *,
        input: Any = None,
        session_id: str | None = None,
        user_id: str | None = None,
        tags: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
        release: str | None = None,
        trace_id: str | None = None,
        kind: str = "workflow",
    ) -> Span:
        """The root span of a trace, setting the trace-level attributes.

        Session, user, tags and release travel on every event of the trace.
        Inside an open span this makes a child span in the same trace and
        updates the trace attributes for the events that follow.
        """
        span = self.start_span(name, kind=kind, input=input, attributes=metadata, trace_id=trace_id)
        try:
            span.trace.update(
                name=name if span.parent_span_id is None else None,
                session_id=session_id,
                user_id=user_id,
                tags=tags,
                release=release,
            )
        except Exception:
            logger.debug("tracestream: bad trace attributes ignored", exc_info=True)
        return span

    def generation(
        self,
        name: str | None = None,
        *,
        model: str,
        provider: str | None = None,
        params: dict[str, Any] | None = None,
        input: Any = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """A model call. ``params``: temperature, max_tokens, ...; ``input``: the messages."""
        span = self.start_span(
            name or str(model), kind="generation", input=input, attributes=attributes
        )
        described: dict[str, Any] = {"name": str(model)[:256] or "unknown"}
        if provider:
            described["provider"] = str(provider)[:256]
        if params:
            described["parameters"] = dict(params)
        span.model = described
        return span

    def tool(
        self,
        name: str,
        *,
        arguments: Any = None,
        call_id: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """A tool invocation. Record the tool's result with ``record_output``."""
        span = self.start_span(name, kind="tool", attributes=attributes)
        call: dict[str, Any] = {"name": str(name)[:256] or "tool"}
        if call_id:
            call["call_id"] = str(call_id)[:256]
        if arguments is not None:
            call["arguments"] = arguments
        span.tool = call
        return span

    def retrieval(
        self, name: str, *, input: Any = None, attributes: dict[str, Any] | None = None
    ) -> Span:
        """A retrieval (vector search, lookup); ``input`` is the query."""
        return self.start_span(name, kind="retrieval", input=input, attributes=attributes)

    def reasoning(
        self, name: str, *, input: Any = None, attributes: dict[str, Any] | None = None
    ) -> Span:
        """A reasoning step (planning, reflection, chain of thought)."""
        return self.start_span(name, kind="reasoning", input=input, attributes=attributes)

    def step(
        self, name: str, *, input: Any = None, attributes: dict[str, Any] | None = None
    ) -> Span:
        """A plain step of a process."""
        return self.start_span(name, kind="step", input=input, attributes=attributes)

    def agent(
        self, name: str, *, input: Any = None, attributes: dict[str, Any] | None = None
    ) -> Span:
        """An agent invocation."""
        return self.start_span(name, kind="agent", input=input, attributes=attributes)

    def event(
        self, name: str, *, input: Any = None, attributes: dict[str, Any] | None = None
    ) -> None:
        """A point-in-time event (a span of kind ``event`` that ends at once)."""
        self.start_span(name, kind="event", input=input, attributes=attributes).end()

    # --- scores --------------------------------------------------------------------

    def score(
        self,
        target: str | Span | None,
        name: str,
        value: float | bool | str,
        *,
        source: str = "api",
        comment: str | None = None,
    ) -> None:
        """Emit a judgement on a trace (``target``: its id) or a span (the :class:`Span`).

        ``target=None`` scores the current span's trace. ``value`` is numeric,
        boolean or a category (1 to 256 characters). Invalid scores are dropped
        and counted (``invalid_score``), never raised. Follows head sampling.
        """
        try:
            span_id = None
            if target is None:
                target = CURRENT_SPAN.get()
            if isinstance(target, Span):
                trace_id, span_id = target.trace_id, target.span_id
            elif isinstance(target, str):
                trace_id = target.lower()
            else:
                self._drops.add("invalid_score")
                return
            valid = len(trace_id) == 32 and all(c in "0123456789abcdef" for c in trace_id)
            raw: Any = value  # callers may pass anything at run time
            if isinstance(raw, bool):
                pass
            elif isinstance(raw, int | float):
                value = float(raw)
                valid = valid and value == value and abs(value) != float("inf")
            elif isinstance(raw, str):
                valid = valid and 0 < len(raw) <= 256
            else:
                valid = False
            if not valid or not str(name) or source not in _SCORE_SOURCES:
                self._drops.add("invalid_score")
                return
            if not trace_sampled(trace_id, self._bound):
                self._sampled_out += 1
                return
            now = self._now_ns()
            event: dict[str, Any] = {
                "schema_version": SCHEMA_VERSION,
                "event_id": new_event_id(now),
                "event_type": "score",
                "project": self.project,
                "service": self.service,
                "environment": self.environment,
                "trace_id": trace_id,
                "timestamp": iso_from_ns(now),
                "name": str(name)[:256],
                "value": value,
                "source": source,
            }
            if span_id is not None:
                event["span_id"] = span_id
            if comment is not None:
                event["comment"] = str(comment)[:65_536]
            self._send(trace_id.encode(), event, self.max_payload_bytes)
        except Exception:  # noqa: BLE001 - never raise into the host
            self._drops.add("invalid_score")

    # --- emission (application thread) -------------------------------------------

    @staticmethod
    def _now_ns() -> int:
        return time.time_ns()

    def _envelope(self, span: Span, event_type: str, now_ns: int) -> dict[str, Any]:
        event: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": new_event_id(now_ns),
            "event_type": event_type,
            "project": self.project,
            "service": self.service,
            "environment": self.environment,
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "timestamp": iso_from_ns(now_ns),
            "trace": span.trace.info,
        }
        if span.parent_span_id is not None:
            event["parent_span_id"] = span.parent_span_id
        return event

    def _opening(self, span: Span, event: dict[str, Any]) -> None:
        mask = self.mask
        event["kind"] = span.kind
        event["name"] = span.name
        event["start_time"] = iso_from_ns(span.start_ns)
        if span.input is not None:
            event["input"] = apply_mask(mask, span.input) if mask else span.input
        if span.model is not None:
            event["model"] = span.model
        if span.tool is not None:
            tool = span.tool
            if mask and "arguments" in tool:
                tool = {**tool, "arguments": apply_mask(mask, tool["arguments"])}
            event["tool"] = tool
        if span.attributes:
            event["attributes"] = apply_mask(mask, span.attributes) if mask else span.attributes

    def _closing(self, span: Span, event: dict[str, Any], end_ns: int) -> None:
        event["end_time"] = event["timestamp"]
        event["status"] = span.status
        if span.output is not None:
            event["output"] = apply_mask(self.mask, span.output) if self.mask else span.output
        if span.usage is not None:
            event["usage"] = span.usage
        if span.error is not None:
            event["error"] = span.error
        if span.outcome is not None:
            event["outcome"] = span.outcome
        if span.decisions:
            event["decisions"] = span.decisions

    def _emit_span(self, span: Span, end_ns: int) -> None:
        try:
            if self.emit_start_events:
                event = self._envelope(span, "span.end", end_ns)
                if span.attributes:
                    attrs = span.attributes
                    event["attributes"] = apply_mask(self.mask, attrs) if self.mask else attrs
            else:
                event = self._envelope(span, "span", end_ns)
                self._opening(span, event)
            self._closing(span, event, end_ns)
            self._send(span.trace.key, event, span._cap)
        except Exception:  # noqa: BLE001 - never raise into the host
            self._drops.add("encode_failed")

    def _emit_start(self, span: Span) -> None:
        try:
            event = self._envelope(span, "span.start", span.start_ns)
            self._opening(span, event)
            self._send(span.trace.key, event, span._cap)
        except Exception:  # noqa: BLE001
            self._drops.add("encode_failed")

    def _send(self, key: bytes, event: dict[str, Any], cap: int) -> None:
        try:
            data = encode_event(event, cap, self.max_event_bytes)
        except Exception:  # noqa: BLE001
            self._drops.add("encode_failed")
            return
        try:
            self.transport.send(key, data)
        except Exception:  # noqa: BLE001 - a third-party transport broke its contract
            self._drops.add("transport_error")

    # --- lifecycle -----------------------------------------------------------------

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Block up to ``timeout_s`` until events emitted so far are delivered.

        Returns:
            True if everything was delivered (or definitively failed) in time.
        """
        try:
            return self.transport.flush(timeout_s)
        except Exception:  # noqa: BLE001
            return False

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """Flush and stop the transport within ``timeout_s`` (default
        ``shutdown_timeout_s``); later spans are dropped and counted. Idempotent.

        Returns:
            True if everything was delivered in time.
        """
        if self._is_shutdown:
            return True
        self._is_shutdown = True
        if self._atexit:
            atexit.unregister(self._exit_hook)
        if self._collector is not None and self._registry is not None:
            with contextlib.suppress(Exception):
                self._registry.unregister(self._collector)
        try:
            ok = self.transport.shutdown(
                self.shutdown_timeout_s if timeout_s is None else timeout_s
            )
        except Exception:  # noqa: BLE001
            ok = False
        self._log_totals()
        return ok

    def _log_totals(self) -> None:
        """The last word on drops: the periodic warnings are rate limited, so the
        final count would otherwise never be logged. Equal to ``stats().dropped``."""
        stats = self.stats()
        try:
            logger.log(
                logging.WARNING if stats.dropped else logging.INFO,
                "tracestream Tracer shut down (service %s): %d trace events sent, "
                "dropped %d in total (by reason: %s)",
                self.service,
                stats.sent,
                stats.dropped,
                stats.dropped_by_reason,
            )
        except Exception:  # noqa: BLE001 - a broken logging handler must not reach the host
            pass

    def _exit_hook(self) -> None:
        self.shutdown()

    def stats(self) -> TracerStats:
        """Counters of this tracer and its transport. Cheap; never raises."""
        try:
            inner = self.transport.stats()
        except Exception:  # noqa: BLE001
            from ._transport import TransportStats

            inner = TransportStats()
        by_reason = dict(inner.dropped_by_reason)
        for reason, count in self._drops.by_reason().items():
            by_reason[reason] = by_reason.get(reason, 0) + count
        return TracerStats(
            sent=inner.sent,
            dropped=inner.dropped + self._drops.total,
            buffered=inner.buffered,
            buffered_bytes=inner.buffered_bytes,
            sampled_out=self._sampled_out,
            dropped_by_reason=by_reason,
        )

    def __enter__(self) -> Tracer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
