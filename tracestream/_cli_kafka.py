"""``tracestream kafka``: the local broker (fetch, start, stop, status, topics)."""

from __future__ import annotations

import sys

import click

from ._kafka_local import main as kafka_main

__all__ = ["kafka"]

_COMMANDS = ("fetch", "format", "start", "stop", "status", "topics", "ready")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("command", type=click.Choice(_COMMANDS))
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds (start, ready)."
)
def kafka(command: str, timeout: float) -> None:
    """Run the local Apache Kafka broker (KRaft, from Maven Central jars).

    start reuses a healthy broker already listening; stop leaves nothing behind;
    status exits 3 when no broker answers; topics creates the project topics.
    """
    sys.exit(kafka_main([command, "--timeout", str(timeout)]))
