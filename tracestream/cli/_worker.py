"""``tracestream worker``: run the stream processor (the composition root of ``streams/``).

This is the edge: it reads :class:`~tracestream._settings.Settings`, builds the
pure stages and the runtime chosen by ``worker_engine`` (the plain aiokafka
loop or the Faust adapter, both in ``tracestream.streams.runtime``) from typed
values, and runs the worker until SIGINT/SIGTERM (both stop cleanly,
committing what was acknowledged). The settings' ``worker_*_ms`` keep the
names users set; the runtimes take seconds, converted here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from prometheus_client import CollectorRegistry, ProcessCollector

from tracestream._kafka_names import KafkaNames
from tracestream._settings import Settings, load_settings

__all__ = ["build_worker", "worker"]


def build_worker(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    group_instance_id: str | None = None,
) -> Any:
    """The worker for ``settings``: a :class:`~tracestream.streams.runtime.WorkerApp`
    (``worker_engine="faust"``) or a :class:`~tracestream.streams.runtime.KafkaWorker`
    (``"aiokafka"``), both exposing ``store``, ``window_store`` and ``baseline_store``.
    Performs no I/O.

    Args:
        settings: the deployment's settings (names follow
            :func:`~tracestream._kafka_names.kafka_names`).
        registry: where the metrics go; a fresh one with the process collector by default.
        group_instance_id: the worker's static member name (the command claims one);
            None: a dynamic member.
    """
    from tracestream._kafka_names import kafka_names
    from tracestream._stages import add_stateful_stages, stateless_stages
    from tracestream.schemas import Topics
    from tracestream.streams import Pipeline, PipelineMetrics

    if registry is None:
        registry = CollectorRegistry()
        # The process's own CPU, memory and open files, as Prometheus targets export
        # them (process_cpu_seconds_total, ...; read on each scrape). bench pipeline
        # reads the worker's CPU per event from them.
        ProcessCollector(registry=registry)
    metrics = PipelineMetrics(
        registry,
        services=settings.metrics_services,
        models=settings.metrics_models,
        top_n=settings.metrics_top_n,
    )
    stages = stateless_stages(settings)
    prefix = settings.topic_prefix
    group = kafka_names(settings).worker_group
    app: Any
    if settings.worker_engine == "aiokafka":
        from tracestream.streams.runtime import KafkaWorker, KafkaWorkerConfig

        app = KafkaWorker(
            KafkaWorkerConfig(
                app_id=group,
                kafka_bootstrap=settings.kafka_bootstrap,
                topics=Topics(prefix),
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                web_host=settings.worker_web_host,
                web_port=settings.worker_web_port,
                batch_size=settings.worker_batch_size,
                batch_within_s=settings.worker_batch_within_ms / 1000,
                tick_interval_s=settings.worker_tick_interval_ms / 1000,
                session_timeout_s=settings.worker_session_timeout_ms / 1000,
                group_instance_id=group_instance_id,
                client_id=KafkaNames.client_id(group),
                gc_full_collect_s=settings.worker_gc_full_collect_s,
            ),
            Pipeline(stages, metrics),
            metrics,
        )
    else:
        from tracestream.streams.runtime import WorkerApp, WorkerConfig

        config = WorkerConfig(
            app_id=group,
            kafka_bootstrap=settings.kafka_bootstrap,
            topics=Topics(prefix),
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            store=settings.worker_store,
            datadir=str(Path(settings.home) / "worker" / group),
            web_host=settings.worker_web_host,
            web_port=settings.worker_web_port,
            batch_size=settings.worker_batch_size,
            batch_within_s=settings.worker_batch_within_ms / 1000,
            tick_interval_s=settings.worker_tick_interval_ms / 1000,
            session_timeout_s=settings.worker_session_timeout_ms / 1000,
            # A dynamic member: static membership under Faust crashed its assignor
            # or left partitions unconsumed (measured; see streams/runtime/_faust.py).
            group_instance_id=None,
            client_id=KafkaNames.client_id(group),
            gc_full_collect_s=settings.worker_gc_full_collect_s,
        )
        app = WorkerApp(config, Pipeline(stages, metrics), metrics)
    # The stateful stages keep their state in the runtime's changelogged stores.
    add_stateful_stages(
        stages,
        settings,
        trace_store=app.store,
        window_store=app.window_store,
        baseline_store=app.baseline_store,
    )
    return app


def _totals(metrics: Any) -> Callable[[], str]:
    """The running totals the worker's Kafka connection lines carry."""

    def total(counter: Any) -> float:
        return sum(
            float(sample.value)
            for family in counter.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )

    return lambda: (
        f"Worker totals: {total(metrics.events_in):,.0f} events consumed, "
        f"{total(metrics.spans):,.0f} spans and {total(metrics.traces):,.0f} traces published, "
        f"{total(metrics.publish_failures):,.0f} failed publish attempts."
    )


@click.command()
@click.option("--web-port", type=int, default=None, help="Override worker_web_port.")
@click.option(
    "--verbose",
    is_flag=True,
    help="Show the Kafka client's own log lines (INFO and up, every retry) instead of "
    "one line per change of the connection's state.",
)
def worker(web_port: int | None, verbose: bool) -> None:
    """Run the stream worker: validate, redact, price, assemble, window, score; serve /metrics."""
    import asyncio
    import logging

    from tracestream._kafka_link import own_kafka_clients
    from tracestream._kafka_names import claim_member, kafka_names
    from tracestream.broker import ensure_topics
    from tracestream.schemas import Topics
    from tracestream.streams.runtime import tune_gc

    overrides: dict[str, Any] = {}
    if web_port is not None:
        overrides["worker_web_port"] = web_port
    settings = load_settings(**overrides)
    # Faust replaces these handlers with its own when it starts; until then (and for
    # the aiokafka runtime throughout) the worker's lines look like this.
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    metrics_holder: list[Any] = []
    link = own_kafka_clients(
        verbose=verbose,
        where=settings.kafka_bootstrap,
        totals=lambda: _totals(metrics_holder[0].metrics)() if metrics_holder else "",
    )
    del link  # reports by itself; held by the pacing it installed
    # The worker creates the topics it reads and writes (existing ones are left as
    # they are), so it does not depend on another command having run first.
    asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap,
            Topics(settings.topic_prefix),
            settings.topic_partitions,
            settings.topic_replication_factor,
            settings.events_retention_ms,
        )
    )
    group = kafka_names(settings).worker_group
    # Held (a lock) for as long as this process runs: a restart gets the name back.
    # The Faust runtime joins as a dynamic member (build_worker), so it claims none.
    claim = (
        claim_member(group, settings.group_instance_name)
        if settings.worker_engine == "aiokafka"
        else None
    )
    built = build_worker(
        settings,
        group_instance_id=None if claim is None else KafkaNames.instance_id(group, claim.member),
    )
    metrics_holder.append(built)
    if settings.worker_engine == "faust":
        Path(built.config.datadir).parent.mkdir(parents=True, exist_ok=True)
    # Assembly state holds every open trace's events: hundreds of thousands of
    # long-lived objects that each full collection would walk again.
    tune_gc()
    try:
        if settings.worker_engine == "aiokafka":
            asyncio.run(built.run())
            return
        import faust

        faust.Worker(built.app, loglevel=settings.log_level.lower()).execute_from_commandline()
    finally:
        if claim is not None:
            claim.release()
