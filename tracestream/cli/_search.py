"""``tracestream search "text"``: spans whose input, output or error holds the words."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["search"]


@click.command()
@click.argument("text")
@click.option("--since", default="7d", show_default=True, help="How far back: 15m, 24h, 7d.")
@click.option("--project", help="Only this project.")
@click.option("--service", help="Only this service.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def search(text: str, since: str, project: str | None, service: str | None, limit: int) -> None:
    """Print the spans whose redacted input, output or error message holds every
    word of TEXT (whole words, case-sensitive), newest first, with a snippet.

    Served by the text indexes; reads the same storage as `tracestream query`.
    """
    from tracestream._query_target import open_for_reading
    from tracestream.sinks import StorageError, terminal_console
    from tracestream.ui import BadRequest, Reader, render_search, search_query

    try:
        words, query = search_query(
            text, since=since, project=project, service=service, limit=limit,
            now=datetime.now(UTC),
        )  # fmt: skip
        settings = load_settings()
        with open_for_reading(settings) as storage:
            found = Reader(storage).search_spans(words, query)["items"]
    except (StorageError, SettingsError, BadRequest) as exc:
        raise click.ClickException(str(exc)) from None
    terminal_console().print(render_search(found))
