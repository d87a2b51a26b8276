"""Fixtures of the SDK unit tests: an in-memory tracer, and a check for leaked threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tracestream.producers import InMemoryTransport, Tracer, set_tracer
from tracestream.schemas import EventParser

PARSER = EventParser()


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread running (background flushers matter here)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not extra, f"threads left behind: {extra}"


@pytest.fixture
def transport() -> InMemoryTransport:
    return InMemoryTransport()


@pytest.fixture
def tracer(transport: InMemoryTransport) -> Iterator[Tracer]:
    tracer = Tracer(
        project="proj", service="svc", environment="test", transport=transport, flush_at_exit=False
    )
    previous = set_tracer(tracer)
    yield tracer
    set_tracer(previous)
    tracer.shutdown(1.0)


def parsed(transport: InMemoryTransport) -> list[Any]:
    """Every stored event, validated against the wire contract."""
    return [PARSER.parse(value) for _, value in transport.records]
