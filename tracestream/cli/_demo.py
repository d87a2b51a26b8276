"""``tracestream demo``: the whole pipeline, end to end, on the embedded defaults.

SDK -> Kafka (the local broker) -> worker (validate, redact, price, assemble;
a child process) -> output topics -> sink (this process) -> chDB -> SQL.

Blocks until every emitted trace is stored or the timeout passes. While it
runs, this process owns the chDB directory and serves read-only queries, so
``tracestream query`` works from another shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import click

from tracestream._settings import Settings, load_settings

__all__ = ["demo"]


def _say(message: str) -> None:
    click.echo(click.style("==> ", bold=True) + message)


@click.command()
@click.option(
    "--traces", type=int, default=40, show_default=True, help="Support tickets to simulate."
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
def demo(traces: int, timeout_s: float, seed: int, verbose: bool) -> None:
    """Run the pipeline end to end and print what reached ClickHouse (chDB)."""
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
        _say(f"storing into the ClickHouse server at {settings.clickhouse_url}")
    try:
        asyncio.run(_run(settings, traces, timeout_s, seed, verbose))
    except _DemoFailed as exc:
        raise click.ClickException(str(exc)) from None


class _DemoFailed(Exception):
    pass


async def _run(
    settings: Settings, traces: int, timeout_s: float, seed: int, verbose: bool = False
) -> None:
    from prometheus_client import CollectorRegistry

    from tracestream import broker
    from tracestream._open_storage import open_storage
    from tracestream._worker_process import WorkerProcess
    from tracestream.cli._kafka import broker_layout
    from tracestream.cli._sink import _sink_config, claim_sink_member
    from tracestream.schemas import Topics
    from tracestream.sinks import QueryServer, Sink, SinkMetrics, StorageError, query_server_file

    _say(f"Kafka: starting (or reusing) the local broker on {settings.kafka_bootstrap}")
    status = await asyncio.to_thread(
        broker.start,
        broker_layout(settings),
        heap_mb=settings.kafka_heap_mb,
        timeout_s=120.0,
        progress=_say,
    )
    _say(status.describe())
    topics = Topics(settings.topic_prefix)
    made = await broker.ensure_topics(
        settings.kafka_bootstrap,
        topics,
        settings.topic_partitions,
        settings.topic_replication_factor,
        settings.events_retention_ms,
    )
    _say(f"topics: {len(made)} created, {len(topics.all()) - len(made)} already there")

    try:
        storage = open_storage(settings)
    except StorageError as exc:
        raise _DemoFailed(
            f"{exc}\nFix: stop the other process using {settings.home} (a running `tracestream sink`?)"
        ) from None
    _say(f"storage: {storage.engine_name} database {storage.database!r} (migrations applied)")

    with contextlib.ExitStack() as stack:
        stack.callback(storage.close)
        if storage.engine_name == "chdb":
            stack.enter_context(
                QueryServer(storage, discovery_path=query_server_file(settings.home))
            )
        workdir = settings.home / "demo-worker"  # kept: its worker.log is worth reading
        _say(f"worker: starting `tracestream worker` ({settings.worker_engine}) ...")
        worker = WorkerProcess(
            {
                "TRACESTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                "TRACESTREAM_TOPIC_PREFIX": settings.topic_prefix,
            },
            workdir,
            args=("--verbose",) if verbose else (),
        )
        await asyncio.to_thread(worker.start, timeout_s=120.0)
        stack.callback(worker.stop)
        _say(f"worker: up, /metrics on http://127.0.0.1:{worker.web_port}/metrics")

        claim, instance_id = claim_sink_member(settings)
        if claim is not None:
            stack.callback(claim.release)
        sink = Sink(
            storage,
            _sink_config(settings, group_instance_id=instance_id),
            SinkMetrics(CollectorRegistry()),
        )
        await sink.start()
        stop = asyncio.Event()
        sink_task = asyncio.create_task(sink.run(stop))
        try:
            trace_ids = await _emit(settings, traces, seed)
            otlp_trace = await _emit_otlp(settings)
            await _wait_for(storage, trace_ids, timeout_s, worker)
            await _wait_for_otlp(storage, otlp_trace, timeout_s)
        finally:
            stop.set()
            await sink_task
            await sink.stop()
        _report_otlp(storage, otlp_trace)
        _report(storage, trace_ids)


async def _emit(settings: Settings, traces: int, seed: int) -> list[str]:
    from tracestream._configure import configure
    from tracestream.demo import run_workload

    tracer = configure(
        project="demo",
        service="support-bot",
        environment="demo",
        kafka_bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
    )
    done = threading.Event()

    def work() -> list[str]:
        try:
            result = run_workload(tracer, traces=traces, seed=seed)
            tracer.flush(10.0)
            return list(result.trace_ids)
        finally:
            done.set()

    _say(f"SDK: a simulated support agent handles {traces} tickets ...")
    task = asyncio.create_task(asyncio.to_thread(work))
    while not done.is_set():
        await asyncio.sleep(1.0)
        stats = tracer.stats()
        click.echo(
            f"    sent {stats.sent:>5}  buffered {stats.buffered:>4}  dropped {stats.dropped}"
        )
    trace_ids = await task
    stats = tracer.stats()
    _say(f"SDK: {stats.sent} events sent, {stats.dropped} dropped")
    tracer.shutdown(10.0)
    return trace_ids


# --- One trace over OTLP: an OpenTelemetry-instrumented app, no tracestream SDK ---------


async def _emit_otlp(settings: Settings) -> str | None:
    """Send one trace from the OpenTelemetry SDK through an in-process `tracestream otlp`.

    The spans carry GenAI attributes as OTel instrumentations write them; the
    receiver converts them and produces them to the same events topic. Skipped
    (None) without the ``[otlp]`` extra.
    """
    try:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from tracestream._worker_process import free_port
        from tracestream.producers.otlp import ReceiverConfig, build_server
        from tracestream.schemas import Topics
    except ImportError as exc:
        _say(f"OTLP: skipped ({exc.name} missing: pip install 'tracestream[otlp]')")
        return None
    import urllib.request

    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-app"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("demo")
    with tracer.start_as_current_span("answer weather question") as root:
        root.set_attribute("gen_ai.conversation.id", "otlp-demo-session")
        with tracer.start_as_current_span("chat gpt-4o-mini") as chat:
            chat.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.temperature": 0.2,
                "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", '
                                         '"content": "Weather in Paris?"}]}]',
                "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", '
                                          '"content": "18 C and sunny."}]}]',
                "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 12,
                "gen_ai.usage.cache_read.input_tokens": 100,
            })  # fmt: skip
    provider.shutdown()
    body = encode_spans(spans.get_finished_spans()).SerializeToString()
    port = free_port()
    server = build_server(ReceiverConfig(project="demo", default_environment="demo"),
                          host="127.0.0.1", port=port, bootstrap_servers=settings.kafka_bootstrap,
                          topics=Topics(settings.topic_prefix))  # fmt: skip
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(1200):  # uvicorn sets a flag, not an event: look every 50 ms, 60 s at most
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        if serving.done():
            serving.result()  # raises why it did not start
        if not await server.sink.wait_connected(60):
            raise _DemoFailed("the OTLP receiver could not reach Kafka")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces", data=body, method="POST",
            headers={"Content-Type": "application/x-protobuf"},
        )  # fmt: skip
        with await asyncio.to_thread(urllib.request.urlopen, request, timeout=30) as answer:
            status = answer.status
    finally:
        server.should_exit = True
        await serving
    trace_id = format(root.get_span_context().trace_id, "032x")
    _say(f"OTLP: an OpenTelemetry app sent trace {trace_id[:8]} over OTLP/HTTP (answer {status})")
    return trace_id


async def _wait_for_otlp(storage: Any, trace_id: str | None, timeout_s: float) -> None:
    """Until the OTLP trace's spans are stored (after the SDK's traces, so little is left)."""
    if trace_id is None:
        return
    for _ in range(max(1, int(timeout_s))):
        stored = await asyncio.to_thread(
            lambda: storage.query(
                "SELECT count() FROM spans WHERE trace_id = {id:String}", {"id": trace_id}
            ).scalar()
        )
        if stored >= 2:
            return
        await asyncio.sleep(1.0)
    raise _DemoFailed(f"the trace sent over OTLP ({trace_id}) did not reach storage")


def _report_otlp(storage: Any, trace_id: str | None) -> None:
    if trace_id is None:
        return
    row = storage.query(
        "SELECT service, name, kind, model, input_tokens, cached_tokens, output_tokens, "
        "round(cost_usd, 8) FROM spans FINAL WHERE trace_id = {id:String} AND kind = 'generation'",
        {"id": trace_id},
    ).rows
    for service, name, kind, model, inp, cached, out, usd in row:
        click.echo(f"Arrived over OTLP (trace {trace_id[:8]}): {service} / {name} ({kind}, "
                   f"{model}): {inp} input + {cached} cached + {out} output tokens, ${usd}")  # fmt: skip


# --- end of the OTLP block ---------------------------------------------------------------


async def _wait_for(storage: Any, trace_ids: list[str], timeout_s: float, worker: Any) -> None:
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline:
        if not worker.running():
            raise _DemoFailed(f"the worker exited; its log ends with:\n{worker.log_tail()}")
        stored = await asyncio.to_thread(
            lambda: storage.query(
                "SELECT uniqExact(trace_id) FROM traces WHERE trace_id IN {ids:Array(String)}",
                {"ids": trace_ids},
            ).scalar()
        )
        click.echo(f"    traces stored: {stored}/{len(trace_ids)}")
        if stored >= len(trace_ids):
            return
        await asyncio.sleep(2.0)
    raise _DemoFailed(
        f"only {stored} of {len(trace_ids)} traces reached storage in {timeout_s:.0f}s.\n"
        f"worker log tail:\n{worker.log_tail()}"
    )


def _report(storage: Any, trace_ids: list[str]) -> None:
    from tracestream.sinks import rich_table, terminal_console

    console = terminal_console()

    def print_table(title: str, result: Any) -> None:
        console.print()
        console.print(rich_table(result.column_names, result.rows, title=title))

    params = {"ids": trace_ids}
    print_table(
        "Traces (newest version of each)",
        storage.query(
            """
            SELECT substring(trace_id, 1, 8) AS trace, status, span_count AS spans, depth,
                   round(duration_ms, 1) AS ms, arrayStringConcat(models, ',') AS models,
                   round(cost_usd, 6) AS usd, error_count AS errors
            FROM traces FINAL WHERE trace_id IN {ids:Array(String)}
            ORDER BY start_time LIMIT 10
            """,
            params,
        ),
    )
    print_table(
        "Cost and latency by model (generation spans)",
        storage.query(
            """
            SELECT model, count() AS calls, sum(input_tokens) AS input,
                   sum(cached_tokens) AS cached, sum(output_tokens) AS output,
                   round(sum(cost_usd), 6) AS usd,
                   countIf(cost_usd IS NULL) AS unpriced,
                   round(quantile(0.95)(duration_ms), 1) AS p95_ms
            FROM spans FINAL
            WHERE trace_id IN {ids:Array(String)} AND kind = 'generation'
            GROUP BY model ORDER BY usd DESC
            """,
            params,
        ),
    )
    print_table(
        "PII redacted before storage (by detector)",
        storage.query(
            """
            SELECT JSONExtractString(r, 'detector') AS detector, count() AS fields,
                   sum(JSONExtractUInt(r, 'count')) AS values_redacted
            FROM (SELECT arrayJoin(JSONExtractArrayRaw(redactions)) AS r
                  FROM spans FINAL WHERE trace_id IN {ids:Array(String)})
            GROUP BY detector ORDER BY values_redacted DESC
            """,
            params,
        ),
    )
    sample = storage.query(
        "SELECT input FROM spans FINAL WHERE trace_id = {id:String} AND parent_span_id = ''",
        {"id": trace_ids[0]},
    ).scalar()
    click.echo(f"\nA stored input, as an analyst sees it: {sample}")
    click.echo(
        '\nNext: `tracestream analyze --since 1h`, `tracestream query "SELECT ..."`, '
        "`tracestream kafka stop` when done."
    )
