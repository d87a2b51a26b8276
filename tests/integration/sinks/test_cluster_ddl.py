"""`tracestream migrate --cluster`: every rendered statement parsed by the engine.

No cluster (and no Keeper) can run here, so the statements cannot execute;
instead chDB's own parser (``formatQuery``, the same ClickHouse version as the
server compose deploys) parses each one, and the parsed shard tables are
compared column by column with the single-node schema the same migrations
build on chDB.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracestream.sinks import (
    ChdbStorage,
    MigrationError,
    StorageError,
    apply_migrations,
    load_migrations,
)
from tracestream.sinks._cluster import ClusterLayout, render_for_cluster
from tracestream.sinks._migrate import Migration

LAYOUT = ClusterLayout("tracestream_cluster")


def _format(storage: ChdbStorage, sql: str) -> str:
    return str(storage.query("SELECT formatQuery({q:String})", {"q": sql}).scalar())


def _columns(formatted: str) -> dict[str, str]:
    """name -> type of a formatted CREATE TABLE's column list (indexes and constraints skipped)."""
    body = formatted.split("\n(\n", 1)[1].split("\n)\n", 1)[0]
    columns: dict[str, str] = {}
    for line in body.splitlines():
        match = re.match(r"^\s+`(\w+)` (.+?)(?: DEFAULT .*| CODEC\(.*)?,?$", line)
        if match:
            columns[match.group(1)] = match.group(2).rstrip(",")
    return columns


def _rendered() -> list[str]:
    return [s for m in load_migrations() for s in render_for_cluster(m, LAYOUT)]


def test_every_cluster_statement_parses_and_runs_on_the_cluster(
    chdb_storage: ChdbStorage,
) -> None:
    statements = _rendered()
    assert statements
    for statement in [*statements, LAYOUT.migrations_table()]:
        formatted = _format(chdb_storage, statement)
        assert f"ON CLUSTER {LAYOUT.cluster}" in formatted, formatted


def test_shard_tables_match_the_single_node_schema_column_by_column(
    chdb_storage: ChdbStorage,
) -> None:
    # The single-node schema as the engine built it (migrations applied by the fixture).
    single: dict[str, dict[str, str]] = {}
    for table, name, type_ in chdb_storage.query(
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase()"
        " AND table != 'schema_migrations' AND table IN (SELECT name FROM system.tables"
        " WHERE database = currentDatabase() AND engine LIKE '%MergeTree')"
    ).rows:
        single.setdefault(str(table), {})[str(name)] = str(type_)

    local: dict[str, dict[str, str]] = {}
    distributed: dict[str, str] = {}
    for statement in _rendered():
        formatted = _format(chdb_storage, statement)
        head = formatted.splitlines()[0]
        if head.startswith("CREATE TABLE") and "ENGINE = Distributed(" in formatted:
            name = head.split()[5]
            distributed[name] = formatted
        elif head.startswith("CREATE TABLE"):
            name = head.split()[5].removesuffix(LAYOUT.local_suffix)
            assert re.search(
                r"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{shard\}/\{database\}/"
                r"\{table\}', '\{replica\}'",
                formatted,
            ), formatted
            local[name] = _columns(formatted)
        elif head.startswith("ALTER TABLE") and "ADD COLUMN" in formatted:
            match = re.search(r"ADD COLUMN IF NOT EXISTS `?(\w+)`? (\S+)", formatted)
            assert match, formatted
            target = head.split()[2]
            if target.endswith(LAYOUT.local_suffix):
                local[target.removesuffix(LAYOUT.local_suffix)][match[1]] = match[2]
            else:
                assert target in distributed, f"ALTER of {target} before its Distributed table"
    assert set(local) == set(single) == set(distributed)
    for table, columns in single.items():
        assert local[table] == columns, table


def test_distributed_tables_shard_by_the_row_identity(chdb_storage: ChdbStorage) -> None:
    # Every version of a row (same sorting key) must land on one shard, or FINAL
    # on the Distributed table would keep both.
    orders: dict[str, str] = {}
    for statement in _rendered():
        formatted = _format(chdb_storage, statement)
        head = formatted.splitlines()[0]
        if head.startswith("CREATE TABLE") and "Replicated" in formatted:
            name = head.split()[5]
            orders[name] = formatted.split("\nORDER BY ", 1)[1].splitlines()[0]
    distributed = 0
    for statement in _rendered():
        match = re.search(
            r"ENGINE = Distributed\((\w+), currentDatabase\(\), (\w+), (.+)\)$", statement
        )
        if match is None:
            continue
        distributed += 1
        cluster, local, key = match.groups()
        assert cluster == LAYOUT.cluster
        # Lower-case identifiers are our columns; function names are camelCase.
        key_columns = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", key))
        order_columns = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", orders[local]))
        assert key_columns and key_columns <= order_columns, (local, key, orders[local])
    assert distributed == 6


def test_the_rollup_view_reads_and_writes_the_shard_tables() -> None:
    views = [s for s in _rendered() if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 1
    assert " TO spans_hourly_local AS\n" in views[0]
    assert "\nFROM spans_local\n" in views[0]


def test_a_statement_it_cannot_render_is_refused() -> None:
    migration = Migration(99, "odd", "CREATE DICTIONARY IF NOT EXISTS d (k UInt64) PRIMARY KEY k;")
    with pytest.raises(MigrationError, match="no cluster rendering"):
        render_for_cluster(migration, LAYOUT)
    unknown = Migration(
        98, "t", "CREATE TABLE IF NOT EXISTS t\n(\n  x UInt8\n)\nENGINE = MergeTree\nORDER BY x;"
    )
    with pytest.raises(MigrationError, match="no sharding key"):
        render_for_cluster(unknown, LAYOUT)


def test_apply_migrations_sends_the_cluster_ddl_to_the_engine(chdb_storage: ChdbStorage) -> None:
    # The engine itself answers: the statements went out ON CLUSTER (chDB has none).
    with pytest.raises(StorageError, match="tracestream_cluster"):
        apply_migrations(chdb_storage, cluster=LAYOUT.cluster)


def test_migrate_cluster_needs_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tracestream.cli._sink import migrate

    monkeypatch.setenv("TRACESTREAM_HOME", str(tmp_path))
    monkeypatch.delenv("TRACESTREAM_CLICKHOUSE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(migrate, ["--cluster", "c1"])
    assert result.exit_code == 2
    assert "needs TRACESTREAM_CLICKHOUSE_URL" in result.output
