"""`tracestream query` and the embedded query server, across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tracestream.sinks import ChdbStorage, StorageRejected, apply_migrations
from tracestream.sinks._query_client import QueryServerClient, discover_query_server
from tracestream.sinks._query_server import QueryServer, QueryServerInfo, query_server_file
from tracestream.sinks._readonly import run_readonly

from ._known_data import insert_known_data

pytestmark = pytest.mark.integration


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACESTREAM_")}
    env["TRACESTREAM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-c", "from tracestream.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def owned_home(tmp_path: Path) -> Iterator[tuple[Path, ChdbStorage, QueryServer]]:
    """This process owns <home>/chdb with the known data and serves queries on it."""
    home = tmp_path / "home"
    storage = ChdbStorage(home / "chdb", "tracestream")
    storage.open()
    apply_migrations(storage)
    insert_known_data(storage)
    server = QueryServer(storage, discovery_path=query_server_file(home))
    server.start()
    try:
        yield home, storage, server
    finally:
        server.stop()
        storage.close()


def test_cli_reaches_the_owner_through_its_query_server(
    owned_home: tuple[Path, ChdbStorage, QueryServer],
) -> None:
    home, _, _ = owned_home
    sql = "SELECT model, count() AS n FROM spans FINAL WHERE model != '' GROUP BY model ORDER BY model"
    done = _cli(home, "query", sql, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"model": "claude-sonnet-4", "n": 1},
        {"model": "gpt-4o", "n": 3},
        {"model": "mystery-1", "n": 1},
    ]
    done = _cli(home, "query", "SELECT trace_id, status FROM traces FINAL ORDER BY trace_id LIMIT 2",
                "--format", "csv")  # fmt: skip
    assert done.stdout == (
        "trace_id,status\n000000000000000000000000000000a1,ok\n000000000000000000000000000000a2,error\n"
    )


def test_writes_and_bad_sql_fail_clearly_through_the_server(
    owned_home: tuple[Path, ChdbStorage, QueryServer],
) -> None:
    home, storage, _ = owned_home
    for sql, message in (
        ("DROP TABLE spans", "readonly mode"),
        ("SELECT 1; DROP TABLE spans", "Multi-statements are not allowed"),
        ("SELEC 1", "Syntax error"),
        ("SELECT nope FROM spans", "Unknown expression identifier"),
    ):
        done = _cli(home, "query", sql)
        assert done.returncode == 1, (sql, done.stdout)
        assert message in done.stderr, (sql, done.stderr)
    assert storage.query("EXISTS TABLE spans").scalar() == 1


def test_analyze_json_through_the_server(owned_home: tuple[Path, ChdbStorage, QueryServer]) -> None:
    home, _, _ = owned_home
    done = _cli(home, "analyze", "--from", "2026-11-01 10:00:00", "--to", "2026-11-01 12:00:00",
                "--project", "shop", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sections"]["performance"]["overview"][0]["spans"] == 12
    assert report["sections"]["costs"]["totals"][0]["cost_usd"] == 0.0153


def test_without_a_server_the_cli_opens_the_data_dir_itself(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _cli(home, "query", "SELECT count() AS n FROM spans", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 0}]
    assert (home / "chdb").is_dir()


def test_stale_discovery_file_is_removed(tmp_path: Path) -> None:
    path = query_server_file(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    QueryServerInfo(int(dead.stdout), "127.0.0.1", 1, "t", "tracestream", "").write(path)
    assert discover_query_server(path) is None
    assert not path.exists()
    # A live pid whose port does not answer is stale too.
    QueryServerInfo(os.getpid(), "127.0.0.1", 9, "t", "tracestream", "").write(path)
    assert discover_query_server(path) is None
    assert not path.exists()


def test_server_rejects_a_wrong_token(owned_home: tuple[Path, ChdbStorage, QueryServer]) -> None:
    home, _, server = owned_home
    assert server.info is not None
    assert oct(query_server_file(home).stat().st_mode & 0o777) == "0o600"
    client = discover_query_server(query_server_file(home))
    assert client is not None
    assert run_readonly(client, "SELECT count() FROM scores").column(0).to_pylist() == [6]
    wrong = QueryServerClient(replace(server.info, token="wrong"))
    with pytest.raises(StorageRejected, match="token"):
        wrong.query("SELECT 1")
