"""The broker goes away for 20 s under a running worker and sink: a few lines, little CPU, nothing lost.

The shared broker is never stopped: this test starts a broker of its own on
a free port through the project's tooling (``tracestream.broker``). A real
``tracestream worker`` (each runtime in turn) and a real ``tracestream sink``
(into chDB) run against it as child processes. Traces flow, the broker is
stopped (SIGTERM, as ``kafka.sh stop`` does), kept down ~20 s and started
again, and traces flow again. Measured over the outage, for each process:
the lines it wrote and its CPU seconds. Before the log policy and the paced
reconnects a Faust worker wrote ~29k lines and used ~18% of a core in such an
outage, an aiokafka worker ~2k lines.

Asserted, as generous ratios (no timing): fewer than 50 lines per process,
under 10% of a core each, the lost and back lines written, and every span
sent before and after the outage stored (lost = 0, no duplicate under FINAL).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracestream._worker_process import WorkerProcess
from tracestream.broker import ensure_topics
from tracestream.schemas import Topics

from ._flow import (
    OwnBroker,
    SinkProcess,
    SteadyProducer,
    count,
    events_in,
    own_broker,
    wait_published,
    worker_env,
)

pytestmark = pytest.mark.faults

PREFIX = "outage-"
OUTAGE_S = 20.0
MAX_LINES = 50
MAX_CPU_FRACTION = 0.10  # of one core, over the outage's wall time


def _digest(lines: list[str]) -> str:
    """The lines, each cut to its first 200 characters (the totals are long)."""
    return "\n    ".join(line[:200] for line in lines) or "(none)"


async def _traffic(bootstrap: str, topic: str, seconds: float) -> set[str]:
    producer = SteadyProducer(bootstrap, topic)
    producer.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await producer.close()
    return await producer.stop()


async def _wait_processed_beyond(worker: WorkerProcess, processed: float) -> None:
    for _ in range(300):
        if await events_in(worker) > processed:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the worker did not resume:\n{worker.log_tail()}")


async def _wait_stored(sink: SinkProcess, spans: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if await asyncio.to_thread(sink.rows_written, "spans") >= spans:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the sink did not store {spans} spans:\n{sink.log_tail()}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    """One broker of this module alone for both engines' runs (each its own topic
    prefix and group): a second broker start cost ~15-20 s of the suite."""
    with own_broker(tmp_path_factory.mktemp("outage-broker")) as started:
        yield started


async def test_a_broker_outage_is_a_few_lines_and_cheap_for_worker_and_sink(
    tmp_path: Path, worker_engine: str, broker: OwnBroker
) -> None:
    prefix = f"{PREFIX}{worker_engine}."
    topics = Topics(prefix)
    bootstrap = broker.bootstrap
    await ensure_topics(bootstrap, topics, 3, 1, 3_600_000)
    env = worker_env(bootstrap, prefix)
    worker = WorkerProcess(env, tmp_path / "worker")
    sink = SinkProcess(env, tmp_path / "sink")
    try:
        await asyncio.to_thread(worker.start, timeout_s=120.0)
        await asyncio.to_thread(sink.start)
        sent = await _traffic(bootstrap, topics.events, 4.0)
        await _wait_stored(sink, len(sent))

        marks = {p: len(p.log_lines()) for p in (worker, sink)}
        cpu = {p: p.cpu_seconds() for p in (worker, sink)}
        began = time.monotonic()
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(broker.start)
        # CPU over the outage proper: from the stop until the broker is up again.
        outage_s = time.monotonic() - began
        used = {p: p.cpu_seconds() - cpu[p] for p in (worker, sink)}
        processed = await events_in(worker)
        sent |= await _traffic(bootstrap, topics.events, 3.0)
        await _wait_processed_beyond(worker, processed)
        # Lines from the stop until the worker processes again (the "back" lines included).
        during = {p: p.log_lines()[marks[p] :] for p in (worker, sink)}

        await wait_published(bootstrap, topics, sent)
        await _wait_stored(sink, len(sent))
    finally:
        worker.stop()
        sink.stop()
    storage = sink.storage()
    try:
        result = await count(bootstrap, topics, storage, sent, 0)
    finally:
        storage.close()

    print(
        f"\n[{worker_engine}] broker stopped, down {OUTAGE_S:.0f}s and started again: "
        f"{outage_s:.1f}s; CPU over that time, lines until the worker processed again:\n"
        f"  worker: {len(during[worker])} lines, {used[worker]:.2f} CPU-s "
        f"({used[worker] / outage_s:.1%} of a core)\n    {_digest(during[worker])}\n"
        f"  sink:   {len(during[sink])} lines, {used[sink]:.2f} CPU-s "
        f"({used[sink] / outage_s:.1%} of a core)\n    {_digest(during[sink])}\n"
        f"  {result.line()}"
    )
    for process in (worker, sink):
        lines = during[process]
        assert len(lines) < MAX_LINES, _digest(lines)
        assert used[process] < MAX_CPU_FRACTION * outage_s
        assert any(re.search(r"cannot connect to Kafka at ", line) for line in lines)
        assert any(re.search(r"connected to Kafka at \S+ again after", line) for line in lines)
    assert result.lost == 0
    assert result.duplicates_under_final == 0
