"""``tracestream keys create|list|revoke``: the OTLP receiver's per-project ingest keys.

Keys live hashed in a keys file (``<home>/otlp-keys.txt`` by default, the one
``tracestream otlp`` reads; ``--keys-file`` or ``TRACESTREAM_OTLP_KEYS_FILE``
for another). A key is printed once, when it is created; ``list`` shows its
project, id (its first characters) and creation time, never the key. A
running receiver re-reads the file when it changes, so ``revoke`` takes
effect within a second, without a restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tracestream._settings import load_settings

__all__ = ["KEYS_FILE_NAME", "default_keys_file", "keys"]

#: The keys file's name under the settings' ``home``.
KEYS_FILE_NAME = "otlp-keys.txt"


def default_keys_file() -> Path:
    """``<home>/otlp-keys.txt``: where ``keys`` writes and ``tracestream otlp`` looks."""
    return load_settings().home / KEYS_FILE_NAME


def _receiver() -> Any:
    try:
        from tracestream.producers import otlp
    except ImportError as exc:
        raise click.ClickException(
            f"`tracestream keys` needs {exc.name}. Fix: pip install 'tracestream[otlp]'"
        ) from None
    return otlp


_keys_file = click.option(
    "--keys-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TRACESTREAM_OTLP_KEYS_FILE",
    default=None,
    help="The keys file (default: <home>/otlp-keys.txt).",
)


@click.group()
def keys() -> None:
    """Ingest keys of the OTLP receiver: one per client, each deciding a project."""


@keys.command()
@click.argument("project")
@_keys_file
def create(project: str, keys_file: Path | None) -> None:
    """Create a key for PROJECT and print it once (only its hash is stored)."""
    path = keys_file or default_keys_file()
    try:
        key = _receiver().add_key(path, project)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"new ingest key for project {project!r} (shown once, stored hashed in {path}):")
    click.echo(key)
    click.echo(f"send it as: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{key[:4]}...")


@keys.command(name="list")
@_keys_file
def list_keys(keys_file: Path | None) -> None:
    """The keys: project, key id (the key's first characters) and creation time."""
    path = keys_file or default_keys_file()
    if not path.exists():
        click.echo(f"no keys file at {path} (tracestream keys create PROJECT makes one)")
        return
    try:
        records = _receiver().read_key_records(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    if not records:
        click.echo(f"no keys in {path}")
        return
    rows = [
        (
            r.project,
            r.key_id or f"sha256:{r.digest[:12]}",
            r.created.strftime("%Y-%m-%d %H:%M:%SZ") if r.created else "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in [("PROJECT", "KEY ID", "CREATED"), *rows]) for i in (0, 1)]
    for project, key_id, created in [("PROJECT", "KEY ID", "CREATED"), *rows]:
        click.echo(f"{project:<{widths[0]}}  {key_id:<{widths[1]}}  {created}")


@keys.command()
@click.argument("key_id")
@_keys_file
def revoke(key_id: str, keys_file: Path | None) -> None:
    """Revoke the key KEY_ID (as `keys list` shows it, or the key itself).

    A running `tracestream otlp` refuses the key within a second, no restart.
    """
    path = keys_file or default_keys_file()
    which = key_id.removeprefix("sha256:")
    try:
        removed = _receiver().revoke_keys(path, which)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    for record in removed:
        click.echo(f"revoked {record.key_id or key_id} of project {record.project!r}")
