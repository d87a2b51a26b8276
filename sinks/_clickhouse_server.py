"""A ClickHouse server through clickhouse-connect (HTTP).

Same SQL, same DDL, same Arrow batches as the embedded engine
(:mod:`._chdb`): queries bind ``{name:Type}`` parameters on the server (as
chDB does), inserts send Arrow, results come back as Arrow and are decoded by
the shared :func:`._sql.result_from_arrow`. Only the transport differs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from ._errors import StorageUnavailable
from ._raw_sql import SOURCE
from ._sql import classify_error, insert_settings, quote_identifier
from ._storage import SettingValue
from ._storage_base import ArrowStorage

__all__ = ["ServerStorage"]


class ServerStorage(ArrowStorage):
    """The tracestream database on a ClickHouse server.

    Args:
        url: ``http(s)://user:password@host:8123`` (a path names no database;
            ``database`` does).
        database: the database holding the tables (created on open).

    Tested against the real engine through a loopback endpoint that records
    clickhouse-connect's requests and runs them on chDB
    (``tests/integration/sinks/test_server_requests.py``).
    """

    engine_name = "server"

    def __init__(self, url: str, database: str = "tracestream") -> None:
        quote_identifier(database)
        self._url = url.replace("clickhouse://", "http://", 1)
        self._database = database
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def database(self) -> str:
        return self._database

    def open(self) -> None:
        with self._lock:
            if self._client is not None:
                return
            import clickhouse_connect  # only when a server is configured

            try:
                client = clickhouse_connect.get_client(dsn=self._url, autogenerate_session_id=False)
                client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self._database)}")
            except Exception as exc:  # connection refused, auth, DNS: all retriable
                raise StorageUnavailable(
                    f"cannot reach ClickHouse at {self._safe_url}: {exc}"
                ) from exc
            client.database = self._database
            self._client = client

    @property
    def _safe_url(self) -> str:
        scheme, sep, rest = self._url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}"

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _require(self, context: str) -> Any:
        client = self._client
        if client is None:
            raise StorageUnavailable(f"{context}: ClickHouse storage is not open")
        return client

    def command(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        client = self._require("command")
        try:
            client.command(sql, parameters=dict(params or {}), settings=dict(settings or {}))
        except Exception as exc:  # classified into our hierarchy just below
            raise classify_error(exc, context="command") from exc

    def query_arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> pa.Table:
        client = self._require("query")
        try:
            table = client.query_arrow(
                sql, parameters=dict(params or {}), settings=dict(settings or {})
            )
        except Exception as exc:  # classified into our hierarchy just below
            raise classify_error(exc, context="query") from exc
        assert isinstance(table, pa.Table)
        return table

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
        client = self._require(f"insert into {table}")
        quote_identifier(table)
        try:
            client.insert_arrow(
                table,
                batch,
                database=self._database,
                settings=insert_settings(dedup_token, settings),
            )
        except Exception as exc:  # classified into our hierarchy just below
            raise classify_error(exc, context=f"insert into {table}") from exc
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
        client = self._require(f"insert into {table}")
        names = ", ".join(quote_identifier(c) for c in columns)
        # The same SELECT as on chDB; the source is the request body, an Arrow
        # IPC stream read through input(). ArrowStream, not Arrow: the engine
        # reads the Arrow format as an IPC *file* and refuses a stream
        # ("Not an Arrow file: missing leading magic", code 117), as the
        # recorded requests replayed on chDB showed.
        structure = ", ".join(f"{quote_identifier(f.name)} String" for f in source.schema)
        select = select_sql.replace(SOURCE, f"input('{structure}')")
        sql = (
            f"INSERT INTO {quote_identifier(self._database)}.{quote_identifier(table)} ({names}) "
            f"{select} FORMAT ArrowStream"
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, source.schema) as writer:
            writer.write_table(source)
        try:
            client.command(
                sql,
                parameters=dict(params or {}),
                data=sink.getvalue().to_pybytes(),
                settings=insert_settings(dedup_token, settings),
            )
        except Exception as exc:  # classified into our hierarchy just below
            raise classify_error(exc, context=f"insert into {table}") from exc
        return int(source.num_rows)
