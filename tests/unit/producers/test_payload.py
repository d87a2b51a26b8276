"""What leaves the process: size caps with a marker, odd values, the mask hook, sampling."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from tracestream.producers import TRUNCATED_KEY, InMemoryTransport, Tracer
from tracestream.producers._ids import new_event_id, new_trace_id, sample_bound, trace_sampled

from .conftest import parsed

pytestmark = pytest.mark.unit


def make(transport: InMemoryTransport, **kwargs: Any) -> Tracer:
    return Tracer(project="p", service="s", transport=transport, flush_at_exit=False, **kwargs)


def test_oversize_values_are_truncated_with_a_visible_marker(transport: InMemoryTransport) -> None:
    tracer = make(transport, max_payload_bytes=1024)
    with tracer.tool("t", arguments={"blob": "a" * 5000}) as span:
        span.record_input("small")
        span.record_output(["b" * 3000])
        span.set_attribute("big", "c" * 2000)
        span.set_attribute("ok", 1)
    (event,) = parsed(transport)
    assert event.input == "small"
    assert event.output[TRUNCATED_KEY] is True
    assert event.output["original_bytes"] == 3000 + 4
    assert event.output["preview"].startswith('["bbb')
    assert event.attributes["big"][TRUNCATED_KEY] is True
    assert event.attributes["ok"] == 1
    assert event.tool is not None and event.tool.arguments[TRUNCATED_KEY] is True
    tracer.shutdown()


def test_whole_event_stays_under_the_event_cap(transport: InMemoryTransport) -> None:
    tracer = make(transport, max_payload_bytes=60_000, max_event_bytes=100_000)
    with tracer.span("many") as span:
        for i in range(10):
            span.set_attribute(f"a{i}", "x" * 50_000)
    ((_, value),) = transport.records
    assert len(value) <= 100_000
    (event,) = parsed(transport)
    assert all(v[TRUNCATED_KEY] for v in event.attributes.values())
    tracer.shutdown()


def test_values_json_cannot_carry_are_converted(transport: InMemoryTransport) -> None:
    @dataclasses.dataclass
    class Point:
        x: int

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    tracer = make(transport)
    with tracer.span("odd") as span:
        span.record_input(
            {
                "set": {1},
                "bytes": b"\x00\x01",
                "point": Point(1),
                "obj": Opaque(),
                "bad": BadRepr(),
                "when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "huge": 2**100,
                1: "int key",
            }
        )
        span.record_output(ValueError("as output"))
    (event,) = parsed(transport)
    assert event.input["set"] == [1]
    assert event.input["bytes"] == {"tracestream.bytes": 2}
    assert event.input["point"] == {"x": 1}
    assert event.input["obj"] == "<opaque>"
    assert event.input["bad"] == "<BadRepr>"
    assert event.input["huge"] == str(2**100)
    assert event.input["1"] == "int key"
    assert event.output == "ValueError: as output"
    tracer.shutdown()


def test_mask_hook_runs_on_everything_that_leaves(transport: InMemoryTransport) -> None:
    def mask(value: Any) -> Any:
        return "***" if isinstance(value, str) and "secret" in value else value

    tracer = make(transport, mask=mask)
    with tracer.tool("t", arguments="secret args") as span:
        span.record_input("secret in")
        span.record_output("public")
    (event,) = parsed(transport)
    assert event.input == "***"
    assert event.output == "public"
    assert event.tool is not None and event.tool.arguments == "***"
    tracer.shutdown()


def test_failing_mask_never_sends_the_unmasked_value(transport: InMemoryTransport) -> None:
    def mask(value: Any) -> Any:
        raise RuntimeError("mask bug")

    tracer = make(transport, mask=mask)
    with tracer.span("s", input="card 4111 1111 1111 1111"):
        pass
    ((_, value),) = transport.records
    assert b"4111" not in value
    (event,) = parsed(transport)
    assert event.input == {"tracestream.mask_failed": True}
    tracer.shutdown()


def test_head_sampling_is_decided_by_trace_id(transport: InMemoryTransport) -> None:
    tracer = make(transport, sample_rate=0.25)
    kept = 0
    for _ in range(4000):
        with tracer.trace("t") as root, tracer.span("child") as child:
            assert child.recording is root.recording
        kept += root.recording
    assert 800 < kept < 1200
    assert len(transport.records) == 2 * kept
    assert tracer.stats().sampled_out == 2 * (4000 - kept)
    bound = sample_bound(0.25)
    for event in parsed(transport):
        assert trace_sampled(event.trace_id, bound)
    tracer.shutdown()


def test_sampling_decision_is_the_same_in_every_process() -> None:
    trace_id = "0" * 16 + "3fffffffffffffff"  # lower 64 bits = 0.25 * 2**64 - 1
    assert trace_sampled(trace_id, sample_bound(0.25))
    assert not trace_sampled(trace_id, sample_bound(0.2))
    assert trace_sampled(new_trace_id(), sample_bound(1.0))
    assert not trace_sampled(new_trace_id(), sample_bound(0.0))


def test_uuid7_layout() -> None:
    event_id = new_event_id(1_700_000_000_123_456_789)
    assert event_id[14] == "7" and event_id[19] in "89ab"
    assert int(event_id.replace("-", "")[:12], 16) == 1_700_000_000_123
