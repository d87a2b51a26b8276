"""The embedded engine refusing inserts for its own reasons, and the operator's way in.

chDB says what a server says when it cannot take an insert now: "Too many
parts" (252) when a table's ``parts_to_throw_insert`` is reached, "not enough
space" (243) when free disk is under ``min_free_disk_bytes_to_perform_insert``.
The writer must raise those as retriable, whole, with nothing dead-lettered,
and store the same block once the engine accepts it again. Those settings are
changed the way an operator changes them while a sink owns the directory:
``tracestream admin``, run by the owner's query server.

The whole sink under such a failure, with Kafka: ``tests/faults/test_embedded_engine_refuses.py``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pytest

from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    DeadLetter,
    KafkaRow,
    QueryServer,
    RetentionPolicy,
    StorageRejected,
    StorageUnavailable,
    apply_migrations,
    discover_query_server,
    query_server_file,
    run_admin,
    sample_span_records,
    write_block,
)
from tracestream.sinks._query_client import QueryServerClient

from ._clickhouse_http import RecordingClickHouse

pytestmark = pytest.mark.integration

SPANS = TABLE_MAPPINGS["spans"]
POLICY = RetentionPolicy(3650)


@pytest.fixture
def owned(tmp_path: Path) -> Iterator[tuple[Path, ChdbStorage, QueryServerClient]]:
    """This process owns ``<home>/chdb`` and serves reads and operator statements on it."""
    home = tmp_path / "home"
    storage = ChdbStorage(home / "chdb", "tracestream")
    storage.open()
    apply_migrations(storage)
    server = QueryServer(storage, discovery_path=query_server_file(home), allow_commands=True)
    server.start()
    try:
        client = discover_query_server(query_server_file(home))
        assert client is not None
        yield home, storage, client
    finally:
        server.stop()
        storage.close()


def _rows(count: int, offset: int = 0) -> list[KafkaRow]:
    records = sample_span_records(count, seed=21 + offset)
    return [KafkaRow("t.spans", 0, offset + i, orjson.dumps(r)) for i, r in enumerate(records)]


async def _write(storage: ChdbStorage, rows: Sequence[KafkaRow], letters: list[DeadLetter]) -> int:
    async def insert(table: str, batch: object, token: str) -> None:
        await asyncio.to_thread(storage.insert, table, batch, dedup_token=token)

    async def dead_letter(found: Sequence[DeadLetter]) -> None:
        letters.extend(found)

    return await write_block(rows, SPANS, POLICY, insert, dead_letter)


def _stored(storage: ChdbStorage) -> int:
    return int(storage.query("SELECT count() FROM spans FINAL").scalar())


def _rolled_up(storage: ChdbStorage) -> int:
    return int(storage.query("SELECT sum(spans) FROM spans_hourly").scalar() or 0)


@pytest.mark.parametrize(
    ("table", "setting", "code", "name"),
    [
        ("spans", "parts_to_throw_insert = 1", 252, "TOO_MANY_PARTS"),
        ("spans", f"min_free_disk_bytes_to_perform_insert = {2**60}", 243, "NOT_ENOUGH_SPACE"),
        # The hourly rollup's table, filled by a materialized view within the spans insert.
        ("spans_hourly", "parts_to_throw_insert = 1", 252, "TOO_MANY_PARTS"),
    ],
)
async def test_an_insert_the_engine_refuses_is_retriable_and_stored_once_it_accepts(
    owned: tuple[Path, ChdbStorage, QueryServerClient],
    table: str,
    setting: str,
    code: int,
    name: str,
) -> None:
    _, storage, client = owned
    letters: list[DeadLetter] = []
    assert await _write(storage, _rows(5), letters) == 5  # one part: 252 needs one
    client.run_admin(f"ALTER TABLE {table} MODIFY SETTING {setting}")

    block = _rows(40, offset=5)
    with pytest.raises(StorageUnavailable) as refused:
        await _write(storage, block, letters)
    assert refused.value.retriable
    assert (refused.value.code, refused.value.code_name) == (code, name)
    assert letters == []  # no good row is dead-lettered for the engine's trouble
    assert _rolled_up(storage) == 5
    # Reads keep answering while inserts fail; nothing of the refused block is
    # in either table (the engine refuses before it writes the spans part).
    assert client.query("SELECT count() FROM spans FINAL").scalar() == 5

    client.run_admin(f"ALTER TABLE {table} RESET SETTING {setting.split(' =')[0]}")
    assert await _write(storage, block, letters) == 40
    assert letters == []
    assert _stored(storage) == 45
    # The retry with the same dedup token reaches the view: each span counted once.
    assert _rolled_up(storage) == 45


def test_a_read_the_engine_cannot_run_now_is_retriable_through_the_query_server(
    owned: tuple[Path, ChdbStorage, QueryServerClient],
) -> None:
    """A read over its memory limit is "try again", not "your query is wrong"."""
    _, _, client = owned
    with pytest.raises(StorageUnavailable) as refused:
        client.query(
            "SELECT number % 1000000 AS k, count() FROM numbers(3000000) GROUP BY k "
            "SETTINGS max_memory_usage = 1000000"
        )
    assert (refused.value.code, refused.value.code_name) == (241, "MEMORY_LIMIT_EXCEEDED")


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE spans",
        "TRUNCATE TABLE spans",
        "INSERT INTO spans (trace_id) VALUES ('x')",
        "CREATE TABLE x (a UInt8) ENGINE = Memory",
        "SELECT 1",
        "ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 1; DROP TABLE spans",
    ],
)
def test_only_operator_statements_run(
    owned: tuple[Path, ChdbStorage, QueryServerClient], sql: str
) -> None:
    _, storage, client = owned
    with pytest.raises(StorageRejected):
        client.run_admin(sql)
    with pytest.raises(StorageRejected):
        run_admin(storage, sql)
    assert storage.query("EXISTS TABLE spans").scalar() == 1
    assert "parts_to_throw_insert" not in storage.query("SHOW CREATE TABLE spans").scalar()


def test_a_server_that_serves_reads_only_refuses_operator_statements(tmp_path: Path) -> None:
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        with QueryServer(storage, discovery_path=query_server_file(tmp_path)):
            client = discover_query_server(query_server_file(tmp_path))
            assert client is not None
            assert client.health()["commands"] is False
            with pytest.raises(StorageRejected, match="read-only"):
                client.run_admin("OPTIMIZE TABLE spans FINAL")
            # The read path refuses writes as before, allowed commands or not.
            with pytest.raises(StorageRejected):
                client.query("ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 1")
            # An error's code and its name travel from the owner's engine.
            with pytest.raises(StorageRejected) as unknown:
                client.query("SELECT * FROM nope")
            assert (unknown.value.code, unknown.value.code_name) == (60, "UNKNOWN_TABLE")
    finally:
        storage.close()


def _admin_cli(env: dict[str, str], sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from tracestream.cli import main; main()", "admin", sql],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_the_cli_runs_the_statement_in_the_owner(
    owned: tuple[Path, ChdbStorage, QueryServerClient],
) -> None:
    home, storage, _ = owned
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACESTREAM_")}
    env["TRACESTREAM_HOME"] = str(home)
    done = _admin_cli(env, "alter table spans modify setting parts_to_throw_insert = 7")
    assert done.returncode == 0, done.stderr
    assert f"in the process owning {home / 'chdb'} (pid {os.getpid()})" in done.stdout
    assert "parts_to_throw_insert = 7" in storage.query("SHOW CREATE TABLE spans").scalar()
    done = _admin_cli(env, "DROP TABLE spans")
    assert done.returncode == 1
    assert "DROP statement refused" in done.stderr


def test_the_cli_opens_the_directory_when_nobody_owns_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACESTREAM_")}
    env["TRACESTREAM_HOME"] = str(tmp_path)
    done = _admin_cli(env, "ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 9")
    assert done.returncode == 0, done.stderr
    assert "no process owned it" in done.stdout
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    with storage:
        assert "parts_to_throw_insert = 9" in storage.query("SHOW CREATE TABLE spans").scalar()


def test_the_cli_runs_the_statement_on_a_server(tmp_path: Path) -> None:
    # The loopback endpoint answers ClickHouse's HTTP interface with chDB in this process.
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        with RecordingClickHouse(tmp_path / "chdb") as endpoint:
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRACESTREAM_")}
            env["TRACESTREAM_HOME"] = str(tmp_path / "home")
            env["TRACESTREAM_CLICKHOUSE_URL"] = endpoint.url
            done = _admin_cli(env, "ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 11")
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("ran on the ClickHouse server: ALTER TABLE spans")
            refused = _admin_cli(env, "DROP TABLE spans")
            assert refused.returncode == 1
            assert "DROP statement refused" in refused.stderr
        create = storage.query("SHOW CREATE TABLE spans").scalar()
        assert "parts_to_throw_insert = 11" in create
    finally:
        storage.close()
