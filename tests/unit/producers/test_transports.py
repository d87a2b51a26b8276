"""The bounded buffer, drop counting and warnings, the JSONL transport, metrics, configure()."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

import tracestream
from tracestream.producers import (
    InMemoryTransport,
    JsonlTransport,
    Tracer,
    Transport,
    get_tracer,
    set_tracer,
)
from tracestream.producers._buffer import RECORD_OVERHEAD_BYTES, DropCounter, EventBuffer
from tracestream.schemas import EventParser

pytestmark = pytest.mark.unit


def test_buffer_bounds_by_events_and_by_bytes() -> None:
    drops = DropCounter()
    buffer = EventBuffer(max_events=3, max_bytes=10_000, drops=drops)
    assert all(buffer.offer(b"k", b"v") for _ in range(3))
    assert not buffer.offer(b"k", b"v")
    assert drops.by_reason() == {"buffer_full": 1}
    assert [v for _, v in buffer.take(2)] == [b"v", b"v"]
    assert len(buffer) == 1 and buffer.bytes == 2 + RECORD_OVERHEAD_BYTES

    by_bytes = EventBuffer(max_events=1000, max_bytes=1000, drops=drops)
    assert by_bytes.offer(b"k", b"x" * 500)
    assert not by_bytes.offer(b"k", b"x" * 500)
    assert by_bytes.close() == [(b"k", b"x" * 500)]
    assert not by_bytes.offer(b"k", b"v")
    assert drops.by_reason() == {"buffer_full": 2, "shutdown": 1}


def test_drop_warning_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    drops = DropCounter(warn_interval_s=3600)
    with caplog.at_level(logging.WARNING, logger="tracestream.producers"):
        for _ in range(1000):
            drops.add("buffer_full")
    assert len(caplog.records) == 1
    assert "dropped 1 trace events" in caplog.records[0].getMessage()
    assert drops.total == 1000


def test_full_transport_never_raises_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    transport = InMemoryTransport(max_events=10)
    tracer = Tracer(project="p", service="s", transport=transport, flush_at_exit=False)
    with caplog.at_level(logging.WARNING, logger="tracestream.producers"):
        for _ in range(100):
            with tracer.span("x"):
                pass
    stats = tracer.stats()
    assert (stats.sent, stats.dropped) == (10, 90)
    assert stats.dropped_by_reason == {"buffer_full": 90}
    assert len(caplog.records) == 1
    tracer.shutdown()


def test_a_broken_transport_does_not_reach_the_application() -> None:
    class Broken(InMemoryTransport):
        def send(self, key: bytes, value: bytes) -> bool:
            raise OSError("boom")

        def flush(self, timeout_s: float = 0.0) -> bool:
            raise OSError("boom")

    tracer = Tracer(project="p", service="s", transport=Broken(), flush_at_exit=False)
    with tracer.span("x"):
        pass
    assert tracer.flush(0.1) is False
    assert tracer.stats().dropped_by_reason == {"transport_error": 1}
    tracer.shutdown()


def test_jsonl_transport(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    transport = JsonlTransport(path)
    assert isinstance(transport, Transport)
    tracer = Tracer(project="p", service="s", transport=transport, flush_at_exit=False)
    for i in range(3):
        with tracer.span(f"s{i}"):
            pass
    assert tracer.flush(1.0)
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["name"] for line in lines] == ["s0", "s1", "s2"]
    for line in lines:
        EventParser().parse(line)
    tracer.shutdown()
    assert not transport.send(b"k", b"{}")
    assert transport.stats().dropped_by_reason == {"shutdown": 1}


def test_prometheus_metrics_on_an_injected_registry() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    transport = InMemoryTransport(max_events=2)
    tracer = Tracer(
        project="p", service="svc", transport=transport, metrics_registry=registry,
        flush_at_exit=False,
    )  # fmt: skip
    for _ in range(3):
        with tracer.span("x"):
            pass
    value = registry.get_sample_value
    assert value("tracestream_sdk_events_sent_total", {"service": "svc"}) == 2
    assert (
        value("tracestream_sdk_events_dropped_total", {"service": "svc", "reason": "buffer_full"})
        == 1
    )
    assert value("tracestream_sdk_events_buffered", {"service": "svc"}) == 0
    tracer.shutdown()
    assert value("tracestream_sdk_events_sent_total", {"service": "svc"}) is None


def test_configure_reads_settings_and_sets_the_global_tracer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry

    monkeypatch.setenv("TRACESTREAM_SERVICE", "from-env")
    monkeypatch.setenv("TRACESTREAM_SDK_SAMPLE_RATE", "0")
    monkeypatch.setenv("TRACESTREAM_RELEASE", "v9")
    transport = InMemoryTransport()
    previous = set_tracer(None)
    try:
        tracer = tracestream.configure(
            transport=transport, metrics_registry=CollectorRegistry(), project="proj"
        )
        assert get_tracer() is tracer
        assert (tracer.project, tracer.service, tracer.release) == ("proj", "from-env", "v9")
        with tracer.span("x"):
            pass
        assert transport.records == []  # sample rate 0
        again = tracestream.configure(
            transport=InMemoryTransport(), metrics_registry=CollectorRegistry()
        )
        assert get_tracer() is again
        again.shutdown()
    finally:
        set_tracer(previous)


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        Tracer(project="p", service="s", sample_rate=2.0, flush_at_exit=False)
    with pytest.raises(ValueError, match="service"):
        Tracer(project="p", service="", flush_at_exit=False)
