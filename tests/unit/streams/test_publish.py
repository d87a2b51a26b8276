"""The shared publish / retry / observe path, without a broker.

An in-memory transport (``_transport.py``) stands in for the producer: it
records what each attempt queued and fails the attempts it is told to. What
the broker really does with a refused batch is the fault suite's job
(tests/faults/test_worker_publish_failure.py, under both runtimes).
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tests.unit.streams._transport import MemoryTransport, Refused
from tracestream.schemas import Topics
from tracestream.streams import (
    AnomalyScorer,
    Assembler,
    BatchOutput,
    Pipeline,
    PipelineMetrics,
    Pricer,
    Redactor,
    SourceRecord,
    Stages,
    Validator,
    WindowAggregator,
)
from tracestream.streams.runtime import Backoff, Message, Publisher
from tracestream.streams.runtime._publisher import output_messages, window_key

pytestmark = pytest.mark.unit

TOPICS = Topics("t.")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CHANGELOG: list[Message] = [
    ("app.trace-state", 2, TRACE.encode(), b"state", None),
    ("app.window-state", 0, b"p|s", None, None),
]


def _event(n: int, at: datetime, *, root: bool) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"01936f4e-7c2a-7def-8a4b-{n:012x}",
            "event_type": "span",
            "project": "p",
            "service": "s",
            "trace_id": TRACE,
            "span_id": f"{n + 1:016x}",
            "parent_span_id": None if root else f"{1:016x}",
            "timestamp": at.isoformat(),
            "kind": "tool",
            "name": "lookup",
            "start_time": (at - timedelta(milliseconds=80)).isoformat(),
            "end_time": at.isoformat(),
        }
    )


def _output(metrics: PipelineMetrics) -> BatchOutput:
    """A batch with two spans, their trace and a dead letter (no grace: emitted at once)."""
    stages = Stages(
        Validator(max_event_bytes=100_000, max_depth=16),
        Redactor(),
        Assembler(Pricer(), {}, grace_s=0),
        windows=WindowAggregator({}),
        scorer=AnomalyScorer({}),
    )
    at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    values = [_event(1, at, root=False), _event(0, at, root=True), b"not json"]
    records = [SourceRecord("events", 0, i, TRACE.encode(), v) for i, v in enumerate(values)]
    now_ms = int(at.timestamp() * 1000) + 1
    pipeline = Pipeline(stages, metrics)
    out = pipeline.process(records, now_ms=now_ms)
    out.extend(pipeline.tick(now_ms=now_ms + 1))
    return out


def _sample(registry: CollectorRegistry, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets)."""
    return sum(s.value for m in registry.collect() for s in m.samples if s.name == name)


