"""``tracestream demo``: the whole pipeline, end to end, on the embedded defaults.

SDK -> Kafka (the local broker) -> worker (validate, redact, price, assemble,
windows, anomalies; a child process) -> output topics -> sink (this process)
-> chDB -> SQL, the analysis report and the UI.

A simulated support agent handles tickets on several threads for a few
seconds; part-way its knowledge base slows down and then its planner's cost
jumps (:data:`tracestream.demo.DEMO_INCIDENTS`). The demo's worker compresses
time (half-second windows, see :data:`DEMO_WORKER_ENV`) so those seconds build
the baseline the anomaly scorer needs. Blocks until every trace is stored or
the timeout passes; while it runs, this process owns the chDB directory and
serves read-only queries, so ``tracestream query`` works from another shell.
Ctrl-C stops the workload and cleans up (worker, sink, storage); the broker
is left running for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tracestream._settings import Settings, load_settings
from tracestream.cli._demo_output import ProgressLine, say

__all__ = ["DEMO_WORKER_ENV", "demo"]

#: The demo worker's settings: time compressed so seconds of traffic make a
#: baseline of windows (a production worker keeps 60 s windows, 10 s lateness,
#: 10 baseline windows and 20 spans before a latency is scored). A window of
#: half a second holds a dozen spans of a key, whose p95 jitters with the
#: machine's load, so the threshold is 6 rather than 4 (the injected incidents
#: score |z| 8-50). A 1 s grace: the simulated
#: agent ends every child span before its trace's root, so nothing straggles
#: (production: 5 s).
DEMO_WORKER_ENV = {
    "TRACESTREAM_WINDOW_S": "0.5",
    "TRACESTREAM_ALLOWED_LATENESS_S": "1",
    "TRACESTREAM_ANOMALY_MIN_BASELINE": "4",
    "TRACESTREAM_ANOMALY_MIN_COUNT": "6",
    "TRACESTREAM_ANOMALY_THRESHOLD": "6",
    "TRACESTREAM_GRACE_S": "1",
}
_PROJECT = "demo"
_SERVICE = "support-bot"
_REPORTS = ("tools", "workflows", "context", "reasoning", "examples")


@dataclass(frozen=True, slots=True)
class _Options:
    traces: int
    agents: int
    timeout_s: float
    seed: int
    verbose: bool


@click.command()
@click.option(
    "--traces", type=click.IntRange(1), default=160, show_default=True, help="Tickets to simulate."
)
@click.option(
    "--agents",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Tickets handled at once (threads of the simulated agent).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds to wait for every trace to be stored.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--verbose",
    is_flag=True,
    help="Show every log line (the Kafka client's own included, from INFO up), here and in "
    "the worker's log.",
)
def demo(traces: int, agents: int, timeout_s: float, seed: int, verbose: bool) -> None:
    """Run the pipeline end to end; show what was stored, the anomalies found, the
    report, and where the metrics and the UI are."""
    import logging

    from tracestream._kafka_link import own_kafka_clients

    settings = load_settings()
    # Our own warnings stay; the Kafka client's transient noise (a coordinator still
    # loading, a leader that moved on fresh topics) is held back unless --verbose.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    own_kafka_clients(verbose=verbose, where=settings.kafka_bootstrap)
    if settings.clickhouse_url:
        say(f"storing into the ClickHouse server at {settings.clickhouse_url}")
    options = _Options(traces, agents, timeout_s, seed, verbose)
    try:
        asyncio.run(_run(settings, options))
    except KeyboardInterrupt:
        say("interrupted: worker, sink and storage closed; the broker keeps running")
        raise SystemExit(130) from None


async def _run(settings: Settings, options: _Options) -> None:
    from prometheus_client import CollectorRegistry

    from tracestream import broker
    from tracestream._open_storage import open_storage
    from tracestream._worker_process import WorkerProcess
    from tracestream.cli._kafka import broker_layout
    from tracestream.cli._sink import _sink_config, claim_sink_member
    from tracestream.schemas import Topics
    from tracestream.sinks import QueryServer, Sink, SinkMetrics, StorageError, query_server_file

    started = datetime.now(UTC)
    say(f"Kafka: starting (or reusing) the local broker on {settings.kafka_bootstrap}")
    status = await asyncio.to_thread(
        broker.start,
        broker_layout(settings),
        heap_mb=settings.kafka_heap_mb,
        timeout_s=120.0,
        progress=say,
    )
    say(status.describe())
    topics = Topics(settings.topic_prefix)
    made = await broker.ensure_topics(
        settings.kafka_bootstrap,
        topics,
        settings.topic_partitions,
        settings.topic_replication_factor,
        settings.events_retention_ms,
    )
    say(f"topics: {len(made)} created, {len(topics.all()) - len(made)} already there")

    try:
        storage = open_storage(settings)
    except StorageError as exc:
        raise click.ClickException(
            f"{exc}\nFix: stop the other process using {settings.home} (a running `tracestream sink`?)"
        ) from None
    say(f"storage: {storage.engine_name} database {storage.database!r} (migrations applied)")

    with contextlib.ExitStack() as stack:
        stack.callback(storage.close)
        if storage.engine_name == "chdb":
            stack.enter_context(
                QueryServer(storage, discovery_path=query_server_file(settings.home))
            )
        workdir = settings.home / "demo-worker"  # kept: its worker.log is worth reading
        say(
            f"worker: starting `tracestream worker` ({settings.worker_engine}; "
            f"{DEMO_WORKER_ENV['TRACESTREAM_WINDOW_S']} s windows for the demo) ..."
        )
        worker = WorkerProcess(
            {
                "TRACESTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                "TRACESTREAM_TOPIC_PREFIX": settings.topic_prefix,
                **DEMO_WORKER_ENV,
            },
            workdir,
            args=("--verbose",) if options.verbose else (),
        )
        await asyncio.to_thread(worker.start, timeout_s=120.0)
        stack.callback(worker.stop)
        worker_metrics = f"http://127.0.0.1:{worker.web_port}/metrics"
        registry = CollectorRegistry()
        sink_metrics = stack.enter_context(_serve_metrics(registry))
        say(f"worker: up, /metrics on {worker_metrics}; sink /metrics on {sink_metrics}")

        claim, instance_id = claim_sink_member(settings)
        if claim is not None:
            stack.callback(claim.release)
        sink = Sink(
            storage,
            _sink_config(settings, group_instance_id=instance_id),
            SinkMetrics(registry),
        )
        await sink.start()
        stop = asyncio.Event()
        sink_task = asyncio.create_task(sink.run(stop))
        try:
            run = await _drive(settings, storage, worker, options)
            await _wait_for_windows(storage, worker, run.trace_ids)
            counters = await asyncio.to_thread(_metric_totals, worker_metrics, sink_metrics)
        finally:
            stop.set()
            await sink_task
            await sink.stop()
        for note in run.notes:
            say(note)
        _show(settings, storage, run, started, (worker_metrics, sink_metrics), counters)


@dataclass(slots=True)
class _Run:
    trace_ids: list[str]
    otlp_trace: str | None
    notes: list[str]


async def _drive(settings: Settings, storage: Any, worker: Any, options: _Options) -> _Run:
    """Emit the tickets (then one OTLP trace) and follow them into storage on one progress line.

    Raises:
        click.ClickException: the worker died, or the traces were not all stored in time.
    """
    from tracestream._configure import configure
    from tracestream.cli._demo_otlp import emit_otlp
    from tracestream.demo import DEMO_INCIDENTS, run_workload

    tracer = configure(
        project=_PROJECT,
        service=_SERVICE,
        environment="demo",
        kafka_bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
    )
    finished: list[str] = []  # trace ids, appended by the agents' threads
    halt = threading.Event()

    def work() -> list[str]:
        result = run_workload(
            tracer,
            traces=options.traces,
            seed=options.seed,
            incidents=DEMO_INCIDENTS,
            agents=options.agents,
            on_ticket=finished.append,
            stop=halt,
        )
        tracer.flush(10.0)
        return list(result.trace_ids)

    say(
        f"SDK: a simulated support agent handles {options.traces} tickets, "
        f"{options.agents} at a time; part-way the knowledge base slows down, then the "
        "planner's cost jumps ..."
    )
    notes: list[str] = []
    line = ProgressLine()
    emission = asyncio.create_task(asyncio.to_thread(work))
    # Independent of the tickets: sent alongside, so its grace overlaps theirs.
    otlp = asyncio.create_task(emit_otlp(settings, notes.append))
    deadline = time.monotonic() + options.timeout_s
    stored = 0
    try:
        while True:
            _check_worker(worker)
            ids = list(finished)
            stored = await asyncio.to_thread(_stored_traces, storage, ids)
            stats = tracer.stats()
            line.update(
                f"tickets {len(ids)}/{options.traces} · events sent {stats.sent:,} "
                f"(dropped {stats.dropped}) · traces stored {stored}/{options.traces}"
            )
            if emission.done():
                emission.result()  # raises what the workload raised
            if stored >= options.traces and otlp.done():
                break
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"only {stored} of {options.traces} traces reached storage in "
                    f"{options.timeout_s:.0f}s.\nworker log tail:\n{worker.log_tail()}"
                )
            await asyncio.sleep(0.5)
    finally:
        line.finish()
        halt.set()
        for task in (emission, otlp):
            if not task.done():
                with contextlib.suppress(Exception):
                    await task
        tracer.shutdown(10.0)
    stats = tracer.stats()
    notes.insert(0, f"SDK: {stats.sent:,} events sent, {stats.dropped} dropped")
    otlp_trace = otlp.result()
    if otlp_trace is not None:
        from tracestream.cli._demo_otlp import wait_for_otlp

        await wait_for_otlp(storage, otlp_trace, options.timeout_s)
    return _Run(emission.result(), otlp_trace, notes)


def _stored_traces(storage: Any, trace_ids: list[str]) -> int:
    if not trace_ids:
        return 0
    stored: int = storage.query(
        "SELECT uniqExact(trace_id) FROM traces WHERE trace_id IN {ids:Array(String)}",
        {"ids": trace_ids},
    ).scalar()
    return stored


def _check_worker(worker: Any) -> None:
    """Raise when the worker child is gone: KeyboardInterrupt when it stopped cleanly.

    Ctrl-C reaches the worker too (it shares the terminal's process group)
    and it stops cleanly only on SIGINT or SIGTERM; this process may never see
    the SIGINT itself, because chDB's native handler takes it once a SELECT
    has run (seen: a SIGINT after ``SELECT 1`` left a sleeping asyncio.run
    untouched). So the worker's clean exit is the demo's Ctrl-C.

    Raises:
        KeyboardInterrupt: the worker exited with 0.
        click.ClickException: it exited otherwise (with its log tail).
    """
    if worker.running():
        return
    tail = worker.log_tail()
    if worker.stop() == 0:
        raise KeyboardInterrupt
    raise click.ClickException(f"the worker exited; its log ends with:\n{tail}")


async def _wait_for_windows(
    storage: Any, worker: Any, trace_ids: list[str], budget_s: float = 15.0
) -> None:
    """Until the window holding the last span is stored: every window is then scored.

    The worker flushes its last windows once spans stop for a window plus the
    lateness; traces wait longer (their grace), so this rarely waits at all.
    """
    query = """
        SELECT count() FROM metrics_1m
        WHERE project = {project:String} AND service = {service:String}
          AND window_end > (SELECT max(end_time) FROM spans
                            WHERE trace_id IN {ids:Array(String)})
    """
    params = {"project": _PROJECT, "service": _SERVICE, "ids": trace_ids}
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        _check_worker(worker)
        if await asyncio.to_thread(lambda: storage.query(query, params).scalar()):
            return
        await asyncio.sleep(0.5)


@contextlib.contextmanager
def _serve_metrics(registry: Any) -> Any:
    """Serve ``registry`` on a free loopback port; yields the /metrics URL."""
    from prometheus_client import start_http_server

    from tracestream._worker_process import free_port

    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)


def _metric_totals(worker_url: str, sink_url: str) -> dict[str, float]:
    """A few counters read over HTTP from both /metrics, as a scraper would."""
    import urllib.request

    from tracestream._worker_process import metric_value

    def scrape(url: str) -> str:
        with urllib.request.urlopen(url, timeout=5.0) as answer:
            body: bytes = answer.read()
            return body.decode()

    worker, sink = scrape(worker_url), scrape(sink_url)
    return {
        "events in": metric_value(worker, "tracestream_events_in_total"),
        "anomalies": metric_value(worker, "tracestream_anomalies_total"),
        "rows written": metric_value(sink, "tracestream_sink_rows_written_total"),
    }


def _show(
    settings: Settings,
    storage: Any,
    run: _Run,
    started: datetime,
    metrics_urls: tuple[str, str],
    counters: dict[str, float],
) -> None:
    from tracestream.cli._demo_otlp import report_otlp
    from tracestream.cli._demo_report import (
        SQL_TO_TRY,
        anomaly_rows,
        show_anomalies,
        show_workload,
        trace_worth_opening,
    )
    from tracestream.sinks import terminal_console

    console = terminal_console()
    report_otlp(storage, run.otlp_trace)
    show_workload(console, storage, run.trace_ids)
    anomalies = anomaly_rows(storage, _PROJECT, started)
    show_anomalies(console, anomalies)
    report = _write_report(storage, settings.home / "demo-report.html", started)
    opening = trace_worth_opening(storage, run.trace_ids)

    click.echo()
    say("Where to look next")
    click.echo(f"  report   {report}")
    click.echo("           the analysis (latency, cost, quality, anomalies) with the feedback")
    click.echo(f"           reports {', '.join(_REPORTS)}; rebuild it with")
    click.echo(
        f"           tracestream analyze --since 1h --project {_PROJECT} "
        + " ".join(f"--report {r}" for r in _REPORTS)
        + " --section performance --section costs --section quality --section patterns"
        " --section anomalies --html report.html"
    )
    worker_url, sink_url = metrics_urls
    click.echo(
        f"  metrics  worker {worker_url} ({counters['events in']:,.0f} events in, "
        f"{counters['anomalies']:,.0f} anomalies)"
    )
    click.echo(f"           sink   {sink_url} ({counters['rows written']:,.0f} rows written)")
    click.echo(
        "           (served while the demo ran; `tracestream worker` serves it on port "
        f"{settings.worker_web_port}, `tracestream sink --metrics-port N`)"
    )
    click.echo("  UI       tracestream ui")
    if opening is not None:
        click.echo(f"           then open http://127.0.0.1:7070/#/trace/{opening}")
        click.echo(f"           trace {opening}: its order lookup failed, was retried, and passed")
    click.echo("  SQL      try:")
    for what, sql in SQL_TO_TRY:
        click.echo(f"           # {what}")
        click.echo(f'           tracestream query "{sql}"')
    click.echo("\n`tracestream kafka stop` stops the broker when you are done.")


def _write_report(storage: Any, path: Path, started: datetime) -> Path:
    """The analysis with every feedback report, as HTML, for the demo's time range."""
    from tracestream.sinks import AnalysisScope, analyze, feedback, report_html

    scope = AnalysisScope(started, datetime.now(UTC), project=_PROJECT)
    report = feedback(storage, scope, _REPORTS, into=analyze(storage, scope))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(report), encoding="utf-8")
    return path.resolve()
