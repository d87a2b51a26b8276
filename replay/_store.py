"""Replay's writes: stage the replayed rows in ``replay_<table>``, then swap them in.

See :mod:`tracestream.replay._engine` for the design; this module holds the storage
side (staging blocks through the sink's writer, the delete-and-insert swap and
the rebuild of the hourly rollup for the touched hours).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from tracestream.sinks import (
    TABLE_MAPPINGS,
    DeadLetter,
    KafkaRow,
    RetentionPolicy,
    Storage,
    StorageError,
    write_block,
)
from tracestream.streams import BatchOutput

from ._config import ReplayOptions
from ._plan import Scope

if TYPE_CHECKING:
    from ._engine import ReplayReport

log = logging.getLogger("tracestream.replay")

__all__ = ["ROLES", "STAGING_PREFIX", "Stager", "swap"]

#: Output role -> table, in write order.
ROLES = ("spans", "traces", "scores", "metrics", "anomalies")
STAGING_PREFIX = "replay_"

# The materialized view's SELECT (sinks/migrations/0002_hourly_rollups.sql),
# over spans FINAL for the affected (project, hour) pairs only.
_ROLLUP_REBUILD = """
INSERT INTO spans_hourly
SELECT
    project, toStartOfHour(start_time) AS hour, service, model, kind,
    count() AS spans, countIf(status = 'error') AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens, sum(reasoning_tokens) AS reasoning_tokens,
    sum(ifNull(cost_usd, 0)) AS cost_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS latency_ms,
    max(retention_days) AS retention_days
