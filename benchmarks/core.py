"""``tracestream bench core``: CPU cost per event of the worker's pure pipeline, by stage.

No Kafka: realistic events from the demo workload (support tickets: PII in the
prompts, generations with usage and cached tokens, tool calls, scores; two in
three traces as ``span.start``/``span.end`` pairs, the rest as whole ``span``
events) go through :meth:`Pipeline.process` in batches, each followed by
:meth:`Pipeline.tick`, with a clock that advances one second per batch (fixed:
the same run every time). After each batch the bench also does what the
worker's runtime does with the output: serialize every record, observe the
span and trace metrics, and write each changed state once (``to_bytes``).
The garbage collector is tuned as ``tracestream worker`` tunes it unless
``--default-gc`` is given.

Stages are timed by wrapping the stage objects' entry points; ``other`` is the
rest of ``process``/``tick`` (the loop, metrics counters, dispatch). Each
figure is the median over ``repeats`` runs of a fresh pipeline, in µs per
input event.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator, MutableMapping
from datetime import datetime
from typing import Any, TypeVar

import click
import orjson
from prometheus_client import CollectorRegistry

__all__ = ["core", "core_events", "run_core_bench"]

T = TypeVar("T")


def core_events(traces: int, *, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """(key, value) events of ``traces`` demo tickets, without the workload's simulated waits."""
    from tracestream.demo import run_workload
    from tracestream.producers import InMemoryTransport, Tracer

    records: list[tuple[bytes, bytes]] = []
    split = traces * 2 // 3
    for n, whole in ((split, False), (traces - split, True)):
        transport = InMemoryTransport()
        tracer = Tracer(
            project="demo",
            service="support",
            transport=transport,
            emit_start_events=not whole,
            flush_at_exit=False,
        )
        run_workload(tracer, traces=n, seed=seed + int(whole), wait=False)
        records += transport.records
    return records


class _Store(MutableMapping[str, T]):
    """A dict that remembers the keys written since the last flush (like the runtimes' stores)."""

    def __init__(self) -> None:
        self.data: dict[str, T] = {}
        self.dirty: set[str] = set()

    def __getitem__(self, key: str) -> T:
        return self.data[key]

    def __setitem__(self, key: str, value: T) -> None:
        self.data[key] = value
        self.dirty.add(key)

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.dirty.add(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class _Timer:
    def __init__(self) -> None:
        self.ns: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., T]) -> Callable[..., T]:
        ns = self.ns
        ns.setdefault(name, 0)
        clock = time.perf_counter_ns

        def timed(*args: Any, **kwargs: Any) -> T:
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                ns[name] += clock() - t0

        return timed


