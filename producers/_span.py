"""A span: one timed unit of work, and the trace state its events share.

A :class:`Span` is made by the tracer (``tracer.span(...)`` and friends) and
used as a context manager, sync or async. Its ``record_*`` methods only store
values; nothing is serialized until the span ends. No method raises into the
caller and none blocks: on bad input the span records what it can.
"""

from __future__ import annotations

import time
import traceback
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ._context import CURRENT_SPAN

if TYPE_CHECKING:
    from ._tracer import Tracer

__all__ = ["Span", "TraceState"]

_MAX_MESSAGE = 65_536
_MAX_STACK = 262_144
_MAX_LABEL = 256


def _label(value: Any) -> str | None:
    text = str(value)[:_MAX_LABEL] if value is not None else ""
    return text or None


class TraceState:
    """What all spans of one trace in this process share: id, sampling, trace attributes.

    ``info`` is the wire form of ``TraceInfo`` (only the fields that are set);
    it is replaced, never mutated, so events already built keep their values.
    """

    __slots__ = ("info", "key", "sampled", "trace_id")

    def __init__(self, trace_id: str, sampled: bool, info: dict[str, Any]) -> None:
        self.trace_id = trace_id
        self.key = trace_id.encode()
        self.sampled = sampled
        self.info = info

    def update(
        self,
        *,
        name: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        tags: Any = None,
        release: str | None = None,
    ) -> None:
        """Set trace-level attributes; they travel on every later event of the trace."""
        info = dict(self.info)
        if name:
            info["name"] = str(name)[:512]
        for key, value in (("session_id", session_id), ("user_id", user_id), ("release", release)):
            label = _label(value)
            if label:
                info[key] = label
        if tags:
            merged = list(info.get("tags", ()))
            for tag in [tags] if isinstance(tags, str) else tags:
                label = _label(tag)
                if label and label not in merged:
                    merged.append(label)
            info["tags"] = merged[:64]
        self.info = info


