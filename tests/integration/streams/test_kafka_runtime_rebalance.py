"""The aiokafka runtime with two workers: trace state follows its partitions.

Worker A alone sees every trace's root start and a child span; worker B joins
(the group splits the partitions: B restores its partitions' trace state from
the changelog, A drops them); the roots' ends then arrive and each trace must
be assembled whole (both spans) by whichever worker now owns its partition.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.kafka_fixture import KAFKA_TOPIC_PARTITIONS
from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics

from ._kafka_io import consume, produce
from .test_worker_dlq import worker_env

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

N = 24
_ASSIGNED = re.compile(r"partitions assigned: \[(\d[\d, ]*)\]")


@pytest.fixture(autouse=True)
def worker_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """Only the aiokafka runtime (the Faust runtime's rebalancing is Faust's own)."""
    monkeypatch.setenv("TRACESTREAM_WORKER_ENGINE", "aiokafka")
    return "aiokafka"


def _event(
    i: int, n: int, event_type: str, **fields: object
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    trace_id = f"{i + 1:032x}"
    base = {
        "event_id": f"01936f4e-7c2a-7def-8a4b-{n:04x}{i:08x}",
        "event_type": event_type,
        "project": "p",
        "service": "checkout",
        "trace_id": trace_id,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return trace_id.encode(), orjson.dumps({**base, **fields}), []


async def _wait_shared(worker: WorkerProcess, total: int, timeout_s: float = 60) -> None:
    """Until the worker's last assignment holds some but not all ``total`` partitions."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _ASSIGNED.findall(worker.log_path.read_text(errors="replace"))
        if found and 0 < len(found[-1].split(",")) < total:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"no shared assignment:\n{worker.log_tail()}")


async def test_trace_state_moves_with_its_partitions(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    now = datetime.now(UTC)
    start, end = (now - timedelta(seconds=2)).isoformat(), (now - timedelta(seconds=1)).isoformat()
    root, child = "10f067aa0ba902b7", "20f067aa0ba902b7"
    firsts = []
    for i in range(N):
        firsts.append(_event(i, 1, "span.start", span_id=root, kind="workflow", name="w",
                             start_time=start))  # fmt: skip
        firsts.append(_event(i, 2, "span", span_id=child, parent_span_id=root, kind="tool",
                             name="t", start_time=start, end_time=end, status="ok"))  # fmt: skip
    ends = [_event(i, 3, "span.end", span_id=root, end_time=end, status="ok") for i in range(N)]
    env = {
        **worker_env(kafka_bootstrap, topic_prefix),
        "TRACESTREAM_WORKER_SESSION_TIMEOUT_MS": "6000",
    }
    await produce(kafka_bootstrap, topics.events, firsts)
    with WorkerProcess(env, tmp_path / "a") as a:
        assert len(await consume(kafka_bootstrap, topics.spans, N)) == N  # the children
        with WorkerProcess(env, tmp_path / "b") as b:
            await _wait_shared(b, KAFKA_TOPIC_PARTITIONS)
            await _wait_shared(a, KAFKA_TOPIC_PARTITIONS)
            await produce(kafka_bootstrap, topics.events, ends)
            traces = await consume(kafka_bootstrap, topics.traces, N, timeout_s=60)
    by_id = {orjson.loads(t.value)["trace_id"]: orjson.loads(t.value) for t in traces}
    assert len(by_id) == N
    assert {t["span_count"] for t in by_id.values()} == {2}
    assert {t["status"] for t in by_id.values()} == {"ok"}
