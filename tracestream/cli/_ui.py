"""``tracestream ui``: the trace explorer on http://127.0.0.1:7070."""

from __future__ import annotations

from pathlib import Path

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["ui"]


def _read_key(path: Path | None, env_key: str | None) -> str | None:
    if path is not None:
        return path.read_text(encoding="utf-8").strip() or None
    return env_key or None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=7070, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--access-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the access key every request must present (needed off loopback).",
)
@click.option(
    "--access-keys-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help='JSON file of keys scoped to projects: {"<key>": ["shop"], "<admin key>": "*"}.',
)
@click.option(
    "--access-key",
    envvar="TRACESTREAM_UI_ACCESS_KEY",
    hidden=True,
    help="The access key itself (prefer the file or the environment: argv is visible to ps).",
)
@click.option(
    "--no-scores", is_flag=True, help="Do not send scores to Kafka (score posts answer 503)."
)
def ui(
    host: str,
    port: int,
    access_key_file: Path | None,
    access_keys_file: Path | None,
    access_key: str | None,
    no_scores: bool,
) -> None:
    """Serve the trace explorer: traces, one trace's tree and waterfall, sessions,
    overview and anomalies, over the same storage as `tracestream query` (read-only).

    Scores added on a trace page go to Kafka as `score` events. Bound to an
    address other than loopback it requires an access key; keys scoped to
    projects (--access-keys-file) show each holder only their projects.
    """
    try:
        from tracestream.ui import (
            AccessKeys,
            KafkaScoreSender,
            Reader,
            check_bind,
            create_app,
            is_loopback,
        )
        from tracestream.ui import serve as serve_ui
    except ImportError as exc:
        raise click.ClickException(
            f"`tracestream ui` needs the [ui] extra ({exc.name} is missing). "
            "Fix: pip install 'tracestream[ui]'"
        ) from None
    from tracestream._query_target import describe_target, open_for_reading, serve_queries
    from tracestream.schemas import Topics
    from tracestream.sinks import ChdbStorage, StorageError

    try:
        key = _read_key(access_key_file, access_key)
        keys = (
            AccessKeys.read(access_keys_file)
            if access_keys_file is not None
            else (AccessKeys.single(key) if key is not None else None)
        )
        check_bind(host, keys)
        settings = load_settings()
    except (OSError, ValueError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    sender = (
        None
        if no_scores
        else KafkaScoreSender(
            bootstrap_servers=settings.kafka_bootstrap,
            topic=Topics(settings.topic_prefix).events,
        )
    )
    try:
        with open_for_reading(settings) as storage, serve_queries(storage, settings):
            # When no sink serves the chDB directory, this process opened it and
            # serves queries for the other commands while it runs.
            app = create_app(
                Reader(storage), scores=sender, access_keys=keys, loopback=is_loopback(host)
            )
            shown = "localhost" if is_loopback(host) else host
            click.echo(f"tracestream explorer on http://{shown}:{port}/  (data: "
                       f"{describe_target(storage, settings)}; Ctrl-C stops)")  # fmt: skip
            if isinstance(storage, ChdbStorage):
                click.echo(
                    "no sink serves this chDB directory, so the explorer holds it (and serves "
                    "`tracestream query`); start the sink first to keep ingesting while browsing"
                )
            serve_ui(app, host=host, port=port, access_key=keys)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
