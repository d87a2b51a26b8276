"""The storage interface: one small Protocol, two engines.

- :class:`~tracestream.sinks.ChdbStorage`: the embedded engine (chDB), data
  in a local directory. One process may own a directory at a time, and one
  process can hold only one directory open.
- :class:`~tracestream.sinks.ServerStorage`: a ClickHouse server over HTTP
  through clickhouse-connect.

Both take the same SQL (ClickHouse query parameters, ``{name:Type}``), the
same DDL (``sinks/migrations``) and the same columnar batches
(``pyarrow.Table``); only the transport differs. Results come back as
:class:`QueryResult` built from Arrow on both engines, so the Python values are
identical too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["QueryResult", "Storage"]

#: Values for ClickHouse settings: what both engines accept.
SettingValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of a query, with column names. Pure value; no I/O."""

    column_names: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def scalar(self) -> Any:
        """The first value of the first row (``None`` when there are no rows)."""
        return self.rows[0][0] if self.rows else None

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        return [dict(zip(self.column_names, row, strict=True)) for row in self.rows]

    def columns(self) -> dict[str, list[Any]]:
        """The result column by column."""
        return {name: [row[i] for row in self.rows] for i, name in enumerate(self.column_names)}


@runtime_checkable
class Storage(Protocol):
    """A ClickHouse engine holding the tracestream tables of one database.

    Calls block the calling thread until the engine answers; asyncio callers
    run them in a worker thread (``asyncio.to_thread``). Implementations are
    safe to call from several threads (calls are serialised where the engine
    needs it).

    Every method raises :class:`~tracestream.sinks.StorageError` subclasses
    only: ``StorageUnavailable`` (retriable) or ``StorageRejected`` (the data is
    bad; not retriable).
    """

    @property
    def database(self) -> str:
        """The database the tables live in; unqualified names resolve against it."""
        ...

    @property
    def engine_name(self) -> str:
        """``"chdb"`` or ``"server"``, for logs and metrics."""
        ...

    def open(self) -> None:
        """Connect (or open the data directory) and create the database if missing."""
        ...

    def close(self) -> None:
        """Release the connection or data directory. Idempotent."""
        ...

    def command(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        """Run a statement that returns nothing useful (DDL, ALTER, OPTIMIZE, ...)."""
        ...

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> QueryResult:
        """Run a SELECT with ClickHouse query parameters (``{name:Type}``)."""
        ...

    def query_arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> pa.Table:
        """Run a SELECT and return the result as an Arrow table (fast path for big results)."""
        ...

    def insert(
        self,
        table: str,
        batch: pa.Table,
        *,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        """Insert a columnar batch synchronously; returns the row count sent.

        The insert is acknowledged when this returns: the rows are in a part on
        disk (``async_insert=0`` always). With ``dedup_token``, a second insert
        with the same token into the same table is dropped by the engine (the
        tables keep ``non_replicated_deduplication_window`` > 0), and so are the
        blocks it would produce in materialized views.
        """
        ...

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
        """Insert ``select_sql`` run over ``source``; returns the source's row count.

        ``select_sql`` reads ``FROM $source`` (``_raw_sql.SOURCE``); the engine
        puts its own source there (``Python(...)`` on chDB, ``input(...)`` with
        an Arrow body on a server), so one SQL text serves both. Same
        acknowledgement and ``dedup_token`` contract as :meth:`insert`. A
        ``throwIf`` in the SELECT or a constraint fails the whole statement
        with ``StorageRejected``: nothing of it is stored.
        """
        ...
