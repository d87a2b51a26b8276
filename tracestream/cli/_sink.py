"""``tracestream sink``, ``tracestream migrate`` and ``tracestream bench sink``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from tracestream._kafka_names import KafkaNames, MemberClaim, claim_member, kafka_names
from tracestream._settings import Settings, load_settings

if TYPE_CHECKING:
    from tracestream.sinks import Sink

__all__ = ["claim_sink_member", "migrate", "sink", "sink_totals"]


def claim_sink_member(settings: Settings) -> tuple[MemberClaim | None, str | None]:
    """This process's static member name in the sink's group: (the claim, the instance id).

    Keep the claim for as long as the sink runs (it is a lock).
    """
    group = kafka_names(settings).sink_group
    claim = claim_member(group, settings.group_instance_name)
    return claim, None if claim is None else KafkaNames.instance_id(group, claim.member)


def sink_totals(holder: list[Sink]) -> Callable[[], str]:
    """The running totals the sink's Kafka connection lines carry (of the sink in ``holder``)."""

    def totals() -> str:
        if not holder:
            return ""
        return (
            f"Sink totals: {holder[0].rows_stored:,} rows stored, "
            f"{holder[0].rows_dead_lettered:,} dead-lettered."
        )

    return totals


def _sink_config(
    settings: Settings, *, group_instance_id: str | None = None, **overrides: Any
) -> Any:
    """The sink's typed config from ``settings``; its Kafka names follow the topic prefix.

    ``group_instance_id``: the sink's static member name (the caller claims one
    with :func:`~tracestream._kafka_names.claim_member`), None for a dynamic member.
    """
    from tracestream.schemas import Topics
    from tracestream.sinks import RetentionPolicy, SinkConfig

    group = kafka_names(settings).sink_group
    values: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "topics": Topics(settings.topic_prefix),
        "group_id": group,
        "group_instance_id": group_instance_id,
        "client_id": KafkaNames.client_id(group),
        "batch_max_rows": settings.sink_batch_max_rows,
        "batch_max_ms": settings.sink_batch_max_ms,
        "flush_min_interval_ms": settings.sink_flush_min_interval_ms,
        "retry_initial_ms": settings.sink_retry_initial_ms,
        "retry_max_ms": settings.sink_retry_max_ms,
        "fetch_max_records": settings.sink_fetch_max_records,
        "check_crcs": settings.sink_check_crcs,
        "retention": RetentionPolicy(
            settings.retention_days, dict(settings.sink_project_retention_days)
        ),
    }
    values.update(overrides)
    return SinkConfig(**values)


@click.command()
@click.option(
    "--cluster",
    metavar="NAME",
    default=None,
    help="Create the tables ON CLUSTER NAME: replicated shard tables (<table>_local) "
    "and Distributed tables over them. Needs a ClickHouse server URL.",
)
def migrate(cluster: str | None) -> None:
    """Create or update the ClickHouse tables (a no-op when up to date)."""
    from tracestream._open_storage import open_storage
    from tracestream.sinks import StorageError, apply_migrations

    settings = load_settings()
    if cluster is not None and not settings.clickhouse_url:
        # chDB is one process on one machine: there is no cluster to create tables on.
        raise click.UsageError("--cluster needs TRACESTREAM_CLICKHOUSE_URL (a server)")
    try:
        storage = open_storage(settings, migrate=False)
        try:
            applied = apply_migrations(storage, cluster=cluster)
        finally:
            storage.close()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    if applied:
        click.echo("applied migrations: " + ", ".join(f"{v:04d}" for v in applied))
    else:
        click.echo("schema is up to date")


@click.command()
@click.option("--metrics-port", type=int, default=0, help="Serve /metrics on this port (0: off).")
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address /metrics binds to. Loopback by default; a container sets 0.0.0.0 so "
    "Prometheus on its network can scrape it (the page holds counters, no data).",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Show the Kafka and ClickHouse clients' own log lines (every retry) instead of "
    "one line per change of the connection's or storage's state.",
)
def sink(metrics_port: int, metrics_host: str, verbose: bool) -> None:
    """Consume the output topics into ClickHouse until interrupted (Ctrl-C, SIGTERM).

    In embedded mode this process owns the chDB directory, so it also serves
    read-only queries for `tracestream query` and `analyze` from other shells.
    """
    from prometheus_client import REGISTRY, start_http_server

    from tracestream._kafka_link import own_kafka_clients
    from tracestream._open_storage import open_storage
    from tracestream.sinks import Sink, SinkMetrics, StorageError
    from tracestream.streams.runtime import tune_gc

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    running: list[Sink] = []
    own_kafka_clients(verbose=verbose, where=settings.kafka_bootstrap, totals=sink_totals(running))
    if not verbose:
        # A failed insert reaches the sink as one StorageError, which it reports
        # once per change of state; the HTTP client's own warnings repeated it on
        # every retry (188 lines in a 30 s outage, tests/faults/test_storage_outage.py).
        # urllib3's pool logger by its own name: clickhouse-connect sets the level of
        # "urllib3" itself when it is imported, after this.
        for library in ("clickhouse_connect", "urllib3.connectionpool"):
            logging.getLogger(library).setLevel(logging.ERROR)
    try:
        storage = open_storage(settings)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    if metrics_port:
        start_http_server(metrics_port, addr=metrics_host)
    # A flush holds up to batch_max_rows fetched records per table (two objects
    # each); CPython's default thresholds walked them again every 700 allocations,
    # ~0.05 s of CPU per 100k spans on the event loop that also fetches.
    tune_gc()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker = Sink(
            storage,
            _sink_config(settings, group_instance_id=instance_id),
            SinkMetrics(REGISTRY),
        )
        running.append(worker)
        await worker.start()
        try:
            await worker.run(stop)
        finally:
            await worker.stop()

    # Held (a lock) for as long as this process runs: a restart gets the name back.
    claim, instance_id = claim_sink_member(settings)
    with contextlib.ExitStack() as stack:
        if claim is not None:
            stack.callback(claim.release)
        stack.callback(storage.close)
        if storage.engine_name == "chdb":
            from tracestream.sinks import QueryServer, query_server_file

            # Operator statements too (`tracestream admin`): while the sink runs, its
            # engine is the only one that can run an ALTER on the embedded tables.
            server = QueryServer(
                storage, discovery_path=query_server_file(settings.home), allow_commands=True
            )
            stack.enter_context(server)
        asyncio.run(main())
