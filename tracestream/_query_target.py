"""How a reading command reaches the data, and how an owner serves it.

Reading commands (``query``, ``analyze``, ``export``) call
:func:`open_for_reading`:

1. ``clickhouse_url`` set: the server, directly (no migrations: an analyst's
   account may be read-only).
2. Else a live query server announced under ``home``: its client (the
   process that owns the chDB directory answers; nothing is opened here).
3. Else the chDB directory, opened by this process (migrated, so an empty
   home answers with empty results rather than "unknown table").

Processes that hold a chDB directory open for long (the sink, the replay
command) call :func:`serve_queries` so the others can still read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tracestream.sinks import (
    ChdbStorage,
    QueryServer,
    Storage,
    chdb_path,
    discover_query_server,
    query_server_file,
)

from ._open_storage import open_storage
from ._settings import Settings

__all__ = ["describe_target", "open_for_reading", "serve_queries"]


@contextlib.contextmanager
def open_for_reading(settings: Settings) -> Iterator[Storage]:
    """Yield a storage to read from (see the module docstring for the order).

    Raises:
        StorageUnavailable: the server is unreachable, or the chDB directory is
            held by a process that does not serve queries.
    """
    if settings.clickhouse_url:
        storage = open_storage(settings, migrate=False)
    else:
        client = discover_query_server(
            query_server_file(settings.home), timeout_s=settings.query_timeout_s
        )
        if client is not None:
            yield client
            return
        storage = open_storage(settings, migrate=True)
    try:
        yield storage
    finally:
        storage.close()


def describe_target(storage: Storage, settings: Settings) -> str:
    """One line for humans: which engine answered."""
    if storage.engine_name == "query-server":
        return f"query server of the process owning {chdb_path(settings.home)}"
    if isinstance(storage, ChdbStorage):
        return f"chDB at {storage.path}"
    return "ClickHouse server"


@contextlib.contextmanager
def serve_queries(storage: Storage, settings: Settings) -> Iterator[QueryServer | None]:
    """Serve read-only queries on ``storage`` while the block runs (chDB only).

    A server engine needs no help (other processes connect to it), so this
    yields ``None`` for it. Starting binds a port and writes the discovery
    file; leaving the block removes both.
    """
    if not isinstance(storage, ChdbStorage):
        yield None
        return
    server = QueryServer(
        storage,
        discovery_path=query_server_file(settings.home),
        host=settings.query_server_host,
        port=settings.query_server_port,
        data_dir=str(storage.path),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
