"""``tracestream otlp``: the OTLP/HTTP receiver (needs ``pip install 'tracestream[otlp]'``).

Reads the Kafka settings like every command; the receiver's own options are
flags. Ingest keys come from a keys file (``--keys-file``, by default
``<home>/otlp-keys.txt`` when it exists; made by ``tracestream keys create``
or ``--add-key PROJECT``, re-read when it changes) or from ``--ingest-key`` /
``TRACESTREAM_OTLP_INGEST_KEYS`` (for ``--project``).
Keys are hashed at once and never printed or logged, except the one
``--add-key`` prints when it creates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path

import click

from tracestream._settings import Settings, load_settings
from tracestream.schemas import Topics

from ._keys import KEYS_FILE_NAME

__all__ = ["otlp"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4318, show_default=True, type=int, help="OTLP/HTTP port.")
@click.option(
    "--grpc-port", default=4317, show_default=True, type=int, help="OTLP/gRPC port; 0: no gRPC."
)
@click.option("--project", default=None, help="Project of the spans (default: settings' project).")
@click.option(
    "--keys-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="TRACESTREAM_OTLP_KEYS_FILE",
    help="Per-project ingest keys, stored hashed (`tracestream keys create` makes them); "
    "re-read when it changes. Default: <home>/otlp-keys.txt when it exists.",
)
@click.option(
    "--add-key",
    "add_key_project",
    metavar="PROJECT",
    default=None,
    help="Create a key for PROJECT in --keys-file, print it once, and exit.",
)
@click.option(
    "--ingest-key",
    "ingest_keys",
    multiple=True,
    envvar="TRACESTREAM_OTLP_INGEST_KEYS",
    help="A key for --project (repeatable; the variable is whitespace-separated).",
)
@click.option(
    "--max-body-mib", default=64, show_default=True, type=int,
    help="Largest request body, after decompression.",
)  # fmt: skip
@click.option(
    "--produce-timeout-s", default=8.0, show_default=True, type=float,
    help="How long a request waits for Kafka's acks before answering 503.",
)  # fmt: skip
def otlp(
    host: str,
    port: int,
    grpc_port: int,
    project: str | None,
    keys_file: Path | None,
    add_key_project: str | None,
    ingest_keys: tuple[str, ...],
    max_body_mib: int,
    produce_timeout_s: float,
) -> None:
    """Receive OpenTelemetry traces (OTLP/HTTP and OTLP/gRPC) into the events topic.

    Without ingest keys it listens on loopback only; with keys, every request
    needs 'Authorization: Bearer <key>' and the key decides the project.
    """
    try:
        from tracestream.producers import otlp as receiver
    except ImportError as exc:
        raise click.ClickException(
            f"`tracestream otlp` needs {exc.name}. Fix: pip install 'tracestream[otlp]'"
        ) from None

    if add_key_project is not None:
        if keys_file is None:
            raise click.UsageError("--add-key needs --keys-file")
        try:
            key = receiver.add_key(keys_file, add_key_project)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"new ingest key for project {add_key_project!r} (shown once):\n{key}")
        return

    settings = load_settings()
    chosen = project or settings.project
    if keys_file is None and (settings.home / KEYS_FILE_NAME).exists():
        keys_file = settings.home / KEYS_FILE_NAME
    given = {receiver.hash_key(key): chosen for key in ingest_keys if key}
    keys: Mapping[str, str] = given
    if keys_file is not None:
        try:
            # Re-read when it changes: `tracestream keys revoke` needs no restart.
            keys = receiver.IngestKeys(keys_file, extra=given)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{keys_file}: {exc}") from None
    config = receiver.ReceiverConfig(
        project=chosen,
        ingest_keys=keys,
        default_environment=settings.environment,
        max_body_bytes=max_body_mib * 1024 * 1024,
    )
    try:
        notice = receiver.check_binding(host, config.ingest_keys)
    except receiver.InsecureBinding as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s",
    )
    topics = Topics(settings.topic_prefix)
    server = receiver.build_server(
        config,
        host=host,
        port=port,
        bootstrap_servers=settings.kafka_bootstrap,
        topics=topics,
        produce_timeout_s=produce_timeout_s,
        grpc_port=grpc_port or None,
    )
    asyncio.run(_ensure_topics(settings, topics))
    projects = sorted(set(keys.values())) if config.keys_required else [chosen]
    grpc = f" and grpc://{host}:{grpc_port}" if grpc_port else ""
    click.echo(
        f"tracestream otlp: listening on http://{host}:{port}/v1/traces{grpc} -> {topics.events} "
        f"(projects: {', '.join(projects)}); {notice}",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve())


async def _ensure_topics(settings: Settings, topics: Topics) -> None:
    """Create the topics the receiver writes, as the worker does; best effort.

    The broker may be down at start: the receiver starts anyway and answers 503
    until Kafka (and the topics) are there, so this only warns.
    """
    from tracestream.broker import ensure_topics

    try:
        await asyncio.wait_for(
            ensure_topics(
                settings.kafka_bootstrap,
                topics,
                settings.topic_partitions,
                settings.topic_replication_factor,
                settings.events_retention_ms,
            ),
            15.0,
        )
    except Exception as exc:  # noqa: BLE001 - start anyway; requests get 503 meanwhile
        click.echo(f"tracestream otlp: could not ensure the topics yet ({exc!r})", err=True)
