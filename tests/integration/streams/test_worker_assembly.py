"""The real worker against the real broker: redacted, priced spans; assembled traces;
assembly state survives a worker restart (restored from the changelog)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics

from ._kafka_io import consume, produce
from .test_worker_dlq import worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TRACE = "5bf92f3577b34da6a3ce929d0e0e4737"
ROOT = "10f067aa0ba902b7"
CHILD = "20f067aa0ba902b7"


def _event(event_id_tail: str, event_type: str, **fields: object) -> bytes:
    t0 = datetime.now(UTC) - timedelta(seconds=2)
    base: dict[str, object] = {
        "event_id": f"01936f4e-7c2a-7def-8a4b-0000000000{event_id_tail}",
        "event_type": event_type,
        "project": "p",
        "service": "checkout",
        "trace_id": TRACE,
        "timestamp": t0.isoformat(),
    }
    return orjson.dumps({**base, **fields})


async def test_spans_traces_and_restart_restores_assembly_state(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    now = datetime.now(UTC)
    start = (now - timedelta(seconds=2)).isoformat()
    end = (now - timedelta(seconds=1)).isoformat()
    root_start = _event("01", "span.start", span_id=ROOT, kind="workflow", name="checkout",
                        start_time=start)  # fmt: skip
    child = _event(
        "02", "span", span_id=CHILD, parent_span_id=ROOT, kind="generation", name="answer",
        start_time=start, end_time=end, status="ok",
        model={"name": "gpt-4o", "provider": "openai"},
        input=[{"role": "user", "content": "mail me at jane.doe@example.com"}],
        usage={"input_tokens": 1000, "output_tokens": 100},
    )  # fmt: skip
    root_end = _event("03", "span.end", span_id=ROOT, end_time=end, status="ok")
    env = worker_env(kafka_bootstrap, topic_prefix)

    await produce(kafka_bootstrap, topics.events, [(TRACE.encode(), root_start, []),
                                                   (TRACE.encode(), child, [])])  # fmt: skip
    with WorkerProcess(env, tmp_path / "first"):
        spans = await consume(kafka_bootstrap, topics.spans, 1)
    assert len(spans) == 1
    span = orjson.loads(spans[0].value)
    assert span["span_id"] == CHILD
    assert "jane.doe@example.com" not in spans[0].value.decode()
    assert {"detector": "email", "field": "input[0].content", "count": 1} in span[
        "redactions"
    ] or any(r["detector"] == "email" for r in span["redactions"])
    assert span["cost"] is not None and span["cost"]["total_usd"] > 0

    # The root ends while the worker is down; a new worker process must know the
    # trace's first two events from the changelog to assemble it.
    await produce(kafka_bootstrap, topics.events, [(TRACE.encode(), root_end, [])])
    with WorkerProcess(env, tmp_path / "second"):
        traces = await consume(kafka_bootstrap, topics.traces, 1, timeout_s=120)
    assert len(traces) == 1
    trace = orjson.loads(traces[0].value)
    assert trace["trace_id"] == TRACE
    assert trace["span_count"] == 2
    assert trace["status"] == "ok"
    assert trace["root_span_id"] == ROOT

    # The emitted trace lingers, held dormant and changelogged as such. A late span
    # reaches a third worker: restored dormant from the changelog, it must re-emit
    # the whole trace with the next version (not start a new one-span trace).
    late = _event(
        "04", "span", span_id="30f067aa0ba902b7", parent_span_id=ROOT, kind="tool",
        name="lookup", start_time=start, end_time=end, status="ok",
    )  # fmt: skip
    await produce(kafka_bootstrap, topics.events, [(TRACE.encode(), late, [])])
    with WorkerProcess(env, tmp_path / "third") as third:
        traces = await consume(kafka_bootstrap, topics.traces, 2, timeout_s=120)
        log = third.log_tail()
    assert len(traces) == 2, f"the third worker re-emitted nothing; its log:\n{log}"
    again = orjson.loads(traces[1].value)
    assert (again["trace_id"], again["version"], again["span_count"]) == (TRACE, 2, 3)
    assert again["status"] == "ok"
