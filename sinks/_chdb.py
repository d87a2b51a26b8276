"""The embedded engine: ClickHouse in-process through chDB.

chDB allows one process per data directory (a second process gets "Cannot
lock file .../status") and one data directory per process (a second path
while the first is open is refused). Many calls from threads of the owning
process are fine; we serialise them on a lock because a chDB connection is
not documented as thread-safe (and a Python() source read from two threads
on one connection deadlocks). Inserts are the exception: each runs on a
connection of its own, taken from a small pool, so the sink's concurrent
inserts use every core (chDB releases the GIL while a query runs; two
33k-span inserts on two connections take ~0.5 s where they take ~0.9 s one
after the other). A process that owns the directory must serve other
processes' queries itself (see the query server in ``tracestream``).

Inserts go ``INSERT INTO t (cols) SELECT * FROM Python(batch)``: chDB reads
the Arrow buffers in place. ``insert_select`` runs a mapping SELECT over an
Arrow source the same way (the sink's spans path: raw record bytes in,
ClickHouse parses the JSON; see :mod:`._raw_sql`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._errors import StorageUnavailable
from ._raw_sql import SOURCE
from ._sql import classify_error, insert_settings, param_texts, quote_identifier
from ._storage import SettingValue
from ._storage_base import ArrowStorage

__all__ = ["ChdbStorage"]


def _literal(value: SettingValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_clause(settings: Mapping[str, SettingValue] | None) -> str:
    """`` SETTINGS a = 1, b = 'x'`` (empty when there are none)."""
    if not settings:
        return ""
    parts = ", ".join(f"{quote_identifier(k)[1:-1]} = {_literal(v)}" for k, v in settings.items())
    return f" SETTINGS {parts}"


class ChdbStorage(ArrowStorage):
    """The tracestream database inside a chDB data directory.

    Args:
        path: the data directory (created if missing). Default layout puts it
            at ``<home>/chdb``.
        database: the database holding the tables (created on open).
    """

    engine_name = "chdb"

    def __init__(self, path: Path, database: str = "tracestream") -> None:
        self._path = Path(path).absolute()
        self._database = database
        quote_identifier(database)
        self._lock = threading.RLock()
        self._conn: Any = None
        # Idle insert connections (created on demand, one per concurrent insert).
        self._insert_conns: list[Any] = []

    @property
    def database(self) -> str:
        return self._database

    @property
    def path(self) -> Path:
        """The data directory."""
        return self._path

    def open(self) -> None:
        with self._lock:
            if self._conn is not None:
                return
            import chdb  # heavy import: only when the embedded engine is used

            self._path.mkdir(parents=True, exist_ok=True)
            try:
                connect: Any = chdb.connect
                self._conn = connect(str(self._path))
            except Exception as exc:  # chDB raises RuntimeError for everything
                raise StorageUnavailable(
                    f"cannot open chDB data directory {self._path}: {exc}. "
                    "Another process may own it (one process per directory), or this "
                    "process already opened a different directory."
                ) from exc
            db = quote_identifier(self._database)
            self._run(f"CREATE DATABASE IF NOT EXISTS {db}", None, "CSV", "create database")
            self._run(f"USE {db}", None, "CSV", "use database")

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            idle, self._insert_conns = self._insert_conns, []
            for extra in idle:
                extra.close()
            if conn is not None:
                conn.close()

    @contextmanager
    def _insert_connection(self, context: str) -> Iterator[Any]:
        """A connection for one insert, not shared with any other running query.

        Inserts in flight when :meth:`close` runs finish on their own
        connection, which is then closed instead of returned to the pool.
        """
        with self._lock:
            if self._conn is None:
                raise StorageUnavailable(f"{context}: chDB storage at {self._path} is not open")
            conn = self._insert_conns.pop() if self._insert_conns else None
            if conn is None:
                import chdb

                try:
                    connect: Any = chdb.connect
                    conn = connect(str(self._path))
                    conn.query(f"USE {quote_identifier(self._database)}", "CSV")
                except Exception as exc:  # classified into our hierarchy just below
                    raise classify_error(exc, context=context) from exc
        try:
            yield conn
        finally:
            with self._lock:
                if self._conn is not None:
                    self._insert_conns.append(conn)
                else:
                    conn.close()

    def _run(self, sql: str, params: Mapping[str, Any] | None, fmt: str, context: str) -> Any:
        with self._lock:
            if self._conn is None:
                raise StorageUnavailable(f"{context}: chDB storage at {self._path} is not open")
            try:
                if params:
                    return self._conn.query(sql, fmt, params=param_texts(params))
                return self._conn.query(sql, fmt)
            except Exception as exc:  # classified into our hierarchy just below
                raise classify_error(exc, context=context) from exc

    def command(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        self._run(sql + settings_clause(settings), params, "CSV", "command")

    def query_arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> pa.Table:
        result = self._run(sql + settings_clause(settings), params, "ArrowTable", "query")
        if not isinstance(result, pa.Table):  # an empty answer comes back as empty bytes
            return pa.table({})
        return result

    def insert(
        self,
        table: str,
        batch: pa.Table,
        *,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        if batch.num_rows == 0:
            return 0
        columns = ", ".join(quote_identifier(c) for c in batch.column_names)
        sql = (
            f"INSERT INTO {quote_identifier(self._database)}.{quote_identifier(table)} ({columns})"
            f"{settings_clause(insert_settings(dedup_token, settings))}"
            " SELECT * FROM Python(tracestream_batch)"
        )
        # chDB's Python() table function finds the object by name in the
        # caller's frames: this local is what it reads.
        tracestream_batch = batch  # noqa: F841
        context = f"insert into {table}"
        with self._insert_connection(context) as conn:
            try:
                conn.query(sql, "CSV")
            except Exception as exc:  # classified into our hierarchy just below
                raise classify_error(exc, context=context) from exc
        return int(batch.num_rows)

    def insert_select(
        self,
        table: str,
        columns: Sequence[str],
        select_sql: str,
        source: pa.Table,
        *,
        params: Mapping[str, Any] | None = None,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        if source.num_rows == 0:
            return 0
        names = ", ".join(quote_identifier(c) for c in columns)
        select = select_sql.replace(SOURCE, "Python(tracestream_source)")
        sql = (
            f"INSERT INTO {quote_identifier(self._database)}.{quote_identifier(table)} ({names})"
            f"{settings_clause(insert_settings(dedup_token, settings))} {select}"
        )
        tracestream_source = source  # noqa: F841  (read by Python() from this frame)
        context = f"insert into {table}"
        with self._insert_connection(context) as conn:
            try:
                if params:
                    conn.query(sql, "CSV", params=param_texts(params))
                else:
                    conn.query(sql, "CSV")
            except Exception as exc:  # classified into our hierarchy just below
                raise classify_error(exc, context=context) from exc
        return int(source.num_rows)
