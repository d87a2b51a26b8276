"""``tracestream replay`` on the real broker and chDB: exact rows, idempotent, scoped by time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import uuid6
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner

from tracestream._settings import Settings, load_settings
from tracestream._stages import build_pipeline
from tracestream.cli import cli
from tracestream.cli._replay import replay_config
from tracestream.replay import ReplayOptions, ReplayReport, run_replay
from tracestream.schemas import Topics
from tracestream.sinks import ChdbStorage, apply_migrations

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

# Inside the topics' 1 h retention, on a whole minute, so windows are predictable.
T0 = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
TRACES = {"a": "a" * 32, "b": "b" * 32, "c": "c" * 32}
TABLES = ("spans", "traces", "scores", "metrics_1m", "anomalies", "spans_hourly")


def _span(trace: str, span: int, parent: int | None, t0: float, t1: float, **kw: Any) -> bytes:
    event = {
        "event_id": str(uuid6.uuid7()),
        "event_type": "span",
        "project": "acme",
        "service": "api",
        "trace_id": TRACES[trace],
        "span_id": f"{span:016x}",
        "parent_span_id": f"{parent:016x}" if parent is not None else None,
        "timestamp": (T0 + timedelta(seconds=t1)).isoformat(),
        "start_time": (T0 + timedelta(seconds=t0)).isoformat(),
        "end_time": (T0 + timedelta(seconds=t1)).isoformat(),
        "kind": "step",
        "name": f"s{span}",
        "status": "ok",
        **kw,
    }
    return orjson.dumps(event)


def _events() -> list[tuple[str, float, bytes]]:
    """(trace key, record time in s after T0, value): 3 traces, 8 spans, 1 score, 1 invalid."""
    generation = {
        "kind": "generation",
        "name": "chat",
        "model": {"name": "gpt-4o", "provider": "openai"},
        "usage": {"input_tokens": 800, "cached_tokens": 200, "output_tokens": 100},
    }
    score = {
        "event_id": str(uuid6.uuid7()),
        "event_type": "score",
        "project": "acme",
        "service": "api",
        "trace_id": TRACES["b"],
        "timestamp": (T0 + timedelta(seconds=125)).isoformat(),
        "name": "helpful",
        "value": 0.75,
    }
    return [
        ("a", 2, _span("a", 2, 1, 1, 2, **generation)),
        ("a", 3, _span("a", 3, 1, 2, 3, kind="tool", name="search")),
        ("a", 4, _span("a", 1, None, 0, 4, kind="workflow", name="ask")),
        ("b", 122, _span("b", 2, 1, 121, 122)),
        ("b", 123, _span("b", 1, None, 120, 123, kind="workflow", name="ask")),
        ("b", 125, orjson.dumps(score)),
        ("x", 126, b'{"not json'),
        ("c", 242, _span("c", 2, 1, 241, 242, status="error", error={"type": "E", "message": "m"})),
        ("c", 243, _span("c", 3, 1, 242, 243)),
        ("c", 244, _span("c", 1, None, 240, 244, kind="workflow", name="ask")),
    ]


async def _produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, t, value in _events():
            ms = int((T0 + timedelta(seconds=t)).timestamp() * 1000)
            key_bytes = TRACES[key].encode() if key in TRACES else b"x"
            await producer.send_and_wait(topic, value, key=key_bytes, timestamp_ms=ms)
    finally:
        await producer.stop()


def _counts(storage: ChdbStorage) -> dict[str, tuple[int, int]]:
    """Raw and FINAL row counts of every table."""
    return {
        t: (
            storage.query(f"SELECT count() FROM {t}").scalar(),
            storage.query(f"SELECT count() FROM {t} FINAL").scalar(),
        )
        for t in TABLES
    }


def _hourly(storage: ChdbStorage) -> list[tuple[Any, ...]]:
    return storage.query(
        "SELECT project, hour, service, model, kind, sum(spans), sum(errors),"
        " sum(input_tokens), sum(output_tokens), sum(cached_tokens), round(sum(cost_usd), 9),"
        " arrayMap(x -> round(x, 3), quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms))"
        " FROM spans_hourly GROUP BY ALL ORDER BY ALL"
    ).rows


def _insert_blocks(storage: ChdbStorage, trace_id: str) -> list[tuple[Any, ...]]:
    """Which insert wrote each span of a trace: the part's block range (a delete elsewhere
    in the part only adds a mutation suffix to the part name)."""
    return storage.query(
        "SELECT span_id, arrayStringConcat(arraySlice(splitByChar('_', _part), 1, 3), '_')"
        " FROM spans WHERE trace_id = {t:String} ORDER BY span_id",
        {"t": trace_id},
    ).rows


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Settings:
    return load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, home=tmp_path)


async def _replay(settings: Settings, storage: ChdbStorage | None, **kw: Any) -> ReplayReport:
    """A replay wired from settings as ``tracestream replay`` wires it."""
    return await run_replay(
        replay_config(settings),
        ReplayOptions(**kw),
        storage,
        pipeline_factory=lambda: build_pipeline(settings),
    )


async def test_replay_rebuilds_exact_rows_idempotently(
    settings: Settings, kafka_topics: Topics, kafka_bootstrap: str, tmp_path: Path
) -> None:
    await _produce(kafka_bootstrap, kafka_topics.events)
    with ChdbStorage(tmp_path / "chdb", "tracestream") as storage:
        apply_migrations(storage)
        first = await _replay(settings, storage)
        assert first.events_read == 10 and first.warmup_events == 0
        assert dict(first.dead_letters) == {"not_json": 1}
        assert first.written["spans"] == 8 and first.written["traces"] == 3
        assert first.written["scores"] == 1

        traces = storage.query(
            "SELECT trace_id, span_count, status, error_count, cost_usd"
            " FROM traces FINAL ORDER BY trace_id"
        ).rows
        assert traces == [
            (TRACES["a"], 3, "ok", 0, pytest.approx(0.00325, abs=1e-12)),
            (TRACES["b"], 2, "ok", 0, None),
            (TRACES["c"], 3, "ok", 1, None),  # the root decides the status
        ]
        generation = storage.query(
            "SELECT model, input_tokens, cached_tokens, output_tokens, cost_usd"
            " FROM spans FINAL WHERE kind = 'generation'"
        ).rows
        assert generation == [("gpt-4o", 800, 200, 100, pytest.approx(0.00325, abs=1e-12))]
        score = storage.query("SELECT trace_id, name, data_type, value FROM scores").rows
        assert score == [(TRACES["b"], "helpful", "numeric", 0.75)]
        # One window per (key, minute): a's 3 spans in minute 0, b's 2 in 2, c's 3 in 4.
        assert storage.query("SELECT sum(count) FROM metrics_1m FINAL").scalar() == 8
        assert storage.query("SELECT sum(spans) FROM spans_hourly").scalar() == 8
        counts, hourly = _counts(storage), _hourly(storage)
        assert counts["spans"] == (8, 8) and counts["traces"] == (3, 3)

        second = await _replay(settings, storage)
        assert _counts(storage) == counts  # no raw row added, none lost
        assert _hourly(storage) == hourly  # the rollup is not double counted
        assert second.replaced["spans"] == 8 and second.written == first.written

        # From a time after trace a: a keeps its rows (same parts), b and c are replaced.
        parts_a = _insert_blocks(storage, TRACES["a"])
        parts_b = _insert_blocks(storage, TRACES["b"])
        third = await _replay(settings, storage, from_time=T0 + timedelta(seconds=60))
        assert third.events_read == 7 and third.warmup_events == 3
        assert third.written["spans"] == 5 and third.written["traces"] == 2
        assert third.replaced["spans"] == 5 and third.replaced["traces"] == 2
        assert dict(third.dead_letters) == {"not_json": 1}
        assert _insert_blocks(storage, TRACES["a"]) == parts_a
        assert _insert_blocks(storage, TRACES["b"]) != parts_b
        assert _counts(storage) == counts
        assert _hourly(storage) == hourly


async def test_dry_run_writes_nothing_and_needs_no_storage(
    settings: Settings, kafka_topics: Topics, kafka_bootstrap: str
) -> None:
    await _produce(kafka_bootstrap, kafka_topics.events)
    report = await _replay(settings, None, dry_run=True, from_offset=0)
    assert report.events_read == 10
    assert report.staged["spans"] == 8 and report.staged["traces"] == 3
    assert report.written == {}


async def test_command_wires_the_replay_from_settings(
    kafka_topics: Topics, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """`tracestream replay --dry-run` reads the topic its settings name, through the worker core."""
    await _produce(kafka_bootstrap, kafka_topics.events)
    env = {
        "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TRACESTREAM_TOPIC_PREFIX": kafka_topics.prefix,
        "TRACESTREAM_HOME": str(tmp_path),
    }
    # The command runs its own event loop (asyncio.run): off this test's loop.
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["replay", "--dry-run", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["topic"] == kafka_topics.events
    assert report["events_read"] == 10 and report["dead_letters"] == {"not_json": 1}
    assert report["staged"] == {"spans": 8, "traces": 3, "scores": 1, "metrics": 8}