class Span:
    """One span. Use as ``with``/``async with``; or call :meth:`end` yourself.

    Attributes:
        trace_id: 32 hex digits (OpenTelemetry-compatible).
        span_id: 16 hex digits.
        parent_span_id: the parent's span id, or None for a root span.
        recording: False when head sampling left the trace out: the span
            still carries ids for its children but emits nothing.
    """

    __slots__ = (
        "_cap",
        "_ended",
        "_perf_ns",
        "_token",
        "attributes",
        "decisions",
        "error",
        "input",
        "kind",
        "model",
        "name",
        "outcome",
        "output",
        "parent_span_id",
        "recording",
        "span_id",
        "start_ns",
        "status",
        "tool",
        "trace",
        "trace_id",
        "tracer",
        "usage",
    )

    def __init__(
        self,
        tracer: Tracer,
        trace: TraceState,
        span_id: str,
        parent_span_id: str | None,
        kind: str,
        name: str,
        cap: int,
    ) -> None:
        self.tracer = tracer
        self.trace = trace
        self.trace_id = trace.trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.recording = trace.sampled
        self.kind = kind
        self.name = name
        self.input: Any = None
        self.output: Any = None
        self.model: dict[str, Any] | None = None
        self.tool: dict[str, Any] | None = None
        self.attributes: dict[str, Any] | None = None
        self.usage: dict[str, int] | None = None
        self.error: dict[str, Any] | None = None
        self.outcome: dict[str, Any] | None = None
        self.decisions: list[dict[str, Any]] | None = None
        self.status = "unset"
        self._cap = cap
        self._token: Token[Span | None] | None = None
        self._ended = False
        self.start_ns = time.time_ns()
        self._perf_ns = time.perf_counter_ns()

    # --- context management ------------------------------------------------------

    def __enter__(self) -> Span:
        self._token = CURRENT_SPAN.set(self)
        if self.tracer.emit_start_events and self.recording:
            self.tracer._emit_start(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        token, self._token = self._token, None
        if token is not None:
            try:
                CURRENT_SPAN.reset(token)
            except ValueError:  # exited in another context than entered (a moved generator)
                pass
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.record_error(exc)
        self.end()
        return False

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def end(self) -> None:
        """End the span and emit its event. Idempotent; never blocks or raises."""
        if self._ended:
            return
        self._ended = True
        if self.status == "unset":
            self.status = "ok"
        if self.recording:
            self.tracer._emit_span(self, self.start_ns + time.perf_counter_ns() - self._perf_ns)
        else:
            self.tracer._sampled_out += 1

    # --- recording ---------------------------------------------------------------

    def record_input(self, value: Any) -> None:
        """What went in (prompt, messages, arguments): any JSON-able value."""
        self.input = value

    def record_output(self, value: Any) -> None:
        """What came out (response, result, return value). For tool spans: the tool's result."""
        self.output = value

    def record_usage(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """Token counts, each kind counted once (replaces earlier values).

        ``input_tokens`` excludes cached and cache-write tokens, ``output_tokens``
        excludes reasoning tokens (see ``tracestream.schemas.Usage``). Negative
        or non-numeric values are recorded as 0.
        """
        usage = {}
        for key, value in (
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cached_tokens", cached_tokens),
            ("reasoning_tokens", reasoning_tokens),
            ("cache_write_tokens", cache_write_tokens),
        ):
            try:
                usage[key] = max(0, int(value or 0))
            except (TypeError, ValueError, OverflowError):
                usage[key] = 0
        self.usage = usage

    def set_attribute(self, key: str, value: Any) -> None:
        """A free-form attribute (JSON-able value)."""
        if self.attributes is None:
            self.attributes = {}
        self.attributes[str(key)] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Several attributes at once."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_status(self, status: Literal["ok", "error", "unset"]) -> None:
        """Override the status (a span that ends without error is ``ok``)."""
        if status in ("ok", "error", "unset"):
            self.status = status

    def record_decision(self, name: str, choice: Any, reason: str | None = None) -> None:
        """A process decision: which option was chosen, and why."""
        decision: dict[str, Any] = {"name": _label(name) or "decision", "choice": choice}
        if reason is not None:
            decision["reason"] = str(reason)[:_MAX_MESSAGE]
        if self.decisions is None:
            self.decisions = []
        self.decisions.append(decision)

    def record_outcome(
        self, label: str, *, success: bool | None = None, detail: Any = None
    ) -> None:
        """The final result of this span or workflow (replaces an earlier one)."""
        outcome: dict[str, Any] = {"label": _label(label) or "outcome"}
        if success is not None:
            outcome["success"] = bool(success)
        if detail is not None:
            outcome["detail"] = detail
        self.outcome = outcome

    def record_error(
        self, error: BaseException | str, *, message: str | None = None, stack: str | None = None
    ) -> None:
        """Record an error (type, message, stack) and set the status to ``error``.

        Exceptions escaping a ``with`` block are recorded by the span itself
        and then re-raised unchanged; call this for errors you handle.
        """
        try:
            if isinstance(error, BaseException):
                type_name = type(error).__qualname__
                text = str(error) if message is None else message
                if stack is None and error.__traceback__ is not None:
                    stack = "".join(traceback.format_exception(error))
            else:
                type_name, text = str(error), message or ""
        except Exception:  # noqa: BLE001 - a broken __str__ on the user's exception
            type_name, text = "Exception", "<unprintable error>"
        info: dict[str, Any] = {
            "type": type_name[:_MAX_LABEL] or "Exception",
            "message": text[:_MAX_MESSAGE],
        }
        if stack:
            info["stack"] = stack[-_MAX_STACK:]
        self.error = info
        self.status = "error"

    def __repr__(self) -> str:
        return f"<Span {self.kind} {self.name!r} trace={self.trace_id} span={self.span_id}>"
