"""``tracestream kafka``: the local broker (fetch, start, stop, status, topics)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import click

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

__all__ = ["kafka", "main"]

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
    sys.exit(main([command, "--timeout", str(timeout)]))


def main(argv: list[str] | None = None) -> int:
    """``python -m tracestream.broker._local fetch|format|start|stop|status|topics|ready``."""
    from tracestream._settings import load_settings
    from tracestream.schemas import Topics

    parser = argparse.ArgumentParser(prog="kafka.sh", description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["fetch", "format", "start", "stop", "status", "topics", "ready"]
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (start, ready)")
    args = parser.parse_args(argv)
    settings = load_settings()
    layout = Layout.from_settings(settings)

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
            found = start(settings, args.timeout, say)
            if found.reused:
                say("kafka: reusing the broker already running; " + found.describe()[7:])
            else:
                say(found.describe())
        elif args.command == "stop":
            if stop(settings, progress=say):
                say("kafka: stopped")
            else:
                say(f"kafka: no broker of ours running on {layout.bootstrap}; nothing to stop")
        elif args.command == "status":
            found = status(settings)
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
