"""``kill -9`` of a worker mid-stream, then a restart: how long until it works, and nothing lost.

Traces flow at a steady rate onto the events topic of the shared broker while
the real ``tracestream worker`` runs (the aiokafka runtime, see
below). The worker is SIGKILLed (no clean shutdown, no final
commit) and started again under the same member name, as a supervisor would
restart it. The test prints the gap from the restart to the first record the
new process consumed; before static membership that gap was the dead
member's whole session timeout (~30 s). It asserts what must hold whatever
the machine's speed: every span sent is stored, dead-lettered or dropped and
counted (lost = 0), and ``FINAL`` leaves no duplicate of a replayed span.

The second test runs three workers in one group and kills one of them.

Both run on the default aiokafka runtime only. The Faust runtime is a dynamic
group member (``streams/runtime/_faust.py`` says why), so its restart after a
crash always rebalances the group, and faust-streaming 0.15.3 can lose records
that a rebalance catches in its buffers: CI measured 3 of 1,086 and 4 of 1,284
spans lost (missing span ids listed) where runs on a quiet machine lost none.
That is a defect of that engine, kept visible in its docs and the closing
notes, not a condition this suite may relax.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tracestream._worker_process import WorkerProcess
from tracestream.schemas import Topics

from ._flow import (
    SteadyProducer,
    count,
    dropped_spans,
    first_processed_s,
    store,
    wait_group_stable,
    wait_processed,
    wait_published,
    worker_env,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]


@pytest.fixture(autouse=True)
def worker_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The aiokafka runtime only (see the module's docstring); overrides the
    directory's two-engine fixture."""
    monkeypatch.setenv("TRACESTREAM_WORKER_ENGINE", "aiokafka")
    return "aiokafka"


def _joins(worker: WorkerProcess) -> list[str]:
    """The lines of the worker's log about joining its group and getting partitions."""
    return [
        line.split("] ", 3)[-1]
        for line in worker.log_lines()
        if "joining consumer group" in line
        or "partitions assigned" in line
        or "joined group" in line
        or "still waiting for partitions" in line
    ]


async def _restart(worker: WorkerProcess) -> float:
    """Start the killed worker again (same workdir, port and so member slot); the gap."""
    await asyncio.to_thread(worker.start, timeout_s=120.0)
    return await first_processed_s(worker)


async def test_a_killed_worker_restarts_within_seconds_and_loses_nothing(
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: Topics,
    tmp_path: Path,
    worker_engine: str,
) -> None:
    topics = kafka_topics
    worker = WorkerProcess(worker_env(kafka_bootstrap, topic_prefix), tmp_path / "worker")
    producer = SteadyProducer(kafka_bootstrap, topics.events)
    try:
        await asyncio.to_thread(worker.start, timeout_s=120.0)
        producer.start()
        await wait_processed([worker], 150)  # mid-stream
        worker.kill()
        gap_s = await _restart(worker)
        await asyncio.sleep(3.0)  # steady traffic through the restarted worker
        sent = await producer.stop()
        await wait_published(kafka_bootstrap, topics, sent)
        dropped = await asyncio.to_thread(dropped_spans, worker)
    finally:
        await producer.close()
        worker.stop()
    storage = await store(kafka_bootstrap, topics, topic_prefix, tmp_path / "chdb")
    try:
        result = await count(kafka_bootstrap, topics, storage, sent, dropped)
    finally:
        storage.close()

    print(
        f"\n[{worker_engine}] worker killed (SIGKILL) mid-stream and restarted: first record "
        f"processed {gap_s:.2f}s after the restart; {result.line()}\n  "
        + "\n  ".join(_joins(worker)[-3:])
    )
    assert result.lost == 0
    assert result.duplicates_under_final == 0
    assert result.stored == result.sent  # all valid, no cap reached: every span stored


async def test_one_of_three_workers_killed_and_restarted_loses_nothing(
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: Topics,
    tmp_path: Path,
    worker_engine: str,
) -> None:
    topics = kafka_topics
    env = worker_env(kafka_bootstrap, topic_prefix)
    workers = [WorkerProcess(env, tmp_path / f"worker-{i}") for i in range(3)]
    producer = SteadyProducer(kafka_bootstrap, topics.events)
    victim = workers[1]
    try:
        for w in workers:
            await asyncio.to_thread(w.start, timeout_s=120.0)
        # Traffic only once the group has settled: the fault under test is the kill.
        await wait_group_stable(kafka_bootstrap, f"{topic_prefix}tracestream-worker", 3)
        producer.start()
        await wait_processed(workers, 300)
        survivors_before = [len(_joins(w)) for w in (workers[0], workers[2])]
        victim.kill()
        gap_s = await _restart(victim)
        await asyncio.sleep(3.0)
        sent = await producer.stop()
        await wait_published(kafka_bootstrap, topics, sent)
        dropped = sum([await asyncio.to_thread(dropped_spans, w) for w in workers])
        survivors_after = [len(_joins(w)) for w in (workers[0], workers[2])]
    finally:
        await producer.close()
        for w in workers:
            w.stop()
    storage = await store(kafka_bootstrap, topics, topic_prefix, tmp_path / "chdb")
    try:
        result = await count(kafka_bootstrap, topics, storage, sent, dropped)
    finally:
        storage.close()

    rebalances = [after - before for before, after in zip(survivors_before, survivors_after, strict=True)]  # fmt: skip
    print(
        f"\n[{worker_engine}] 1 of 3 workers killed (SIGKILL) and restarted: first record "
        f"processed {gap_s:.2f}s after the restart; join/assignment lines the two survivors "
        f"logged meanwhile: {rebalances}; {result.line()}\n  " + "\n  ".join(_joins(victim)[-3:])
    )
    assert result.lost == 0
    assert result.duplicates_under_final == 0
    assert result.stored == result.sent
