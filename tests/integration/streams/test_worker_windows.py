"""Open windows survive a worker restart: restored from their changelogged table,
closed by the new worker (idle flush) with the spans the old one counted."""

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

N = 25
WINDOW_S = 10


def _spans(end: datetime) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    out: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    for i in range(N):
        trace_id = f"{i + 1:032x}"
        event = {
            "event_id": f"01936f4e-7c2a-7def-8a4b-{i:012x}",
            "event_type": "span",
            "project": "p",
            "service": "checkout",
            "trace_id": trace_id,
            "span_id": f"{i + 1:016x}",
            "timestamp": end.isoformat(),
            "kind": "tool",
            "name": "search",
            "start_time": (end - timedelta(milliseconds=10 * (i + 1))).isoformat(),
            "end_time": end.isoformat(),
            "status": "error" if i % 5 == 0 else "ok",
        }
        out.append((b"k", orjson.dumps(event), []))
    return out


async def test_open_window_is_restored_and_closed_after_restart(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    env = {
        **worker_env(kafka_bootstrap, topic_prefix),
        "TRACESTREAM_WINDOW_S": str(WINDOW_S),
        "TRACESTREAM_ALLOWED_LATENESS_S": "0",
    }
    # Event time an hour ahead: the watermark never closes the window, only the
    # idle flush (a window's length without spans) does.
    end = datetime.now(UTC) + timedelta(hours=1)
    await produce(kafka_bootstrap, topics.events, _spans(end))
    with WorkerProcess(env, tmp_path / "first"):
        assert len(await consume(kafka_bootstrap, topics.spans, N)) == N
    assert not await consume(kafka_bootstrap, topics.metrics, 1, timeout_s=1)

    with WorkerProcess(env, tmp_path / "second"):
        windows = await consume(kafka_bootstrap, topics.metrics, 1, timeout_s=4 * WINDOW_S)
    assert len(windows) == 1
    window = orjson.loads(windows[0].value)
    assert (window["count"], window["error_count"]) == (N, N // 5)
    assert window["latency_p95_ms"] == pytest.approx(230, rel=0.02)  # 10..250 ms, 1% sketch
