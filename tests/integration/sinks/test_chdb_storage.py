"""The DDL, the migration runner and the storage interface on the real engine (chDB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    MigrationError,
    RetentionPolicy,
    StorageRejected,
    apply_migrations,
    load_migrations,
    map_records,
    sample_span_records,
)

pytestmark = pytest.mark.integration

TABLES = {
    "spans",
    "traces",
    "scores",
    "metrics_1m",
    "anomalies",
    "spans_hourly",
    "schema_migrations",
}


def _spans(n: int, seed: int = 0) -> object:
    return map_records(
        TABLE_MAPPINGS["spans"], sample_span_records(n, seed=seed), RetentionPolicy()
    ).table


def test_ddl_applies_and_rerunning_is_a_no_op(chdb_storage: ChdbStorage) -> None:
    tables = {r[0] for r in chdb_storage.query("SHOW TABLES").rows}
    assert tables >= TABLES
    assert apply_migrations(chdb_storage) == []
    assert chdb_storage.query("SELECT count() FROM schema_migrations").scalar() == len(
        load_migrations()
    )
    engine = chdb_storage.query(
        "SELECT engine, sorting_key FROM system.tables WHERE database = {db:String} AND name = 'spans'",
        {"db": chdb_storage.database},
    ).rows[0]
    assert engine[0] == "ReplacingMergeTree"
    assert engine[1].startswith("project, toStartOfHour(start_time), trace_id")


def test_an_edited_applied_migration_is_an_error(chdb_storage: ChdbStorage, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_tables.sql").write_text(
        "CREATE TABLE IF NOT EXISTS extra (x UInt8) ENGINE = Log;\n"
    )
    with pytest.raises(MigrationError, match="edited"):
        apply_migrations(chdb_storage, load_migrations(folder))


def test_a_new_migration_is_applied_once(chdb_storage: ChdbStorage, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for m in load_migrations():
        (folder / f"{m.version:04d}_{m.name}.sql").write_text(m.sql)
    (folder / "0099_extra.sql").write_text(
        "-- extra\nCREATE TABLE IF NOT EXISTS extra (x UInt8) ENGINE = Log;\n"
    )
    assert apply_migrations(chdb_storage, load_migrations(folder)) == [99]
    assert apply_migrations(chdb_storage, load_migrations(folder)) == []


def test_parameterized_queries(chdb_storage: ChdbStorage) -> None:
    chdb_storage.insert("spans", _spans(50))
    sql = (
        "SELECT model, count() AS n FROM spans WHERE project = {p:String} AND kind = {k:String}"
        " AND start_time >= {since:DateTime64(6, 'UTC')} GROUP BY model ORDER BY model"
    )
    result = chdb_storage.query(
        sql, {"p": "demo", "k": "generation", "since": "2026-11-01 00:00:00"}
    )
    assert result.column_names == ("model", "n")
    assert sum(n for _, n in result.rows) == 20  # positions 1 and 3 of each 5-span trace
    # Token search through the text index, and a Map lookup.
    hits = chdb_storage.query(
        "SELECT count() FROM spans WHERE hasToken(input, {w:String}) AND attributes['region'] = {r:String}",
        {"w": "refund", "r": '"eu-west-1"'},
    ).scalar()
    assert 0 < hits <= 50


def test_dedup_token_drops_a_repeated_insert_and_its_rollup(chdb_storage: ChdbStorage) -> None:
    batch = _spans(100)
    chdb_storage.insert("spans", batch, dedup_token="t:0:0-99")
    chdb_storage.insert("spans", batch, dedup_token="t:0:0-99")
    assert chdb_storage.query("SELECT count() FROM spans").scalar() == 100
    assert chdb_storage.query("SELECT sum(spans) FROM spans_hourly").scalar() == 100
    # A different token is a new block: raw rows double, FINAL collapses them by key.
    chdb_storage.insert("spans", batch, dedup_token="t:0:0-99b")
    assert chdb_storage.query("SELECT count() FROM spans").scalar() == 200
    assert chdb_storage.query("SELECT count() FROM spans FINAL").scalar() == 100


def test_rollup_quantiles_merge(chdb_storage: ChdbStorage) -> None:
    chdb_storage.insert("spans", _spans(500))
    row = chdb_storage.query(
        "SELECT sum(spans), quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms) FROM spans_hourly"
        " WHERE project = {p:String}",
        {"p": "demo"},
    ).rows[0]
    assert row[0] == 500
    assert row[1][0] < row[1][1] < row[1][2]


def test_a_constraint_violation_is_rejected_not_retriable(chdb_storage: ChdbStorage) -> None:
    records = sample_span_records(3)
    records[1]["trace_id"] = "z" * 32
    batch = map_records(TABLE_MAPPINGS["spans"], records, RetentionPolicy()).table
    with pytest.raises(StorageRejected) as info:
        chdb_storage.insert("spans", batch)
    assert info.value.code == 469
    assert not info.value.retriable
    assert chdb_storage.query("SELECT count() FROM spans").scalar() == 0
