"""The ``tracestream`` command line.

Subcommands live in their own modules and are imported only when invoked, so
``tracestream --help`` stays fast and a bare SDK install can still run the
commands that need no pipeline extras. To add one, add a line to
``_COMMANDS``: name -> "module:attribute" of a ``click.Command``.
"""

from __future__ import annotations

import importlib
import sys

import click

from tracestream._settings import SettingsError

__all__ = ["main"]

_COMMANDS: dict[str, str] = {
    "admin": "tracestream.cli._admin:admin",
    "demo": "tracestream.cli._demo:demo",
    "bench": "tracestream.cli._bench:bench",
    "config": "tracestream.cli._config:config",
    "schema": "tracestream.cli._config:schema",
    "kafka": "tracestream.cli._kafka:kafka",
    "otlp": "tracestream.cli._otlp:otlp",
    "keys": "tracestream.cli._keys:keys",
    "migrate": "tracestream.cli._sink:migrate",
    "sink": "tracestream.cli._sink:sink",
    "query": "tracestream.cli._query:query",
    "analyze": "tracestream.cli._analyze:analyze",
    "export": "tracestream.cli._export:export",
    "redact": "tracestream.cli._redact:redact",
    "replay": "tracestream.cli._replay:replay",
    "worker": "tracestream.cli._worker:worker",
    "ui": "tracestream.cli._ui:ui",
    "show": "tracestream.cli._show:show",
    "tail": "tracestream.cli._tail:tail",
    "search": "tracestream.cli._search:search",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if (exc.name or "").startswith("tracestream"):
                raise
            raise click.ClickException(
                f"`tracestream {cmd_name}` needs a package that is not installed ({exc.name}). "
                "Fix: pip install 'tracestream[pipeline]'"
            ) from None
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tracestream")
def cli() -> None:
    """tracestream: structured, searchable traces of AI applications."""


def main() -> None:
    """Console entry point: turns expected errors into one clear line and exit code 2."""
    try:
        cli.main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
