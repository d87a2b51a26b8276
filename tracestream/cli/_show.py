"""``tracestream show TRACE_ID``: one trace in the terminal, tree beside waterfall bars."""

from __future__ import annotations

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["show"]


@click.command()
@click.argument("trace_id")
@click.option(
    "--full", is_flag=True, help="Also print each span's input, output, tool call and error."
)
@click.option("--width", default=40, show_default=True, type=click.IntRange(10, 400),
              help="Width of the waterfall bars in characters.")  # fmt: skip
def show(trace_id: str, full: bool, width: int) -> None:
    """Print one trace: its spans as a tree, a waterfall bar each, errors in red.

    Reads the same storage as `tracestream query` (read-only).
    """
    from tracestream._query_target import open_for_reading
    from tracestream.sinks import StorageError, terminal_console
    from tracestream.ui import Reader, render_span, render_trace

    trace_id = trace_id.strip().lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        raise click.BadParameter("a trace id is 32 hex digits", param_hint="TRACE_ID")
    try:
        settings = load_settings()
        with open_for_reading(settings) as storage:
            reader = Reader(storage)
            data = reader.trace(trace_id)
            if data is None:
                raise click.ClickException(f"no trace {trace_id} is stored")
            console = terminal_console()
            console.print(render_trace(data, bar_width=width))
            if full:
                for span in data["spans"]:
                    detail = reader.span(trace_id, span["span_id"])
                    if detail is not None:
                        console.print(render_span(detail))
    except (StorageError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
