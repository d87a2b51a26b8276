"""The pure parts of replay: positions, batching clock, flush horizon, scope, config."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from tracestream._settings import load_settings
from tracestream.cli._replay import replay_config
from tracestream.replay import ReplayConfig
from tracestream.replay._plan import (
    PartitionRange,
    Scope,
    batch_now_ms,
    flush_horizon_ms,
    resolve_ranges,
    window_floor,
)

pytestmark = pytest.mark.unit

BOUNDS = {0: (0, 100), 1: (40, 60), 2: (5, 5)}  # partition -> (log start, high watermark)


def test_everything_retained_by_default() -> None:
    assert resolve_ranges(BOUNDS) == [
        PartitionRange(0, 0, 0, 100),
        PartitionRange(1, 40, 40, 60),
        PartitionRange(2, 5, 5, 5),
    ]


def test_one_offset_for_all_partitions_is_clamped_to_each_log() -> None:
    ranges = resolve_ranges(BOUNDS, start=50)
    assert [(r.start, r.end) for r in ranges] == [(50, 100), (50, 60), (5, 5)]
    ranges = resolve_ranges(BOUNDS, start=10)
    assert [r.start for r in ranges] == [10, 40, 5]  # offsets deleted by retention: log start


def test_time_lookup_none_means_nothing_in_range() -> None:
    ranges = resolve_ranges(BOUNDS, start={0: 70, 1: None, 2: None})
    assert [(r.start, r.end, r.events) for r in ranges] == [(70, 100, 30), (60, 60, 0), (5, 5, 0)]


def test_warmup_never_passes_the_start_and_to_time_caps_the_end() -> None:
    ranges = resolve_ranges(
        BOUNDS,
        start={0: 70, 1: 50, 2: None},
        warmup={0: 60, 1: None, 2: 0},
        end={0: 90, 1: None, 2: None},
    )
    assert ranges == [
        PartitionRange(0, 60, 70, 90),
        PartitionRange(1, 50, 50, 60),  # no record at the warm-up time: none
        PartitionRange(2, 5, 5, 5),
    ]
    assert ranges[0].to_read == 30 and ranges[0].events == 20
    # A start past --to-time reads nothing.
    assert resolve_ranges({0: (0, 100)}, start=95, end={0: 90}) == [PartitionRange(0, 90, 90, 90)]


def test_batch_clock_is_the_bucket_end_whatever_the_start() -> None:
    assert [batch_now_ms(t, 200) for t in (0, 199, 200, 1_234)] == [200, 200, 400, 1_400]
    assert batch_now_ms(-1, 200) == 200  # a record without a timestamp


def test_flush_horizon_is_past_every_rule() -> None:
    horizon = flush_horizon_ms(
        10_000, grace_s=5, idle_timeout_s=300, window_s=60, allowed_lateness_s=10
    )
    assert horizon == 10_000 + 300_000 + 1_000
    horizon = flush_horizon_ms(0, grace_s=5, idle_timeout_s=30, window_s=60, allowed_lateness_s=10)
    assert horizon == 71_000


def test_window_floor_rounds_up_to_the_window_grid() -> None:
    t = datetime(2026, 11, 2, 10, 0, 30, tzinfo=UTC)
    assert window_floor(t, 60) == datetime(2026, 11, 2, 10, 1, tzinfo=UTC)
    assert window_floor(t.replace(second=0), 60) == t.replace(second=0)
    assert window_floor(None, 60) is None


def test_scope_excludes_warm_traces_early_windows_and_other_projects() -> None:
    t = datetime(2026, 11, 2, 10, 1, tzinfo=UTC)
    scope = Scope(project="acme", windows_from=t)
    scope.note_warmup("a" * 32)
    assert not scope.trace("acme", "a" * 32)
    assert scope.trace("acme", "b" * 32)
    assert not scope.trace("other", "b" * 32)
    assert scope.window("acme", t) and not scope.window("acme", t.replace(minute=0))
    assert not scope.window("other", t)
    assert scope.score("acme") and not scope.score("other")
    assert Scope().window("any", t.replace(year=2000))


def _config(**kw: Any) -> ReplayConfig:
    base = ReplayConfig(
        bootstrap_servers="127.0.0.1:19092",
        batch_size=2000,
        batch_within_s=0.2,
        grace_s=5.0,
        idle_timeout_s=300.0,
        window_s=60.0,
        allowed_lateness_s=10.0,
    )
    return dataclasses.replace(base, **kw)  # through __init__: validated again


def test_config_batch_bucket_is_whole_milliseconds() -> None:
    assert _config(batch_within_s=1.001).batch_within_ms == 1001  # 1.001 * 1000 < 1001
    with pytest.raises(ValueError, match="batch_within_s"):
        _config(batch_within_s=0.0004)
    with pytest.raises(ValueError, match="batch_size"):
        _config(batch_size=0)


def test_front_config_keeps_the_workers_batch_bucket_and_timing() -> None:
    settings = load_settings(
        worker_batch_within_ms=1001,
        topic_prefix="p.",
        idle_timeout_s=42.0,
        sink_project_retention_days={"acme": 7},
    )
    config = replay_config(settings)
    assert config.batch_within_ms == 1001 and config.batch_size == settings.worker_batch_size
    assert config.topics.events == "p.tracestream.events"
    assert (config.grace_s, config.idle_timeout_s) == (settings.grace_s, 42.0)
    assert (config.window_s, config.allowed_lateness_s) == (
        settings.window_s,
        settings.allowed_lateness_s,
    )
    assert config.retention.days("acme") == 7
    assert config.retention.days("other") == settings.retention_days
