"""``@traced`` on functions, coroutines, generators and async generators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tracestream.producers import InMemoryTransport, Tracer, current_span, traced

from .conftest import parsed

pytestmark = pytest.mark.unit


def test_sync_function_captures_arguments_and_result(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    @traced(kind="tool")
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert add(1, b=5) == 6
    (event,) = parsed(transport)
    assert event.kind.value == "tool"
    assert event.name.endswith("add")
    assert event.input == {"a": 1, "b": 5}
    assert event.output == 6


def test_bare_decorator_and_methods_leave_out_self(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    class Agent:
        @traced
        def act(self, goal: str) -> str:
            return goal.upper()

    assert Agent().act("go") == "GO"
    (event,) = parsed(transport)
    assert event.input == {"goal": "go"}
    assert event.name == "test_bare_decorator_and_methods_leave_out_self.<locals>.Agent.act"


async def test_async_function_and_nesting(tracer: Tracer, transport: InMemoryTransport) -> None:
    @traced(name="inner")
    async def inner(x: int) -> int:
        return x * 2

    @traced(name="outer", kind="agent")
    async def outer() -> int:
        return await inner(4)

    assert await outer() == 8
    inner_ev, outer_ev = parsed(transport)
    assert inner_ev.parent_span_id == outer_ev.span_id
    assert inner_ev.output == 8 and outer_ev.kind.value == "agent"


def test_generator_records_items_and_parents_only_while_running(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    @traced(name="gen")
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            with tracer.span(f"item{i}"):
                yield i

    with tracer.span("consumer") as consumer:
        for _ in numbers(3):
            assert current_span() is consumer
    events = {e.name: e for e in parsed(transport)}
    assert events["gen"].output == [0, 1, 2]
    assert events["gen"].attributes["tracestream.items_yielded"] == 3
    assert events["item1"].parent_span_id == events["gen"].span_id
    assert events["gen"].parent_span_id == consumer.span_id


def test_generator_send_throw_close_and_return_value(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    @traced(name="echo")
    def echo() -> Iterator[str]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except KeyError:
            yield "handled"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("x") == "got x"
    assert gen.throw(KeyError("k")) == "handled"
    gen.close()
    (event,) = parsed(transport)
    assert event.output == ["ready", "got x", "handled"]
    assert event.status.value == "ok"

    @traced(name="ret")
    def returns() -> Iterator[int]:
        yield 1
        return 7

    def delegate() -> Iterator[int]:
        result = yield from returns()
        assert result == 7

    assert list(delegate()) == [1]


def test_generator_error_is_recorded_and_reraised(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    @traced(name="boom")
    def boom() -> Iterator[int]:
        yield 1
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        list(boom())
    (event,) = parsed(transport)
    assert event.error is not None and event.error.type == "RuntimeError"


async def test_async_generator(tracer: Tracer, transport: InMemoryTransport) -> None:
    @traced(name="stream", kind="generation")
    async def stream(n: int) -> AsyncIterator[str]:
        for i in range(n):
            with tracer.span(f"chunk{i}"):
                yield f"c{i}"

    assert [c async for c in stream(2)] == ["c0", "c1"]
    events = {e.name: e for e in parsed(transport)}
    assert events["stream"].output == ["c0", "c1"]
    assert events["chunk0"].parent_span_id == events["stream"].span_id

    @traced(name="failing")
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise ValueError("async gen")

    with pytest.raises(ValueError, match="async gen"):
        _ = [x async for x in failing()]
    transport.clear()

    agen = stream(5)
    assert await agen.__anext__() == "c0"
    await agen.aclose()
    names = [e.name for e in parsed(transport)]
    assert names == ["chunk0", "stream"]


async def test_async_function_error(tracer: Tracer, transport: InMemoryTransport) -> None:
    @traced
    async def fails() -> None:
        raise LookupError("x")

    with pytest.raises(LookupError):
        await fails()
    (event,) = parsed(transport)
    assert event.error is not None and event.error.type == "LookupError"


def test_capture_opt_out_and_size_cap(tracer: Tracer, transport: InMemoryTransport) -> None:
    @traced(capture_input=False, capture_output=False)
    def secret(password: str) -> str:
        return password

    @traced(max_capture_bytes=1000)
    def big(text: str) -> str:
        return text

    secret("hunter2")
    big("x" * 5000)
    quiet, capped = parsed(transport)
    assert quiet.input is None and quiet.output is None
    assert capped.input["tracestream.truncated"] is True
    assert capped.output["tracestream.truncated"] is True


def test_decorated_code_runs_untraced_before_configure() -> None:
    @traced
    def f() -> int:
        return 1

    assert f() == 1


def test_explicit_tracer_argument(transport: InMemoryTransport) -> None:
    mine = Tracer(project="p", service="other", transport=transport, flush_at_exit=False)

    @traced(tracer=mine)
    def f() -> None:
        return None

    f()
    (event,) = parsed(transport)
    assert event.service == "other"
    mine.shutdown()