def _publisher(
    transport: MemoryTransport, registry: CollectorRegistry
) -> tuple[Publisher, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    publisher = Publisher(
        transport, TOPICS, PipelineMetrics(registry), lambda: list(CHANGELOG), sleep=sleep
    )
    return publisher, slept


def test_backoff_doubles_from_a_tenth_of_a_second_up_to_five() -> None:
    delays = list(itertools.islice(Backoff().delays_s(), 9))
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    custom = list(itertools.islice(Backoff(initial_s=1, max_s=2.5, factor=3).delays_s(), 3))
    assert custom == [1, 2.5, 2.5]


def test_output_messages_keys_and_order() -> None:
    out = _output(PipelineMetrics(CollectorRegistry()))
    messages = output_messages(TOPICS, out)
    assert [m[0] for m in messages] == [
        TOPICS.events_dlq,
        TOPICS.spans,
        TOPICS.spans,
        TOPICS.traces,
    ]
    assert all(m[1] is None for m in messages)  # placed by the default partitioner
    assert {m[2] for m in messages[1:]} == {TRACE.encode()}  # one trace, one partition
    assert messages[0][2] == TRACE.encode() and messages[0][3] == b"not json"  # kept as read
    assert orjson.loads(messages[3][3] or b"")["trace_id"] == TRACE


def test_window_key_is_the_metric_key() -> None:
    class _W:
        project, service, model, kind, name = "p", "s", "m", "tool", "lookup"

    assert window_key(_W()) == b"p|s|m|tool|lookup"  # type: ignore[arg-type]


async def test_a_refused_batch_is_counted_and_resent_whole_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    transport = MemoryTransport(["nack", "queue"])
    publisher, slept = _publisher(transport, registry)
    out = _output(publisher.metrics)
    spans_before = _sample(registry, "tracestream_spans_total")
    with caplog.at_level(logging.WARNING):
        await publisher.publish(out)

    expected = output_messages(TOPICS, out)
    # Three attempts of the whole output (never the unacknowledged part only), then
    # the changelog once the outputs are acknowledged.
    assert transport.attempts == [expected, expected, expected, CHANGELOG]
    assert transport.acked == [*expected, *CHANGELOG]
    assert slept == pytest.approx([0.1, 0.2])
    assert transport.resets == 2
    assert _sample(registry, "tracestream_publish_failures_total") == 2
    assert (
        registry.get_sample_value("tracestream_publish_failures_total", {"error": "Refused"}) == 2
    )
    # Observed once, after the acks: a resent span is not counted twice.
    assert _sample(registry, "tracestream_spans_total") - spans_before == 2
    assert _sample(registry, "tracestream_traces_total") == 1
    # One line when the batch is first held, one when it is acknowledged: not one per retry.
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == (
        f"publishing a batch of {len(expected)} records failed (Refused: record too large); "
        "holding it and sending it again with backoff (first in 0.1s, then up to every 5s) "
        "until the broker acknowledges it"
    )
    assert lines[1].startswith(f"published the held batch of {len(expected)} records after ")
    assert lines[1].endswith("s and 2 failed attempts")
    assert len(lines) == 2


class _Unreachable(Exception):
    """Another kind of failure than :class:`Refused`."""


class _Failing:
    """Fails the first attempts with the given errors, then acknowledges."""

    def __init__(self, errors: list[Exception]) -> None:
        self._errors = iter(errors)

    async def send(self, messages: object, acks: list[object]) -> None:
        error = next(self._errors, None)
        if error is not None:
            raise error

    async def reset(self) -> None:
        pass


async def test_a_long_hold_logs_reminders_and_a_new_error_kind_not_every_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    registry = CollectorRegistry()
    # 40 refusals at up to 5 s apart (~3 minutes), then another kind, then the ack.
    errors: list[Exception] = [Refused("queue full")] * 40 + [_Unreachable("no broker")]
    publisher = Publisher(
        _Failing(errors),  # type: ignore[arg-type]
        TOPICS,
        PipelineMetrics(registry),
        list,
        sleep=sleep,
        clock=lambda: now[0],
    )
    with caplog.at_level(logging.WARNING):
        await publisher.send_until_acked(CHANGELOG)
    lines = [r.getMessage() for r in caplog.records]
    assert _sample(registry, "tracestream_publish_failures_total") == 41
    assert lines[0].startswith("publishing a batch of 2 records failed (Refused: queue full)")
    reminders = lines[1:-1]
    assert all(line.startswith("still holding the batch of 2 records") for line in reminders)
    held_s = sum(slept[:40])  # when the 41st attempt (the new kind) failed
    assert len(reminders) == int(held_s // 60) + 1  # one a minute, and one for the new kind
    assert reminders[-1].endswith("failed attempts (now _Unreachable: no broker)")
    assert lines[-1] == (
        f"published the held batch of 2 records after {sum(slept):.1f}s and 41 failed attempts"
    )


async def test_a_refused_changelog_resends_only_the_changelog() -> None:
    registry = CollectorRegistry()
    # Attempt 1 (outputs) is acked; attempt 2 (the changelog) is refused.
    transport = MemoryTransport(["ack", "nack"])
    publisher, slept = _publisher(transport, registry)
    out = _output(publisher.metrics)
    await publisher.publish(out)
    assert transport.attempts == [output_messages(TOPICS, out), CHANGELOG, CHANGELOG]
    assert slept == pytest.approx([0.1])
    assert _sample(registry, "tracestream_publish_failures_total") == 1


async def test_nothing_to_send_sends_nothing_but_still_observes() -> None:
    registry = CollectorRegistry()
    transport = MemoryTransport()
    publisher = Publisher(transport, TOPICS, PipelineMetrics(registry), list)
    await publisher.publish(BatchOutput())
    assert transport.attempts == []
    assert _sample(registry, "tracestream_publish_failures_total") == 0


def test_commit_failures_are_counted_apart() -> None:
    registry = CollectorRegistry()
    publisher, _ = _publisher(MemoryTransport(), registry)
    publisher.note_commit_failure(Refused("rebalanced"))
    labels = {"error": "commit_Refused"}
    assert registry.get_sample_value("tracestream_publish_failures_total", labels) == 1


def test_observe_batch_sets_lag_per_partition_best_effort() -> None:
    registry = CollectorRegistry()
    publisher, _ = _publisher(MemoryTransport(), registry)

    def highwater(topic: str, partition: int) -> int | None:
        if partition == 2:
            raise RuntimeError("not assigned any more")
        return {0: 110, 1: None, 3: 40}[partition]

    publisher.observe_batch(
        0.25, {("e", 0): 100, ("e", 1): 5, ("e", 2): 7, ("e", 3): 50}, highwater
    )
    lag = "tracestream_consumer_lag_records"
    assert registry.get_sample_value(lag, {"topic": "e", "partition": "0"}) == 10
    assert registry.get_sample_value(lag, {"topic": "e", "partition": "1"}) is None
    assert registry.get_sample_value(lag, {"topic": "e", "partition": "2"}) is None
    # A high watermark behind the position (a stale read) is no lag, not a negative one.
    assert registry.get_sample_value(lag, {"topic": "e", "partition": "3"}) == 0
    assert registry.get_sample_value("tracestream_batch_duration_seconds_count") == 1
    assert (registry.get_sample_value("tracestream_last_batch_timestamp_seconds") or 0) > 0
