"""``tracestream tail``: traces as they complete, errors highlighted; Ctrl-C stops."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["tail"]


@click.command()
@click.option(
    "--since",
    default="0s",
    show_default=True,
    help="Also print the traces emitted this long ago (15m, 24h); 0s: only new ones.",
)
@click.option("--project", help="Only this project.")
@click.option("--service", help="Only traces that touched this service.")
@click.option("--status", type=click.Choice(["ok", "error", "incomplete", "timeout", "unset"]))
@click.option("--model", help="Only traces that called this model.")
@click.option("--user", help="Only this user.")
@click.option("--session", help="Only this session.")
@click.option("--tag", help="Only traces with this tag.")
@click.option("--min-duration-ms", type=float, help="Only traces at least this long.")
@click.option("--errors", "has_errors", is_flag=True, default=None, help="Only traces with errors.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.2, 60),
              help="Seconds between polls.")  # fmt: skip
def tail(since: str, interval: float, **filters: object) -> None:
    """Print traces as the worker completes them, one line each, errors in red.

    Polls the same storage as `tracestream query` (read-only); Ctrl-C stops.
    """
    from tracestream._query_target import open_for_reading
    from tracestream.sinks import StorageError, StorageUnavailable, terminal_console
    from tracestream.ui import BadRequest, Reader, parse_trace_query, tail_line

    now = datetime.now(UTC)
    given = {k: str(v) for k, v in filters.items() if v is not None}
    try:
        # The same names and checks as the Traces page's filters.
        query = parse_trace_query(given, now)
        window = parse_trace_query({"since": since}, now) if since not in ("0", "0s") else None
        settings = load_settings()
    except (BadRequest, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    after = window.start if window is not None else now
    after_id, after_version = "", 0
    console = terminal_console()
    try:
        with open_for_reading(settings) as storage:
            reader = Reader(storage)
            while True:
                try:
                    # Scan from a day before the cursor: a trace is emitted
                    # after it started, rarely more than a day after.
                    rows = reader.tail(
                        start=after - timedelta(days=1), after=after, after_id=after_id,
                        after_version=after_version, filters=query.filters,
                    )  # fmt: skip
                except StorageUnavailable as exc:
                    console.print(f"storage unavailable, retrying: {exc}", style="yellow")
                    rows = []
                for row in rows:
                    console.print(tail_line(row))
                    after, after_id, after_version = (
                        row["emitted_at"], row["trace_id"], row["version"],
                    )  # fmt: skip
                if not rows:
                    time.sleep(interval)
    except KeyboardInterrupt:
        return
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