def _run_once(events: list[tuple[bytes, bytes]], batch: int, *, freeze: bool) -> dict[str, float]:
    from tracestream.streams._anomaly import AnomalyScorer
    from tracestream.streams._assembly import Assembler
    from tracestream.streams._json import model_json as dump_record
    from tracestream.streams._metrics import PipelineMetrics
    from tracestream.streams._pipeline import Pipeline, Stages
    from tracestream.streams._pricing import Pricer
    from tracestream.streams._redaction import Redactor
    from tracestream.streams._validate import SourceRecord, Validator
    from tracestream.streams._windows import WindowAggregator

    stores: list[_Store[Any]] = [_Store(), _Store(), _Store()]
    validator = Validator(max_event_bytes=1024 * 1024, max_depth=32)
    redactor = Redactor()
    assembler = Assembler(Pricer(), stores[0])
    windows = WindowAggregator(stores[1])
    scorer = AnomalyScorer(stores[2])
    timer = _Timer()
    # Instance attributes shadow the methods the pipeline looks up per call.
    validator.validate = timer.wrap("validate", validator.validate)  # type: ignore[method-assign]
    redactor.redact_event = timer.wrap("redact", redactor.redact_event)  # type: ignore[method-assign]
    assembler.apply = timer.wrap("assemble", assembler.apply)  # type: ignore[method-assign]
    assembler.due = timer.wrap("emit_traces", assembler.due)  # type: ignore[method-assign]
    windows.add = timer.wrap("windows", windows.add)  # type: ignore[method-assign]
    windows.close_due = timer.wrap("windows", windows.close_due)  # type: ignore[method-assign]
    scorer.score = timer.wrap("anomaly", scorer.score)  # type: ignore[method-assign]
    metrics = PipelineMetrics(CollectorRegistry())
    pipeline = Pipeline(
        Stages(validator, redactor, assembler, windows=windows, scorer=scorer), metrics
    )
    # The clock starts just after the newest event and moves 1 s per batch.
    base_ms = 1 + max(
        int(datetime.fromisoformat(orjson.loads(v)["timestamp"]).timestamp() * 1000)
        for _, v in events
    )
    totals = {"pipeline": 0, "serialize": 0, "publish_metrics": 0, "changelog": 0}
    counts = {"spans": 0, "traces": 0, "changelog_writes": 0}
    clock = time.perf_counter_ns
    offset = 0
    for i in range(0, len(events), batch):
        records = [
            SourceRecord("events", 0, offset + j, k, v)
            for j, (k, v) in enumerate(events[i : i + batch])
        ]
        offset += len(records)
        now_ms = base_ms + 1000 * (i // batch + 1)
        t0 = clock()
        out = pipeline.process(records, now_ms=now_ms)
        out.extend(pipeline.tick(now_ms=now_ms))
        t1 = clock()
        payloads = [dump_record(r) for r in out.spans]
        payloads += [dump_record(r) for r in out.traces]
        payloads += [dump_record(r) for r in out.windows]
        t2 = clock()
        metrics.observe_spans(out.spans)
        for trace in out.traces:
            metrics.observe_trace(trace)
        t3 = clock()
        for store in stores:
            for key in store.dirty:
                state = store.data.get(key)
                if state is not None:
                    state.to_bytes()
                    counts["changelog_writes"] += 1
            store.dirty.clear()
        t4 = clock()
        totals["pipeline"] += t1 - t0
        totals["serialize"] += t2 - t1
        totals["publish_metrics"] += t3 - t2
        totals["changelog"] += t4 - t3
        counts["spans"] += len(out.spans)
        counts["traces"] += len(out.traces)
        if freeze:
            # As the worker's HeapKeeper does after each batch (untimed: the worker
            # pays it outside the stages too, once per batch).
            gc.freeze()
    n = len(events)
    stages = dict(timer.ns)
    report = {name: ns / n / 1000 for name, ns in stages.items()}
    report["other"] = (totals["pipeline"] - sum(stages.values())) / n / 1000
    report["pipeline_total"] = totals["pipeline"] / n / 1000
    report["serialize"] = totals["serialize"] / n / 1000
    report["publish_metrics"] = totals["publish_metrics"] / n / 1000
    report["changelog"] = totals["changelog"] / n / 1000
    report["worker_cpu_total"] = (
        (totals["pipeline"] + totals["serialize"] + totals["publish_metrics"] + totals["changelog"])
        / n
        / 1000
    )
    report.update({k: float(v) for k, v in counts.items()})
    return report


def run_core_bench(
    *,
    traces: int = 3000,
    batch: int = 2000,
    repeats: int = 5,
    seed: int = 7,
    worker_gc: bool = True,
) -> dict[str, Any]:
    """Median µs per event of each stage over ``repeats`` fresh runs (see the module docstring)."""
    from tracestream.streams.runtime import tune_gc

    events = core_events(traces, seed=seed)
    thresholds = gc.get_threshold()
    if worker_gc:
        # As ``tracestream worker`` runs: start-up objects frozen, young objects
        # collected less often (the default costs ~30 µs/event here, all in GC),
        # and each batch's survivors frozen after it.
        tune_gc()
    try:
        runs = []
        for _ in range(repeats):
            runs.append(_run_once(events, batch, freeze=worker_gc))
            if worker_gc:
                # Free the finished run's frozen state before the next one.
                gc.unfreeze()
                gc.collect()
                gc.freeze()
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    median = {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
    for key in ("spans", "traces", "changelog_writes"):
        median[key] = int(median[key])
    return {
        "events": len(events),
        "batch": batch,
        "repeats": repeats,
        "gc": "worker" if worker_gc else "default",
        "us_per_event": median,
        "events_per_s_core": round(1e6 / median["pipeline_total"]),
    }


@click.command("core")
@click.option("--traces", type=int, default=3000, show_default=True, help="Demo tickets per run.")
@click.option("--batch", type=int, default=2000, show_default=True, help="Records per batch.")
@click.option("--repeats", type=int, default=5, show_default=True, help="Runs; median reported.")
@click.option(
    "--worker-gc/--default-gc",
    default=True,
    show_default=True,
    help="Tune the garbage collector as `tracestream worker` does, or leave Python's default.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def core(traces: int, batch: int, repeats: int, worker_gc: bool, as_json: bool) -> None:
    """CPU µs per event of the pure pipeline, per stage (no Kafka)."""
    report = run_core_bench(traces=traces, batch=batch, repeats=repeats, worker_gc=worker_gc)
    if as_json:
        click.echo(orjson.dumps(report).decode())
        return
    click.echo(f"{report['events']} events, batches of {report['batch']}, median of {repeats}")
    for key, value in report["us_per_event"].items():
        click.echo(f"  {key:<18} {value:>10}")
