"""Which span is current: contextvars, carrying them into threads, OpenTelemetry pickup.

The current span lives in a :class:`contextvars.ContextVar`, so nesting
follows the code as written: through ``await``, into tasks made with
``asyncio.create_task`` (which copy the context) and into
``asyncio.to_thread``. Plain threads and executors start from an empty
context; :func:`with_context` carries the caller's context over.
"""

from __future__ import annotations

import contextvars
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from ._span import Span

__all__ = ["current_span", "otel_parent", "with_context"]

P = ParamSpec("P")
R = TypeVar("R")

CURRENT_SPAN: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "tracestream_current_span", default=None
)


def current_span() -> Span | None:
    """The innermost open span of the calling context, or None."""
    return CURRENT_SPAN.get()


def with_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs in a copy of the *caller's* current context.

    Use it to keep parenting across threads and executors::

        with tracer.span("fan-out"):
            pool.submit(with_context(work), item)   # work's spans are children

    Each call of the wrapper runs in its own copy, so concurrent calls do not
    share context changes. Never raises of its own.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run


def otel_parent() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the active OpenTelemetry span, if any.

    Looks only when the application already imported ``opentelemetry.trace``
    (so a service without OpenTelemetry pays nothing). Never raises.
    """
    module = sys.modules.get("opentelemetry.trace")
    if module is None:
        return None
    try:
        ctx = module.get_current_span().get_span_context()
        if ctx.is_valid:
            return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
    except Exception:  # noqa: BLE001 - an odd OpenTelemetry setup must not break tracing
        return None
    return None
