"""The embedded engine refuses inserts for 30 s under the real sink: it holds, commits nothing, and catches up.

The real ``tracestream sink`` child owns its chDB directory (the default
engine, in its process). Span records flow steadily onto the spans topic
(written directly: the worker plays no part in a storage failure). Mid-stream
an operator makes the sink's own engine refuse, the way a ClickHouse server
refuses under a real fault, through the operator's path into the embedded
engine: ``tracestream admin "ALTER TABLE spans MODIFY SETTING ..."``, which
the sink's query server runs in the sink's engine. Nothing is mocked: the
errors are ClickHouse's own.

- 0-15 s: ``parts_to_throw_insert = 1``: every insert fails with
  ``Code: 252 ... Too many parts (TOO_MANY_PARTS)``, what a server says when
  merges fall behind inserts;
- 15-30 s: ``parts_to_throw_insert`` back to its default and
  ``min_free_disk_bytes_to_perform_insert`` = 1 EiB: every insert fails with
  ``Code: 243 ... (NOT_ENOUGH_SPACE)``, what a full disk looks like to it;
- then both settings reset: inserts succeed again.

Asserted: the sink's committed offsets are the same at the failure's start
and end while records wait on the topic, the sink stays alive, its log has a
line when inserts start failing, one when the cause changes (252 -> 243), and
one when they succeed again, not one per retry; reads through its query
server keep answering; after recovery every span sent is stored exactly once
under ``FINAL`` and nothing went to a dead-letter topic (lost = 0).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.kafka_fixture import KAFKA_TOPIC_PARTITIONS
from tracestream._kafka_names import KafkaNames
from tracestream._worker_process import metric_value
from tracestream.schemas import Topics
from tracestream.sinks import Storage

from ._flow import (
    SinkProcess,
    SteadyProducer,
    all_committed,
    count,
    group_offsets,
    sink_pausing,
    span_record_batches,
    until,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

FAILING_S = 30.0
#: The sink's backoff cap: a line per retry would be ~30 lines in the failure.
RETRY_MAX_MS = 1_000
#: Storage lines allowed while it fails: failing (252), the cause changed (243),
#: and one to spare for a reminder or a second table's first failure.
MOST_FAILING_LINES = 4
#: More free bytes than any disk has: the engine's own disk-space guard refuses.
NO_DISK_IS_THIS_BIG = 2**60


@pytest.fixture
def worker_engine() -> str:
    """No worker runs here: one run, not one per worker engine."""
    return "aiokafka"


def _admin(env: Mapping[str, str], sql: str) -> str:
    """``tracestream admin SQL`` as an operator runs it in another shell; its output."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("tracestream")), "admin", sql],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"tracestream admin failed: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def _stored(reader: Storage) -> int:
    return int(reader.query("SELECT uniqExact(span_id) FROM spans").scalar())


async def _stored_over(reader: Storage, least: int) -> bool:
    return await asyncio.to_thread(_stored, reader) >= least


def _is_storage_line(line: str) -> bool:
    return "tracestream.sink" in line or "chdb" in line.lower() or "DB::Exception" in line


