"""The idempotent migration runner.

Migrations are ``sinks/migrations/NNNN_name.sql`` files applied in order. Each
applied file is recorded in ``schema_migrations`` with a SHA-256 of its text:

- running again applies nothing (a no-op);
- a new file is applied and recorded;
- an applied file whose text changed is an error (:class:`MigrationError`):
  write a new migration instead of editing an old one.

Statements inside a file end with ``;`` at the end of a line; full-line
``--`` comments are dropped before sending. Names in the files are
unqualified: they resolve against the storage's database.

On a cluster (``cluster=``) the same files are rendered by :mod:`._cluster`
(replicated shard tables, Distributed tables over them, ``ON CLUSTER``) and
the record of applied migrations is replicated to every node.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ._cluster import ClusterLayout, render_for_cluster
from ._errors import MigrationError, StorageError
from ._storage import Storage

__all__ = ["Migration", "apply_migrations", "load_migrations", "split_statements"]

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file text: an edited applied migration is detected by it."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The statements to send, in order."""
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Split SQL on ``;`` at line ends, dropping full-line ``--`` comments. Pure."""
    statements: list[str] = []
    current: list[str] = []
    for line in sql.splitlines():
        if line.lstrip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(current).strip().removesuffix(";").strip()
            if text:
                statements.append(text)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migrations in ``directory`` (default: the packaged ones), sorted by version.

    Raises:
        MigrationError: a file is misnamed or two files share a version.
    """
    if directory is None:
        files = [
            (f.name, f.read_text(encoding="utf-8"))
            for f in resources.files("tracestream.sinks").joinpath("migrations").iterdir()
            if f.name.endswith(".sql")
        ]
    else:
        files = [(p.name, p.read_text(encoding="utf-8")) for p in directory.glob("*.sql")]
    migrations: dict[int, Migration] = {}
    for filename, text in files:
        match = _NAME_RE.match(filename)
        if match is None:
            raise MigrationError(f"migration file {filename!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"two migrations share version {version:04d}")
        migrations[version] = Migration(version, match.group(2), text)
    return [migrations[v] for v in sorted(migrations)]


def applied_migrations(
    storage: Storage, layout: ClusterLayout | None = None
) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of what the database already has."""
    storage.command(_CREATE_TABLE if layout is None else layout.migrations_table())
    result = storage.query(
        "SELECT version, argMax(name, applied_at), argMax(checksum, applied_at)"
        " FROM schema_migrations GROUP BY version"
    )
    return {int(v): (str(n), str(c)) for v, n, c in result.rows}


def apply_migrations(
    storage: Storage, migrations: list[Migration] | None = None, *, cluster: str | None = None
) -> list[int]:
    """Bring the database up to date; returns the versions applied now (empty: no-op).

    Blocks while DDL runs. Not safe to run from two processes at once on one
    server (ClickHouse has no DDL transactions); the CLI runs it once.
    ``cluster``: the name of a ClickHouse cluster (``remote_servers``) to create
    the tables on, replicated and distributed (see :mod:`._cluster`).

    Raises:
        MigrationError: an applied migration changed, or a statement failed
            (the message names the file and the statement number).
        StorageUnavailable: the engine could not be reached.
    """
    if migrations is None:
        migrations = load_migrations()
    layout = None if cluster is None else ClusterLayout(cluster)
    applied = applied_migrations(storage, layout)
    for migration in migrations:
        known = applied.get(migration.version)
        if known is not None and known[1] != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql was edited after it"
                " was applied (checksum differs). Fix: restore the file and add a new migration."
            )
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        statements = (
            migration.statements() if layout is None else render_for_cluster(migration, layout)
        )
        for number, statement in enumerate(statements, start=1):
            try:
                storage.command(statement)
            except StorageError as exc:
                if exc.retriable and not isinstance(exc, MigrationError):
                    raise
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql, statement"
                    f" {number}: {exc}"
                ) from exc
        storage.command(
            "INSERT INTO schema_migrations (version, name, checksum)"
            " VALUES ({v:UInt32}, {n:String}, {c:String})",
            {"v": migration.version, "n": migration.name, "c": migration.checksum},
        )
        done.append(migration.version)
    return done
