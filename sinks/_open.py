"""Choosing an engine from typed arguments (the settings-aware wrapper is
``tracestream._open_storage.open_storage``)."""

from __future__ import annotations

from pathlib import Path

from ._chdb import ChdbStorage
from ._clickhouse_server import ServerStorage
from ._storage import Storage

__all__ = ["chdb_path", "make_storage"]


def chdb_path(home: Path) -> Path:
    """Where the embedded engine keeps its data under the tracestream home."""
    return Path(home) / "chdb"


def make_storage(*, clickhouse_url: str, database: str, home: Path) -> Storage:
    """A server engine when ``clickhouse_url`` is set, else chDB under ``home``. Not opened."""
    if clickhouse_url:
        return ServerStorage(clickhouse_url, database)
    return ChdbStorage(chdb_path(home), database)
