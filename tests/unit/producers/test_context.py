"""Implicit parenting: across await, into tasks, into threads with ``with_context``; OpenTelemetry."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracestream.producers import InMemoryTransport, Tracer, current_span, with_context

from .conftest import parsed

pytestmark = pytest.mark.unit


async def test_parenting_across_await_and_into_tasks(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    async def child(name: str) -> str:
        await asyncio.sleep(0)
        with tracer.span(name) as span:
            await asyncio.sleep(0)
            assert current_span() is span
            return span.parent_span_id or ""

    with tracer.trace("root") as root:
        await asyncio.sleep(0)
        parents = await asyncio.gather(
            asyncio.create_task(child("a")), asyncio.create_task(child("b"))
        )
        assert current_span() is root
    assert parents == [root.span_id, root.span_id]
    events = {e.name: e for e in parsed(transport)}
    assert events["a"].trace_id == events["b"].trace_id == root.trace_id


async def test_to_thread_keeps_the_context(tracer: Tracer) -> None:
    with tracer.span("root") as root:
        seen = await asyncio.to_thread(current_span)
    assert seen is root


def test_with_context_carries_the_parent_into_threads(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    def work(i: int) -> str | None:
        with tracer.span(f"w{i}") as span:
            return span.parent_span_id

    with tracer.span("fan-out") as root, ThreadPoolExecutor(4) as pool:
        parents = list(pool.map(with_context(work), range(8)))
        plain = pool.submit(work, 99).result()
    assert parents == [root.span_id] * 8
    assert plain is None  # without the helper a thread starts a new trace
    assert len(parsed(transport)) == 10


def test_concurrent_threads_keep_separate_stacks(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    def trace(i: int) -> tuple[str, str | None]:
        with tracer.trace(f"t{i}") as root, tracer.span("child") as child:
            return root.trace_id, child.parent_span_id and root.span_id

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(trace, range(20)))
    assert len({trace_id for trace_id, _ in results}) == 20
    assert len(parsed(transport)) == 40


def test_opentelemetry_span_becomes_the_parent(
    tracer: Tracer, transport: InMemoryTransport
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    otel = TracerProvider().get_tracer("test")
    with otel.start_as_current_span("otel-root") as otel_span:
        with tracer.span("ours") as ours:
            pass
        ctx = otel_span.get_span_context()
    assert ours.trace_id == f"{ctx.trace_id:032x}"
    assert ours.parent_span_id == f"{ctx.span_id:016x}"
    (event,) = parsed(transport)
    assert event.parent_span_id == f"{ctx.span_id:016x}"
