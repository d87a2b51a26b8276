"""``tracestream admin "SQL"``: one operator statement (ALTER, OPTIMIZE, SYSTEM, KILL)."""

from __future__ import annotations

import sys

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["admin"]


@click.command()
@click.argument("sql", required=False)
def admin(sql: str | None) -> None:
    """Run one ALTER, OPTIMIZE, SYSTEM or KILL statement (from the argument or stdin).

    With a ClickHouse server it runs there. In embedded mode it runs in the
    process that owns the chDB directory, through its query server (a running
    `tracestream sink`), so the sink need not stop; with no owner running it
    opens the directory itself. Tables change through `tracestream migrate`
    and rows through the sink and `tracestream replay`: other statements are
    refused.
    """
    from tracestream._open_storage import open_storage
    from tracestream.sinks import (
        StorageError,
        chdb_path,
        discover_query_server,
        query_server_file,
        run_admin,
    )

    text = sql if sql is not None else sys.stdin.read()
    try:
        settings = load_settings()
        if settings.clickhouse_url:
            where = "on the ClickHouse server"
            storage = open_storage(settings, migrate=False)
            try:
                ran = run_admin(storage, text)
            finally:
                storage.close()
        elif (
            owner := discover_query_server(
                query_server_file(settings.home), timeout_s=settings.query_timeout_s
            )
        ) is not None:
            where = f"in the process owning {chdb_path(settings.home)} (pid {owner.pid})"
            ran = owner.run_admin(text)
        else:
            where = f"on chDB at {chdb_path(settings.home)} (no process owned it)"
            storage = open_storage(settings, migrate=True)
            try:
                ran = run_admin(storage, text)
            finally:
                storage.close()
    except (StorageError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ran {where}: {ran}")
