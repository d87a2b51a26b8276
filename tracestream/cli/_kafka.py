"""``tracestream kafka``: the local broker (fetch, start, stop, status, topics).

The edge between the settings and ``tracestream.broker``: :func:`broker_layout`
turns settings into the broker's typed :class:`~tracestream.broker.Layout`, and
every command here (and ``deploy/kafka/kafka.sh``, which runs :func:`main`)
passes typed values on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import click

from tracestream._settings import Settings, load_settings
from tracestream.broker import (
    EXIT_NOT_RUNNING,
    KafkaLocalError,
    Layout,
    broker_ready,
    ensure_topics,
    fetch,
    format_storage,
    start,
    status,
    stop,
)

__all__ = ["broker_layout", "kafka", "main"]

_COMMANDS = ("fetch", "format", "start", "stop", "status", "topics", "ready")


def broker_layout(settings: Settings) -> Layout:
    """Where the local broker of ``settings`` lives: its address, Kafka version and cache."""
    return Layout.for_bootstrap(
        settings.kafka_bootstrap, settings.kafka_version, settings.cache_dir
    )


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("command", type=click.Choice(_COMMANDS))
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds (start, ready)."
)
def kafka(command: str, timeout: float) -> None:
    """Run the local Apache Kafka broker (KRaft, from Maven Central jars).

    start reuses a healthy broker already listening; stop leaves nothing behind;
    status exits 3 when no broker answers; topics creates the project topics.
    Jars, config, data and logs live under the cache_dir setting.
    """
    sys.exit(main([command, "--timeout", str(timeout)]))


def main(argv: list[str] | None = None) -> int:
    """``python -m tracestream.cli._kafka fetch|format|start|stop|status|topics|ready``."""
    from tracestream.schemas import Topics

    parser = argparse.ArgumentParser(prog="kafka.sh", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=_COMMANDS)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (start, ready)")
    args = parser.parse_args(argv)
    settings = load_settings()
    layout = broker_layout(settings)

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        if args.command == "fetch":
            stamp_there = (layout.lib / ".complete").is_file()
            fetch(layout, say)
            if stamp_there:
                say(f"kafka: jars already in {layout.lib}")
        elif args.command == "format":
            fetch(layout, say)
            if not format_storage(layout, settings.kafka_heap_mb, say):
                say(f"kafka: {layout.data} already formatted")
        elif args.command == "start":
            found = start(
                layout, heap_mb=settings.kafka_heap_mb, timeout_s=args.timeout, progress=say
            )
            if found.reused:
                say("kafka: reusing the broker already running; " + found.describe()[7:])
            else:
                say(found.describe())
        elif args.command == "stop":
            if stop(layout, progress=say):
                say("kafka: stopped")
            else:
                say(f"kafka: no broker of ours running on {layout.bootstrap}; nothing to stop")
        elif args.command == "status":
            found = status(layout)
            say(found.describe())
            return 0 if found.healthy else EXIT_NOT_RUNNING
        elif args.command == "ready":
            return 0 if broker_ready(layout.bootstrap, args.timeout) else EXIT_NOT_RUNNING
        else:
            made = asyncio.run(
                ensure_topics(
                    settings.kafka_bootstrap,
                    Topics(settings.topic_prefix),
                    settings.topic_partitions,
                    settings.topic_replication_factor,
                    settings.events_retention_ms,
                )
            )
            say(f"kafka: created {len(made)} topics: {', '.join(made) or '(all existed)'}")
    except KafkaLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
