"""The edge where settings pick and open a storage engine."""

from __future__ import annotations

from tracestream.sinks import Storage, apply_migrations, make_storage

from ._settings import Settings

__all__ = ["open_storage"]


def open_storage(settings: Settings, *, migrate: bool = True) -> Storage:
    """Open the configured engine (server if ``clickhouse_url``, else chDB under ``home``).

    With ``migrate`` the schema is brought up to date (a no-op when it is).
    The caller closes the storage.

    Raises:
        StorageUnavailable: the server is unreachable or the chDB directory is
            owned by another process.
        MigrationError: the schema could not be brought up to date.
    """
    storage = make_storage(
        clickhouse_url=settings.clickhouse_url,
        database=settings.clickhouse_database,
        home=settings.home,
    )
    storage.open()
    try:
        if migrate:
            apply_migrations(storage)
    except BaseException:
        storage.close()
        raise
    return storage
