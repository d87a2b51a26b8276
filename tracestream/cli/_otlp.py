"""``tracestream otlp``: the OTLP/HTTP receiver (needs ``pip install 'tracestream[otlp]'``).

Reads the Kafka settings like every command; the receiver's own options are
flags. Ingest keys come from ``--ingest-key`` or ``TRACESTREAM_OTLP_INGEST_KEYS``
(whitespace-separated); they are hashed at once and never printed or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import click

from tracestream._settings import Settings, load_settings
from tracestream.schemas import Topics

__all__ = ["otlp"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4318, show_default=True, type=int, help="OTLP/HTTP port.")
@click.option("--project", default=None, help="Project of the spans (default: settings' project).")
@click.option(
    "--ingest-key",
    "ingest_keys",
    multiple=True,
    envvar="TRACESTREAM_OTLP_INGEST_KEYS",
    help="Accept only requests with 'Authorization: Bearer <key>'; repeatable. "
    "Required to listen beyond loopback.",
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
    project: str | None,
    ingest_keys: tuple[str, ...],
    max_body_mib: int,
    produce_timeout_s: float,
) -> None:
    """Receive OpenTelemetry traces (OTLP/HTTP, POST /v1/traces) into the events topic."""
    try:
        from tracestream.producers.otlp import (
            InsecureBinding,
            ReceiverConfig,
            build_server,
            check_binding,
            hash_key,
        )
    except ImportError as exc:
        raise click.ClickException(
            f"`tracestream otlp` needs {exc.name}. Fix: pip install 'tracestream[otlp]'"
        ) from None
    settings = load_settings()
    chosen = project or settings.project
    config = ReceiverConfig(
        project=chosen,
        ingest_keys={hash_key(key): chosen for key in ingest_keys if key},
        default_environment=settings.environment,
        max_body_bytes=max_body_mib * 1024 * 1024,
    )
    try:
        notice = check_binding(host, config.ingest_keys)
    except InsecureBinding as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s",
    )
    topics = Topics(settings.topic_prefix)
    server = build_server(
        config,
        host=host,
        port=port,
        bootstrap_servers=settings.kafka_bootstrap,
        topics=topics,
        produce_timeout_s=produce_timeout_s,
    )
    asyncio.run(_ensure_topics(settings, topics))
    click.echo(
        f"tracestream otlp: listening on http://{host}:{port}/v1/traces -> {topics.events} "
        f"(project {chosen!r}); {notice}"
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
