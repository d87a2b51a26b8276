"""``tracestream config`` and ``tracestream schema``: inspect settings and the contract."""

from __future__ import annotations

import sys

import click

from tracestream._settings import SettingsError, load_settings, settings_markdown

__all__ = ["config", "schema"]


@click.command()
@click.option("--markdown", is_flag=True, help="Print the settings reference as Markdown.")
def config(markdown: bool) -> None:
    """Show the effective settings (arguments > env > TOML file > defaults)."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    for name, value in settings.model_dump().items():
        click.echo(f"{name} = {value!s}")


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if the checked-in schema is stale.")
@click.option(
    "--write",
    is_flag=True,
    help="Rewrite schemas/event.schema.json of a source checkout (maintainers, after a change).",
)
def schema(check: bool, write: bool) -> None:
    """Print the event JSON Schema (or --check / --write the checked-in copy)."""
    from tracestream.schemas import SCHEMA_FILE, render_event_json_schema

    rendered = render_event_json_schema()
    if check:
        current = SCHEMA_FILE.read_bytes() if SCHEMA_FILE.exists() else b""
        if current != rendered:
            click.echo(
                f"{SCHEMA_FILE} is stale. Fix: run `tracestream schema --write` and commit the file.",
                err=True,
            )
            sys.exit(1)
        click.echo(f"{SCHEMA_FILE} is up to date")
        return
    if not write:
        click.echo(rendered.decode(), nl=False)
        return
    # The checked-in file lives in the source tree; an installed package's copy is
    # package data that must not change under pip's feet.
    checkout = SCHEMA_FILE.resolve().parent.parent
    if not (checkout / "pyproject.toml").is_file():
        raise click.ClickException(
            f"{SCHEMA_FILE} is not in a source checkout, so it is not rewritten. "
            "Fix: run `tracestream schema --write` from a git checkout of tracestream, "
            "or `tracestream schema > event.schema.json` for a copy."
        )
    SCHEMA_FILE.write_bytes(rendered)
    click.echo(f"wrote {SCHEMA_FILE}")
