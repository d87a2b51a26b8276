"""``tracestream query "SQL"``: read-only SQL against the tracestream tables."""

from __future__ import annotations

import sys

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["query"]


@click.command()
@click.argument("sql", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--param", "params", multiple=True, help="Query parameter name=value for {name:Type}."
)
@click.option("--max-chars", default=80, show_default=True, help="Cut table cells after this many.")
def query(sql: str | None, fmt: str, params: tuple[str, ...], max_chars: int) -> None:
    """Run one read-only SQL statement (from the argument or stdin) and print the rows.

    Unqualified table names resolve against the tracestream database (spans,
    traces, scores, metrics_1m, anomalies, spans_hourly). Writes are refused.
    """
    from tracestream._query_target import open_for_reading
    from tracestream.sinks import (
        StorageError,
        result_csv,
        result_from_arrow,
        result_json,
        rich_table,
        run_readonly,
        terminal_console,
    )

    text = sql if sql is not None else sys.stdin.read()
    bound: dict[str, str] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not name=value", param_hint="--param")
        bound[name] = value
    try:
        settings = load_settings()
        with open_for_reading(settings) as storage:
            result = result_from_arrow(run_readonly(storage, text, bound or None))
    except (StorageError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(result_json(result))
    elif fmt == "csv":
        click.echo(result_csv(result), nl=False)
    else:
        console = terminal_console()
        console.print(rich_table(result.column_names, result.rows, max_chars=max_chars))
        console.print(f"{len(result)} row{'s' if len(result) != 1 else ''}", style="dim")
