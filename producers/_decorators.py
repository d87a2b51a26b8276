"""``@traced``: a span around every call of a function, generator or coroutine.

The four function kinds are told apart once, at decoration time. Arguments
are captured by name (``self``/``cls`` left out), the return value (or, for
generators, the first items yielded and their count) as the output; both can
be turned off and capped in size. Exceptions are recorded and re-raised
unchanged. For generators the span is made current only while the generator
body runs, so code between ``next()`` calls is not parented to it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from ._context import CURRENT_SPAN
from ._global import get_tracer
from ._span import Span
from ._tracer import Tracer

__all__ = ["traced"]

F = TypeVar("F", bound=Callable[..., Any])

#: Generators: how many yielded items are kept as the output (all are counted).
MAX_ITEMS = 100


def _capture(signature: inspect.Signature | None, args: Any, kwargs: Any) -> Any:
    if signature is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    captured = dict(bound.arguments)
    for first in ("self", "cls"):
        captured.pop(first, None)
    return captured


@overload
def traced(func: F, /) -> F: ...


@overload
def traced(
    *,
    name: str | None = None,
    kind: str = "step",
    capture_input: bool = True,
    capture_output: bool = True,
    max_capture_bytes: int | None = None,
    tracer: Tracer | None = None,
) -> Callable[[F], F]: ...


def traced(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    kind: str = "step",
    capture_input: bool = True,
    capture_output: bool = True,
    max_capture_bytes: int | None = None,
    tracer: Tracer | None = None,
) -> F | Callable[[F], F]:
    """Trace every call of the decorated function as a span.

    Works on sync and async functions, generators and async generators; use
    bare (``@traced``) or with options (``@traced(kind="tool")``).

    Args:
        name: span name; default the function's qualified name.
        kind: span kind (``step``, ``tool``, ``generation``, ...).
        capture_input: record the arguments (by parameter name) as the input.
        capture_output: record the return value (generators: up to 100 items).
        max_capture_bytes: cap for the captured values (lower than the
            tracer's ``max_payload_bytes`` only); larger ones become a marker.
        tracer: the tracer to use; default the process-wide one, looked up at
            each call (so decorating before ``configure()`` is fine).

    The wrapper re-raises whatever the function raises, unchanged, and never
    raises anything of its own.
    """

    def decorate(fn: F) -> F:
        span_name = name or getattr(fn, "__qualname__", None) or repr(fn)
        try:
            signature: inspect.Signature | None = inspect.signature(fn) if capture_input else None
        except (TypeError, ValueError):
            signature = None

        def start(args: Any, kwargs: Any) -> Span:
            active = tracer or get_tracer()
            span = active.start_span(span_name, kind=kind)
            if capture_input and span.recording:
                span.input = _capture(signature, args, kwargs)
            if max_capture_bytes is not None:
                span._cap = min(span._cap, max(256, max_capture_bytes))
            return span

        if inspect.isasyncgenfunction(fn):
            return _wrap_async_gen(fn, start, capture_output)  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):
            return _wrap_gen(fn, start, capture_output)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with start(args, kwargs) as span:
                    result = await fn(*args, **kwargs)
                    if capture_output:
                        span.output = result
                    return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with start(args, kwargs) as span:
                result = fn(*args, **kwargs)
                if capture_output:
                    span.output = result
                return result

        return run  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def _finish(span: Span, items: list[Any], count: int, capture: bool) -> None:
    if capture:
        span.output = items
    span.set_attribute("tracestream.items_yielded", count)


def _wrap_gen(
    fn: Callable[..., Generator[Any, Any, Any]],
    start: Callable[[Any, Any], Span],
    capture_output: bool,
) -> Callable[..., Generator[Any, Any, Any]]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        span = start(args, kwargs)
        items: list[Any] = []
        count = 0
        try:
            token = CURRENT_SPAN.set(span)
            try:
                gen = fn(*args, **kwargs)
            finally:
                CURRENT_SPAN.reset(token)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = CURRENT_SPAN.set(span)
                try:
                    item = gen.throw(thrown) if thrown is not None else gen.send(sent)
                except StopIteration as stop:
                    return stop.value
                finally:
                    CURRENT_SPAN.reset(token)
                    thrown = None
                count += 1
                if capture_output and len(items) < MAX_ITEMS:
                    items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:  # noqa: BLE001 - forwarded into the generator
                    thrown = exc
                    sent = None
        except GeneratorExit:
            raise
        except BaseException as exc:
            span.record_error(exc)
            raise
        finally:
            _finish(span, items, count, capture_output)
            span.end()

    return run


def _wrap_async_gen(
    fn: Callable[..., AsyncGenerator[Any, Any]],
    start: Callable[[Any, Any], Span],
    capture_output: bool,
) -> Callable[..., AsyncGenerator[Any, Any]]:
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = start(args, kwargs)
        items: list[Any] = []
        count = 0
        try:
            token = CURRENT_SPAN.set(span)
            try:
                agen = fn(*args, **kwargs)
            finally:
                CURRENT_SPAN.reset(token)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = CURRENT_SPAN.set(span)
                try:
                    if thrown is not None:
                        item = await agen.athrow(thrown)
                    else:
                        item = await agen.asend(sent)
                except StopAsyncIteration:
                    return
                finally:
                    CURRENT_SPAN.reset(token)
                    thrown = None
                count += 1
                if capture_output and len(items) < MAX_ITEMS:
                    items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    await agen.aclose()
                    raise
                except BaseException as exc:  # noqa: BLE001 - forwarded into the generator
                    thrown = exc
                    sent = None
        except GeneratorExit:
            raise
        except BaseException as exc:
            span.record_error(exc)
            raise
        finally:
            _finish(span, items, count, capture_output)
            span.end()

    return run
