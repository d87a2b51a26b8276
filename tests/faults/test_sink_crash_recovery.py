"""``kill -9`` of the sink mid-stream, then a restart: how long until it stores again, and nothing lost.

The real ``tracestream sink`` (into chDB, a child process) consumes what the
real worker publishes from a steady flow of traces on the shared broker. The
sink is SIGKILLed while it consumes (rows fetched and perhaps inserted, their
offsets not committed) and started again under the same member name. The
test prints the gap from the restart to the first row the new process
stored (measured here 2.1 s on a quiet machine, 8-11 s under others' load,
nearly all of it the process's start: imports, opening chDB and its first
query; the group join itself takes ~50 ms, the same generation), and asserts that every span sent is stored once under ``FINAL``:
the restarted sink re-reads from the last committed offset, and the dedup
tokens and replacing keys absorb what the dead one had already inserted.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics

from ._flow import (
    SinkProcess,
    SteadyProducer,
    count,
    dropped_spans,
    wait_published,
    worker_env,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]


@pytest.fixture
def worker_engine() -> str:
    """This directory runs each test under both worker engines; the sink is the same in both."""
    return "aiokafka"


async def _first_stored_s(sink: SinkProcess) -> float:
    """Seconds from the sink's last spawn to the first span row it stored."""
    for _ in range(1200):
        try:
            if await asyncio.to_thread(sink.rows_written, "spans") > 0:
                return time.monotonic() - sink.spawned_at
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"the restarted sink stored nothing:\n{sink.log_tail()}")


async def _wait_drained(sink: SinkProcess) -> None:
    """Until the sink has fetched everything and a flush interval has passed."""
    for _ in range(600):
        if await asyncio.to_thread(sink.lag) == 0:
            await asyncio.sleep(2.0)  # batch_max_ms (1 s) and the commit after it
            if await asyncio.to_thread(sink.lag) == 0:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the sink did not catch up:\n{sink.log_tail()}")


async def test_a_killed_sink_restarts_within_seconds_and_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    env = worker_env(kafka_bootstrap, topic_prefix)
    worker = WorkerProcess(env, tmp_path / "worker")
    sink = SinkProcess(env, tmp_path / "sink", args=["--verbose"])
    producer = SteadyProducer(kafka_bootstrap, topics.events)
    try:
        await asyncio.to_thread(worker.start, timeout_s=120.0)
        await asyncio.to_thread(sink.start)
        producer.start()
        await _first_stored_s(sink)
        await asyncio.sleep(1.5)  # mid-stream: more fetched and buffered
        sink.kill()
        await asyncio.to_thread(sink.start)
        gap_s = await _first_stored_s(sink)
        await asyncio.sleep(3.0)
        sent = await producer.stop()
        await wait_published(kafka_bootstrap, topics, sent)
        await _wait_drained(sink)
        dropped = await asyncio.to_thread(dropped_spans, worker)
    finally:
        await producer.close()
        worker.stop()
        sink.stop()
    storage = sink.storage()
    try:
        result = await count(kafka_bootstrap, topics, storage, sent, dropped)
    finally:
        storage.close()

    joins = [
        line
        for line in sink.log_lines()
        if "joining consumer group" in line or "Joined group" in line or "WARN" in line
    ]
    print(
        f"\nsink killed (SIGKILL) mid-stream and restarted: first span row stored "
        f"{gap_s:.2f}s after the restart; {result.line()}"
        + "".join(f"\n  {line[:200]}" for line in joins[-4:])
    )
    assert result.lost == 0
    assert result.duplicates_under_final == 0
    assert result.stored == result.sent