async def test_the_embedded_engine_refusing_for_30s_commits_nothing_and_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    group = KafkaNames(topic_prefix).sink_group
    env = {
        "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TRACESTREAM_TOPIC_PREFIX": topic_prefix,
        "TRACESTREAM_TOPIC_PARTITIONS": str(KAFKA_TOPIC_PARTITIONS),
        "TRACESTREAM_SINK_RETRY_MAX_MS": str(RETRY_MAX_MS),
        "TRACESTREAM_HOME": str(tmp_path / "sink" / "home"),
    }
    sink = SinkProcess(env, tmp_path / "sink")
    # 10 chunks of 10 span records a second.
    flow = SteadyProducer(
        kafka_bootstrap,
        topics.spans,
        per_s=10.0,
        batches=span_record_batches("refuses", seed=17),
    )
    try:
        await asyncio.to_thread(sink.start)
        reader = await asyncio.to_thread(sink.reader)  # the sink's query server
        flow.start()
        await until("a first span stored", lambda: _stored_over(reader, 1), sink)
        await asyncio.sleep(2.0)  # mid-stream

        lines_before = len(sink.log_lines())
        said_252 = await asyncio.to_thread(
            _admin, env, "ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 1"
        )
        failing_at = time.monotonic()
        await until("the sink pausing", lambda: sink_pausing(sink), sink)
        committed_early, _ = await group_offsets(kafka_bootstrap, group, topics.spans)
        stored_early = _stored(reader)
        await asyncio.sleep(max(0.0, FAILING_S / 2 - (time.monotonic() - failing_at)))
        said_243 = await asyncio.to_thread(
            _admin,
            env,
            "ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 3000, "
            f"min_free_disk_bytes_to_perform_insert = {NO_DISK_IS_THIS_BIG}",
        )
        await asyncio.sleep(max(0.0, FAILING_S - (time.monotonic() - failing_at)))
        committed_late, ends_late = await group_offsets(kafka_bootstrap, group, topics.spans)
        stored_late = _stored(reader)  # a read answered while inserts fail
        alive_through = sink.running()
        pausing_late = await sink_pausing(sink)
        failing_lines = sink.log_lines()[lines_before:]
        retries = metric_value(sink.metrics(), "tracestream_sink_insert_retries_total")
        said_back = await asyncio.to_thread(
            _admin,
            env,
            "ALTER TABLE spans RESET SETTING parts_to_throw_insert, "
            "min_free_disk_bytes_to_perform_insert",
        )
        back_at = time.monotonic()

        await until("a span stored again", lambda: _stored_over(reader, stored_late + 1), sink)
        resumed_s = time.monotonic() - back_at
        await asyncio.sleep(max(0.0, 3.0 - resumed_s))  # traffic after recovery too
        sent = await flow.stop()
        await until("every span stored", lambda: _stored_over(reader, len(sent)), sink)
        catch_up_s = time.monotonic() - back_at
        await until(
            "the offsets committed to the end",
            lambda: all_committed(kafka_bootstrap, group, topics.spans),
            sink,
            timeout_s=30.0,
        )
        recovery_lines = sink.log_lines()[lines_before + len(failing_lines) :]
    finally:
        await flow.close()
        sink.stop()
    storage = sink.storage()
    try:
        result = await count(kafka_bootstrap, topics, storage, sent, 0)
    finally:
        storage.close()

    waiting = sum(ends_late) - sum(committed_late)
    storage_lines = [line for line in failing_lines if _is_storage_line(line)]
    print(
        f"\nchDB in the sink refused inserts {FAILING_S:.0f}s (TOO_MANY_PARTS, then "
        f"NOT_ENOUGH_SPACE): committed offsets {sum(committed_early)} at the start, "
        f"{sum(committed_late)} at the end, {waiting} records waiting on the topic; "
        f"{stored_early} -> {stored_late} spans stored during it (read through the sink's "
        f"query server); {retries:.0f} insert retries; first span stored {resumed_s:.1f}s "
        f"after the reset, all of them (3 s more traffic) after {catch_up_s:.1f}s; "
        f"{result.line()}\n"
        f"operator: {said_252!r}, {said_243!r}, {said_back!r}\n"
        f"sink log while failing ({len(failing_lines)} lines):"
        + "".join(f"\n  ({len(line)} chars) {line[:240]}" for line in failing_lines)
        + f"\nsink log after it ({len(recovery_lines)} lines):"
        + "".join(f"\n  {line[:240]}" for line in recovery_lines[:10])
    )
    assert all("in the process owning" in said for said in (said_252, said_243, said_back))
    assert alive_through, "the sink exited while its engine refused"
    assert pausing_late, "the sink stopped holding before the engine accepted inserts"
    assert committed_late == committed_early, "offsets were committed while inserts failed"
    assert waiting > 0, "no record arrived while failing: the offsets proved nothing"
    assert stored_late == stored_early
    assert retries > 5
    assert 2 <= len(storage_lines) <= MOST_FAILING_LINES, storage_lines
    assert any("code 252 TOO_MANY_PARTS" in line for line in storage_lines)
    assert any("code 243 NOT_ENOUGH_SPACE" in line for line in storage_lines)
    assert any("storage accepts inserts again" in line for line in recovery_lines)
    assert result.lost == 0
    assert result.dead_lettered == 0
    assert result.duplicates_under_final == 0
    assert result.stored == result.sent