FROM spans FINAL
WHERE (project, toStartOfHour(start_time)) IN (SELECT project, hour FROM replay_hours)
GROUP BY project, hour, service, model, kind
"""

#: Inserts of the swap: synchronous, and never dropped as a duplicate block.
_SWAP_SETTINGS: dict[str, str | int | float | bool] = {"async_insert": 0, "insert_deduplicate": 0}


# --- staging -------------------------------------------------------------------


class Stager:
    """Buffers in-scope outputs per table and writes them to ``replay_<table>`` in blocks."""

    def __init__(
        self,
        storage: Storage | None,
        report: ReplayReport,
        options: ReplayOptions,
        retention: RetentionPolicy,
    ) -> None:
        self.storage = None if options.dry_run else storage
        self.report = report
        self.block_rows = options.block_rows
        self.retention = retention
        self.buffers: dict[str, list[bytes]] = {role: [] for role in ROLES}
        self.sequence: Counter[str] = Counter()

    async def prepare(self) -> None:
        storage = self.storage
        if storage is None:
            return

        def create() -> None:
            for role in ROLES:
                table = TABLE_MAPPINGS[role].table
                staging = STAGING_PREFIX + table
                storage.command(f"DROP TABLE IF EXISTS {staging}")
                storage.command(f"CREATE TABLE {staging} AS {table}")

        await asyncio.to_thread(create)

    async def add(self, out: BatchOutput, scope: Scope, *, warm: bool) -> None:
        report = self.report
        if not warm:
            report.dead_letters.update(d.reason for d in out.dead_letters)
            for _, value in out.scores:
                if scope.score(orjson.loads(value).get("project", "")):
                    self.buffers["scores"].append(value)
        spans = self.buffers["spans"]
        for span in out.spans:
            if scope.trace(span.project, span.trace_id):
                spans.append(_dump(span))
        traces = self.buffers["traces"]
        for trace in out.traces:
            if scope.trace(trace.project, trace.trace_id):
                traces.append(_dump(trace))
        for window in out.windows:
            if scope.window(window.project, window.window_start):
                self.buffers["metrics"].append(_dump(window))
        for anomaly in out.anomalies:
            if scope.window(anomaly.project, anomaly.window_start):
                self.buffers["anomalies"].append(_dump(anomaly))
        for role, values in self.buffers.items():
            if len(values) >= self.block_rows:
                await self._write(role)

    async def flush(self) -> None:
        for role in ROLES:
            await self._write(role)

    async def _write(self, role: str) -> None:
        values, self.buffers[role] = self.buffers[role], []
        if not values:
            return
        self.report.staged[role] += len(values)
        storage = self.storage
        if storage is None:
            return
        mapping = TABLE_MAPPINGS[role]
        staging = dataclasses.replace(mapping, table=STAGING_PREFIX + mapping.table)
        first = self.sequence[role]
        self.sequence[role] += len(values)
        # Synthetic coordinates: the block token is "replay.<role>:0:<first>-<last>",
        # unique within this staging table's life, so a retried block is dropped.
        rows = [KafkaRow(f"replay.{role}", 0, first + i, v) for i, v in enumerate(values)]

        async def insert(table: str, batch: object, token: str) -> None:
            await asyncio.to_thread(storage.insert, table, batch, dedup_token=token)

        async def dead_letter(letters: Sequence[DeadLetter]) -> None:
            for letter in letters:
                log.error("replay: %s row rejected (%s): %s", role, letter.stage, letter.error)
            self.report.rejected_rows[role] += len(letters)

        delay_s = 0.2
        for attempt in range(6):
            try:
                await write_block(rows, staging, self.retention, insert, dead_letter)
                return
            except StorageError as exc:
                if not exc.retriable or attempt == 5:
                    raise
                log.warning("replay: staging insert failed, retrying in %.1f s: %s", delay_s, exc)
                await asyncio.sleep(delay_s)
                delay_s *= 2


def _dump(record: BaseModel) -> bytes:
    return record.model_dump_json().encode()


# --- swap ----------------------------------------------------------------------


def swap(
    storage: Storage, report: ReplayReport, project: str | None, windows_from: datetime | None
) -> None:
    """Replace the replayed scope in the real tables with the staged rows. Blocking."""

    def count(sql: str, params: dict[str, Any] | None = None) -> int:
        return int(storage.query(sql, params).scalar() or 0)

    storage.command("DROP TABLE IF EXISTS replay_trace_ids")
    storage.command(
        "CREATE TABLE replay_trace_ids ENGINE = MergeTree ORDER BY trace_id AS "
        "SELECT DISTINCT trace_id FROM "
        "(SELECT trace_id FROM replay_spans UNION ALL SELECT trace_id FROM replay_traces)"
    )
    storage.command("DROP TABLE IF EXISTS replay_hours")
    storage.command(
        "CREATE TABLE replay_hours ENGINE = MergeTree ORDER BY (project, hour) AS "
        "SELECT DISTINCT project, toStartOfHour(start_time) AS hour FROM ("
        " SELECT project, start_time FROM spans"
        " WHERE trace_id IN (SELECT trace_id FROM replay_trace_ids)"
        " UNION ALL SELECT project, start_time FROM replay_spans)"
    )
    in_traces = "trace_id IN (SELECT trace_id FROM replay_trace_ids)"
    scopes: dict[str, tuple[str, dict[str, Any]]] = {
        "spans": (in_traces, {}),
        "traces": (in_traces, {}),
        "scores": ("event_id IN (SELECT event_id FROM replay_scores)", {}),
    }
    for table in ("metrics_1m", "anomalies"):
        lo, hi, staged = storage.query(
            f"SELECT min(window_start), max(window_start), count() FROM replay_{table}"
        ).rows[0]
        if not staged:
            continue  # nothing replayed for this table: leave it as it is
        params: dict[str, Any] = {"lo": windows_from or lo, "hi": hi}
        where = "window_start >= {lo:DateTime64(6, 'UTC')} AND window_start <= {hi:DateTime64(6, 'UTC')}"
        if project is not None:
            where += " AND project = {project:String}"
            params["project"] = project
        scopes[table] = (where, params)
    for table, (where, params) in scopes.items():
        report.replaced[table] = count(f"SELECT count() FROM {table} WHERE {where}", params)
        if report.replaced[table]:
            storage.command(f"DELETE FROM {table} WHERE {where}", params)
        storage.command(
            f"INSERT INTO {table} SELECT * FROM replay_{table} FINAL", settings=_SWAP_SETTINGS
        )
        report.written[table] = count(f"SELECT count() FROM replay_{table} FINAL")
    report.hours_rebuilt = count("SELECT count() FROM replay_hours")
    if report.hours_rebuilt:
        storage.command(
            "DELETE FROM spans_hourly "
            "WHERE (project, hour) IN (SELECT project, hour FROM replay_hours)"
        )
        storage.command(_ROLLUP_REBUILD, settings=_SWAP_SETTINGS)
    for role in ROLES:
        storage.command(f"DROP TABLE IF EXISTS {STAGING_PREFIX}{TABLE_MAPPINGS[role].table}")
    storage.command("DROP TABLE IF EXISTS replay_trace_ids")
    storage.command("DROP TABLE IF EXISTS replay_hours")
