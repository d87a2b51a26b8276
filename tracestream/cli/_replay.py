"""``tracestream replay``: rebuild the tables from the retained events topic.

The edge of :mod:`tracestream.replay`: settings become its typed
:class:`~tracestream.replay.ReplayConfig`, and the worker's stages are wired
from the same settings for it (:func:`tracestream._stages.build_pipeline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from tracestream._settings import Settings, load_settings

if TYPE_CHECKING:
    from tracestream.replay import Progress, ReplayConfig, ReplayReport
    from tracestream.sinks import Storage

__all__ = ["replay", "replay_config"]


def replay_config(settings: Settings) -> ReplayConfig:
    """The replay's view of the deployment: the worker's batching and timing, the sink's TTLs."""
    from tracestream.replay import ReplayConfig
    from tracestream.schemas import Topics
    from tracestream.sinks import RetentionPolicy

    return ReplayConfig(
        bootstrap_servers=settings.kafka_bootstrap,
        topics=Topics(settings.topic_prefix),
        batch_size=settings.worker_batch_size,
        batch_within_s=settings.worker_batch_within_ms / 1000,
        grace_s=settings.grace_s,
        idle_timeout_s=settings.idle_timeout_s,
        window_s=settings.window_s,
        allowed_lateness_s=settings.allowed_lateness_s,
        retention=RetentionPolicy(
            settings.retention_days, dict(settings.sink_project_retention_days)
        ),
    )


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO time like 2026-11-02T10:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@click.command()
@click.option("--from-time", "from_time", help="Replay events from this ISO time (UTC if naive).")
@click.option("--since", help="Replay events of the last 90s, 15m, 2h, 7d ...")
@click.option("--from-offset", type=int, help="Replay every partition from this offset.")
@click.option("--to-time", "to_time", help="Stop at this ISO time (default: the current end).")
@click.option("--project", help="Write only this project's rows.")
@click.option("--warmup", help="Read this much before the start (default: idle_timeout_s).")
@click.option("--dry-run", is_flag=True, help="Process and count; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def replay(
    from_time: str | None,
    since: str | None,
    from_offset: int | None,
    to_time: str | None,
    project: str | None,
    warmup: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Rebuild spans, traces, scores, metrics and anomalies from the events topic.

    Reads every partition from the chosen position (default: all retained
    events) to the current end, runs the events through the worker's core,
    and replaces the replayed rows in the tables: running it twice adds no
    rows. The hourly rollup is rebuilt for the hours touched. Stop the sink
    first in embedded mode (it owns the chDB directory).
    """
    from tracestream._stages import build_pipeline
    from tracestream.replay import ReplayOptions, run_replay
    from tracestream.sinks import StorageError, parse_duration

    if sum(x is not None for x in (from_time, since, from_offset)) > 1:
        raise click.UsageError("give at most one of --from-time, --since, --from-offset")
    try:
        start = _parse_time(from_time) if from_time else None
        if since:
            start = datetime.now(UTC) - parse_duration(since)
        warmup_s = parse_duration(warmup).total_seconds() if warmup else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    options = ReplayOptions(
        from_time=start,
        from_offset=from_offset,
        to_time=_parse_time(to_time) if to_time else None,
        project=project,
        dry_run=dry_run,
        warmup_s=warmup_s,
    )
    settings = load_settings()
    config = replay_config(settings)
    # The stages' timing comes from the same settings as config's: the two must agree.
    pipeline_factory = functools.partial(build_pipeline, settings)

    def progress(p: Progress) -> None:
        click.echo(
            f"replay: {p.events_read:,} events read ({p.events_per_s:,.0f}/s), "
            f"partitions done {p.partitions_done}/{p.partitions}, "
            f"~{p.offsets_left:,} offsets left",
            err=True,
        )

    async def run(storage: Storage | None) -> ReplayReport:
        return await run_replay(
            config, options, storage, pipeline_factory=pipeline_factory, on_progress=progress
        )

    try:
        if dry_run:
            report = asyncio.run(run(None))
        else:
            with _open_for_writing(settings) as storage:
                report = asyncio.run(run(storage))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    _print_summary(report)


@contextlib.contextmanager
def _open_for_writing(settings: Settings) -> Iterator[Storage]:
    """Open storage for the replay; a clear error when a sink owns the chDB directory.

    While the replay holds the chDB directory it serves read-only queries, so
    ``tracestream query`` from another shell still answers.
    """
    from tracestream._open_storage import open_storage
    from tracestream._query_target import serve_queries
    from tracestream.sinks import (
        StorageUnavailable,
        chdb_path,
        discover_query_server,
        query_server_file,
    )

    try:
        storage = open_storage(settings)
    except StorageUnavailable as exc:
        if settings.clickhouse_url:
            raise
        owner = discover_query_server(query_server_file(settings.home), timeout_s=2.0)
        who = "a running `tracestream sink` (or demo)" if owner else "another process"
        raise click.ClickException(
            f"cannot replay: {who} owns the chDB directory {chdb_path(settings.home)}. "
            "Fix: stop it (Ctrl-C in its shell), run `tracestream replay` again, then "
            f"start the sink; it resumes from its committed offsets. ({exc})"
        ) from None
    try:
        with serve_queries(storage, settings):
            yield storage
    finally:
        storage.close()


def _print_summary(report: ReplayReport) -> None:
    from tracestream.replay import ROLES
    from tracestream.sinks import TABLE_MAPPINGS

    mode = " (dry run: nothing written)" if report.dry_run else ""
    click.echo(
        f"replayed {report.events_read:,} events of {report.topic} "
        f"(+{report.warmup_events:,} warm-up) in {report.seconds:.1f} s{mode}"
    )
    header = f"{'table':<12} {'rows':>10} {'replaced':>10} {'written':>10} {'rejected':>9}"
    click.echo(header)
    click.echo("-" * len(header))
    for role in ROLES:
        table = TABLE_MAPPINGS[role].table
        click.echo(
            f"{table:<12} {report.staged.get(role, 0):>10,} "
            f"{report.replaced.get(table, 0):>10,} {report.written.get(table, 0):>10,} "
            f"{report.rejected_rows.get(role, 0):>9,}"
        )
    dlq = sum(report.dead_letters.values())
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.dead_letters.items()))
    click.echo(f"DLQ'd events: {dlq:,}" + (f" ({reasons})" if reasons else ""))
    if not report.dry_run:
        click.echo(f"spans_hourly: {report.hours_rebuilt:,} (project, hour) rows rebuilt")
