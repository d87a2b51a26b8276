"""``tracestream worker``: run the stream processor (the composition root of ``streams/``).

This is the edge: it reads :class:`~tracestream._settings.Settings`, builds the
pure stages and the runtime chosen by ``worker_engine`` (the plain aiokafka
loop or the Faust adapter, both in ``tracestream.streams.runtime``) from typed
values, and runs the worker until SIGINT/SIGTERM (both stop cleanly,
committing what was acknowledged). The settings' ``worker_*_ms`` keep the
names users set; the runtimes take seconds, converted here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from prometheus_client import CollectorRegistry, ProcessCollector

from tracestream._settings import Settings, load_settings

__all__ = ["build_worker", "worker"]


def build_worker(settings: Settings, *, registry: CollectorRegistry | None = None) -> Any:
    """The worker for ``settings``: a :class:`~tracestream.streams.runtime.WorkerApp`
    (``worker_engine="faust"``) or a :class:`~tracestream.streams.runtime.KafkaWorker`
    (``"aiokafka"``), both exposing ``store``, ``window_store`` and ``baseline_store``.
    Performs no I/O."""
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
    app: Any
    if settings.worker_engine == "aiokafka":
        from tracestream.streams.runtime import KafkaWorker, KafkaWorkerConfig

        app = KafkaWorker(
            KafkaWorkerConfig(
                app_id=f"{prefix}{settings.worker_app_id}",
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
                gc_full_collect_s=settings.worker_gc_full_collect_s,
            ),
            Pipeline(stages, metrics),
            metrics,
        )
    else:
        from tracestream.streams.runtime import WorkerApp, WorkerConfig

        config = WorkerConfig(
            app_id=f"{prefix}{settings.worker_app_id}",
            kafka_bootstrap=settings.kafka_bootstrap,
            topics=Topics(prefix),
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            store=settings.worker_store,
            datadir=str(Path(settings.home) / "worker" / f"{prefix}{settings.worker_app_id}"),
            web_host=settings.worker_web_host,
            web_port=settings.worker_web_port,
            batch_size=settings.worker_batch_size,
            batch_within_s=settings.worker_batch_within_ms / 1000,
            tick_interval_s=settings.worker_tick_interval_ms / 1000,
            session_timeout_s=settings.worker_session_timeout_ms / 1000,
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


@click.command()
@click.option("--web-port", type=int, default=None, help="Override worker_web_port.")
def worker(web_port: int | None) -> None:
    """Run the stream worker: validate, redact, price, assemble, window, score; serve /metrics."""
    import asyncio
    import logging

    from tracestream.broker import ensure_topics
    from tracestream.schemas import Topics
    from tracestream.streams.runtime import tune_gc

    overrides: dict[str, Any] = {}
    if web_port is not None:
        overrides["worker_web_port"] = web_port
    settings = load_settings(**overrides)
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
    built = build_worker(settings)
    if settings.worker_engine == "faust":
        Path(built.config.datadir).parent.mkdir(parents=True, exist_ok=True)
    # Assembly state holds every open trace's events: hundreds of thousands of
    # long-lived objects that each full collection would walk again.
    tune_gc()
    if settings.worker_engine == "aiokafka":
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        )
        asyncio.run(built.run())
        return
    import faust

    faust.Worker(built.app, loglevel=settings.log_level.lower()).execute_from_commandline()
