"""``tracestream bench ui``: the trace explorer's response times on a generated table.

The data: :func:`benchmarks.analyze.generate_spans`'s spans (project
``bench``, one day, traces of 5 spans), the ``traces`` rows aggregated from
them in the engine (:data:`_AGGREGATE_TRACES`), and one trace of
:data:`BIG_TRACE_SPANS` spans (a root, 100 agents, steps of 10 tools) in the
same day. The explorer is served over real HTTP on a thread of this process
(uvicorn, as ``tracestream ui`` runs it) and asked, interleaved so a slow
moment of a shared host touches every request alike:

- the Traces list's first page of the day, without and with filters, and of its last hour;
- the Trace page's data of the big trace.

Each has a same-run baseline, the plain statement with no reader around it
(:data:`BASELINE_LIST`: the page's columns ``FROM traces FINAL ORDER BY
start_time DESC LIMIT 50``; :data:`BASELINE_TRACE`: the big trace's spans,
the columns a tree row draws), and the ratio of the request's p50 to it. The
first page is also set against the list's own first statement read without
the ``by_start_time`` projection (:data:`BASELINE_LIST_WITHOUT_PROJECTION`).
When Debian's chromium and Playwright are there, the real browser's time
until the big trace's tree and waterfall are drawn, and until a scroll to
the end of the expanded tree shows its last row.
"""

from __future__ import annotations

import functools
import json
import shutil
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from benchmarks.analyze import BENCH_DAY, generate_spans
from tracestream.sinks import Storage

__all__ = [
    "BASELINE_LIST",
    "BASELINE_LIST_WITHOUT_PROJECTION",
    "BASELINE_TRACE",
    "BIG_TRACE_ID",
    "BIG_TRACE_SPANS",
    "LIST_CASES",
    "bench_ui",
    "generate_ui_tables",
    "measure_ui",
]

BIG_TRACE_SPANS = 10_000
BIG_TRACE_ID = "b16" + "0" * 26 + "b16"
CHROMIUM = "/usr/bin/chromium"
_DAY = f"from={BENCH_DAY:%Y-%m-%dT%H:%M:%SZ}&to={BENCH_DAY + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"

#: Name -> the list request's query string (a day of ``bench`` traces).
LIST_CASES: dict[str, str] = {
    "list_first_page": f"{_DAY}",
    "list_status_service": f"{_DAY}&status=error&service=checkout",
    "list_model_duration_by_cost": (
        f"{_DAY}&model=gpt-4o&min_duration_ms=200&sort=cost_usd&order=desc"
    ),
    "list_last_hour": (
        f"from={BENCH_DAY + timedelta(hours=23):%Y-%m-%dT%H:%M:%SZ}"
        f"&to={BENCH_DAY + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
    ),
}

# One traces row per generated trace, as the worker would emit it (version 1).
_AGGREGATE_TRACES = """
INSERT INTO traces (project, trace_id, environment, services, trace_name, session_id, user_id,
  tags, root_span_id, name, status, start_time, end_time, duration_ms, span_count, depth,
  input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd, error_count,
  tool_call_count, models, input, output, timeline, version, emitted_at)
SELECT project, trace_id, any(environment), groupUniqArray(service), any(trace_name),
  any(session_id), any(user_id), any(tags), argMin(span_id, start_time), argMin(name, start_time),
  if(countIf(status = 'error') > 0, 'error', 'ok'), min(start_time), max(end_time),
  dateDiff('microsecond', min(start_time), max(end_time)) / 1000, count(),
  if(count() > 1, 1, 0), sum(input_tokens), sum(output_tokens), sum(cached_tokens),
  sum(reasoning_tokens), sum(cost_usd), countIf(status = 'error'), countIf(kind = 'tool'),
  arrayFilter(m -> m != '', groupUniqArray(model)), argMin(input, start_time),
  argMax(output, start_time), '[]', 1, max(end_time)
FROM spans
WHERE project = 'bench' AND trace_id != {big:String}
GROUP BY project, trace_id
"""


def _sid(expr: str) -> str:
    """SQL for a 16-hex span id from a number expression: stable across runs."""
    return f"lower(hex(reinterpretAsFixedString(cityHash64({expr}, 16))))"


# The big trace: span 0 the root, every 100th an agent under it, every 10th
# a step under its agent, the rest tools under their step; 1 ms apart.
_BIG_SPANS = f"""
INSERT INTO spans (project, service, environment, trace_id, span_id, parent_span_id, trace_name,
  kind, name, status, start_time, end_time, duration_ms, input, output, version, processed_at)
SELECT 'bench', 'batch', 'production', {{big:String}}, {_sid("n")},
  multiIf(n = 0, '', n % 100 = 0, {_sid("0")}, n % 10 = 0, {_sid("intDiv(n, 100) * 100")},
          {_sid("intDiv(n, 10) * 10")}),
  'batch-job',
  multiIf(n = 0, 'workflow', n % 100 = 0, 'agent', n % 10 = 0, 'step', 'tool'),
  multiIf(n = 0, 'batch-job', n % 100 = 0, 'agent', n % 10 = 0, 'step', 'tool'),
  if(n % 997 = 5, 'error', 'ok'),
  toDateTime64({{start:DateTime64(6)}}, 6) + toIntervalMillisecond(n),
  toDateTime64({{start:DateTime64(6)}}, 6)
    + toIntervalMillisecond(n + multiIf(n = 0, {{n:UInt32}} + 10, n % 100 = 0, 100, n % 10 = 0, 10, 1)),
  multiIf(n = 0, {{n:UInt32}} + 10, n % 100 = 0, 100, n % 10 = 0, 10, 1),
  'item ' || toString(n), 'done ' || toString(n), 1, now64(6)
FROM (SELECT number AS n FROM numbers({{n:UInt32}}))
"""

_BIG_TRACE_ROW = f"""
INSERT INTO traces (project, trace_id, environment, services, trace_name, root_span_id, name,
  status, start_time, end_time, duration_ms, span_count, depth, error_count, version, emitted_at)
SELECT 'bench', {{big:String}}, 'production', ['batch'], 'batch-job', {_sid("0")}, 'batch-job', 'error',
  min(start_time), max(end_time), dateDiff('microsecond', min(start_time), max(end_time)) / 1000,
  count(), 3, countIf(status = 'error'), 1, max(end_time)
FROM spans WHERE trace_id = {{big:String}}
"""

#: The list's floor: the page's own columns and order, read FINAL, nothing else.
BASELINE_LIST = """
SELECT trace_id, project, environment, services, name, status, start_time, duration_ms,
  span_count, error_count, tool_call_count, input_tokens, output_tokens, cached_tokens,
  reasoning_tokens, cost_usd, unpriced_generations, models, user_id, session_id, tags,
  substring(input, 1, 400), version
FROM traces FINAL
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
ORDER BY start_time DESC
LIMIT 50
"""

#: The list's first statement as it ran before the traces table had its
#: by_start_time projection (migration 0005): the page's columns without
#: FINAL, newest first, twice the page and one more, read off the table
#: itself. The projection's gain is the first page's ratio to this.
BASELINE_LIST_WITHOUT_PROJECTION = """
SELECT trace_id, project, environment, services, name, status, start_time, duration_ms,
  span_count, error_count, tool_call_count, input_tokens, output_tokens, cached_tokens,
  reasoning_tokens, cost_usd, unpriced_generations, models, user_id, session_id, tags,
  substring(input, 1, 400), version
FROM traces
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
ORDER BY start_time DESC, trace_id DESC
LIMIT 102
SETTINGS optimize_use_projections = 0
"""

#: The trace page's floor: the big trace's spans, the columns a tree row draws, no FINAL.
BASELINE_TRACE = """
SELECT span_id, parent_span_id, service, kind, name, status, start_time, end_time,
  duration_ms, model, tool_name, input_tokens, output_tokens, cost_usd, error_type, error_message
FROM spans
WHERE project = 'bench' AND trace_id = {big:String}
  AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
"""


def generate_ui_tables(storage: Storage, count: int) -> float:
    """Fill empty ``spans``, ``traces`` and ``scores`` with the bench's data; seconds taken.

    Truncates those tables first (use a scratch database). Blocks for about a
    minute and a half at 10M spans on 2 cores.
    """
    began = time.perf_counter()
    for table in ("spans", "traces", "scores"):
        storage.command(f"TRUNCATE TABLE {table}")
    generate_spans(storage, count)
    big_start = BENCH_DAY + timedelta(hours=12)
    params = {
        "big": BIG_TRACE_ID,
        "n": BIG_TRACE_SPANS,
        "start": big_start.strftime("%Y-%m-%d %H:%M:%S"),
    }
    storage.command(_BIG_SPANS, params, settings={"async_insert": 0})
    storage.command(_BIG_TRACE_ROW, {"big": BIG_TRACE_ID}, settings={"async_insert": 0})
    storage.command(_AGGREGATE_TRACES, {"big": BIG_TRACE_ID}, settings={"async_insert": 0})
    return time.perf_counter() - began


def _quantiles(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "runs": len(ordered),
    }


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        body: bytes = response.read()
        return body


def measure_ui(
    storage: Storage,
    *,
    requests: int = 20,
    browser: bool = True,
    pages: str = "all",
    loads: int = 5,
    freeze_heap: bool = False,
) -> dict[str, Any]:
    """Serve the explorer over ``storage`` and time its pages against their baselines.

    Blocks for the whole run (a few minutes at 10M spans). ``browser=False``
    (or no chromium/Playwright) leaves the browser timings out, saying why.
    ``pages="trace"`` times the Trace page alone (its requests, its baseline
    and the browser), leaving the lists out; ``loads`` is the browser's page
    loads (its p95 is their slowest up to 20). ``freeze_heap``: freeze the
    process's heap once serving, as ``tracestream ui`` does (the command
    line's run; not in tests, see ``UiServer``).
    """
    from tracestream.ui import Reader, UiServer, create_app

    day = {
        "start": BENCH_DAY.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "end": (BENCH_DAY + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    app = create_app(Reader(storage), scores=None, clock=lambda: BENCH_DAY + timedelta(days=1))
    report: dict[str, Any] = {
        "spans": int(storage.query("SELECT count() FROM spans").scalar()),
        "traces": int(storage.query("SELECT count() FROM traces").scalar()),
        "big_trace_spans": BIG_TRACE_SPANS,
    }
    lists = LIST_CASES if pages == "all" else {}
    with UiServer(app, freeze_heap=freeze_heap) as server:
        calls: dict[str, Callable[[], object]] = {
            name: functools.partial(_get, f"{server.url}/api/traces?{query}")
            for name, query in lists.items()
        }
        calls["trace_page"] = lambda: _get(f"{server.url}/api/traces/{BIG_TRACE_ID}")
        # What the Trace page itself asks for: the spans as one list per field.
        calls["trace_page_columns"] = lambda: _get(
            f"{server.url}/api/traces/{BIG_TRACE_ID}?spans=columns"
        )
        if lists:
            calls["baseline_list"] = lambda: storage.query_arrow(BASELINE_LIST, day)
            calls["baseline_list_without_projection"] = lambda: storage.query_arrow(
                BASELINE_LIST_WITHOUT_PROJECTION, day
            )
        calls["baseline_trace"] = lambda: storage.query_arrow(
            BASELINE_TRACE, {"big": BIG_TRACE_ID, **day}
        )
        trace = json.loads(_get(f"{server.url}/api/traces/{BIG_TRACE_ID}"))
        if lists:
            page = json.loads(_get(f"{server.url}/api/traces?{LIST_CASES['list_first_page']}"))
            report["list_first_page_rows"] = len(page["items"])
            # Fast and wrong would be no win: the page must be the plain FINAL read's.
            plain = storage.query(BASELINE_LIST, day).columns()["trace_id"]
            ids = [i["trace_id"] for i in page["items"]]
            report["list_first_page_equals_baseline"] = ids == plain
        report["trace_page_spans"] = len(trace["spans"])
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(requests):
            for name, call in calls.items():
                samples[name].append(_timed(call))
        timings = {name: _quantiles(values) for name, values in samples.items()}
        for name in lists:
            timings[name]["ratio_to_baseline"] = _ratio(timings[name], timings["baseline_list"])
        if lists:
            timings["list_first_page"]["ratio_to_list_without_projection"] = _ratio(
                timings["list_first_page"], timings["baseline_list_without_projection"]
            )
        for name in ("trace_page", "trace_page_columns"):
            timings[name]["ratio_to_baseline"] = _ratio(timings[name], timings["baseline_trace"])
        report["server"] = timings
        report["browser"] = _browser(server.url, loads) if browser else {"skipped": "--no-browser"}
    report["targets"] = {"list_p95_ms": 300, "trace_data_p95_ms": 500, "drawn_ms": 1000}
    return report


def _ratio(timing: dict[str, Any], baseline: dict[str, Any]) -> float:
    return round(float(timing["p50_ms"]) / max(float(baseline["p50_ms"]), 0.1), 2)


#: Where a page load's time went, from the page's own clock (ms since navigation):
#: the document and the first page's modules loaded (app.js's mark: index.html adds
#: the modules from a script, so DOMContentLoaded no longer waits for them, and
#: app.js imports the page's module itself), the trace's data asked for and
#: received, the data parsed and the rows in view drawn (trace.js's marks).
_PHASES_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const data = performance.getEntriesByType('resource').find(e => e.name.includes('/api/traces/'));
  const mark = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
  return {document_ms: nav.responseEnd, modules_ms: mark('app:modules'),
          data_asked_ms: data ? data.startTime : null, data_received_ms: data ? data.responseEnd : null,
          data_bytes: data ? data.encodedBodySize : null,
          data_parsed_ms: mark('trace:data'), rows_drawn_ms: mark('trace:rows')};
}"""


def _browser(url: str, runs: int = 5) -> dict[str, Any]:
    """Drawn and scrolled times of the big trace in headless chromium, ``runs`` page loads.

    Each load also reports its phases (:data:`_PHASES_JS`) and when the first
    bar appeared on the page's clock, so a slow load shows where it was slow.
    """
    if shutil.which(CHROMIUM) is None:
        return {"skipped": f"{CHROMIUM} is missing (scripts/bootstrap.sh installs it)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed (dev dependencies)"}
    drawn: list[float] = []
    phases: list[dict[str, Any]] = []
    scrolled: list[float] = []
    dom_rows = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for _ in range(runs):
                tab = browser.new_page(viewport={"width": 1500, "height": 900})
                try:
                    began = time.perf_counter()
                    tab.goto(f"{url}/#/trace/{BIG_TRACE_ID}")
                    tab.wait_for_selector(".tree-row .bar", timeout=60_000)
                    drawn.append(time.perf_counter() - began)
                    found = {"bar_found_ms": tab.evaluate("performance.now()")}
                    phases.append(
                        {
                            k: v if v is None else round(v)
                            for k, v in {**tab.evaluate(_PHASES_JS), **found}.items()
                        }
                    )
                    tab.click("#expand-all")
                    last = tab.locator(".tree-row").last
                    began = time.perf_counter()
                    tab.locator("#tree-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
                    tab.wait_for_function(
                        "() => { const v = document.getElementById('tree-viewport');"
                        " const rows = v.querySelectorAll('.tree-row');"
                        " const r = rows[rows.length - 1];"
                        " return r && parseFloat(r.style.top) + 30 >= v.scrollHeight - 40; }",
                        timeout=60_000,
                    )
                    scrolled.append(time.perf_counter() - began)
                    dom_rows = tab.locator(".tree-row").count()
                    del last
                finally:
                    tab.close()
        finally:
            browser.close()
    return {
        "drawn": _quantiles(drawn),
        "drawn_runs_ms": [round(s * 1000) for s in drawn],
        "drawn_phases": phases,
        "scroll_to_end": _quantiles(scrolled),
        "rows_in_dom_at_end": dom_rows,
    }


def bench_ui_report(
    count: int,
    data_dir: Path | None,
    *,
    requests: int,
    browser: bool,
    pages: str = "all",
    loads: int = 5,
) -> dict[str, Any]:
    """Generate (or reuse, when ``data_dir`` holds the same count) and measure."""
    from tracestream.sinks import ChdbStorage, apply_migrations

    with tempfile.TemporaryDirectory(prefix="ts-bench-ui-") as tmp:
        storage = ChdbStorage(data_dir or Path(tmp) / "chdb", "tracestream")
        storage.open()
        try:
            applied = apply_migrations(storage)
            have = storage.query("SELECT count() FROM spans WHERE project = 'bench'").scalar()
            result: dict[str, Any] = {"benchmark": "ui", "engine": "chdb", "migrated": applied}
            if have != count + BIG_TRACE_SPANS:
                result["generate_s"] = round(generate_ui_tables(storage, count), 3)
            else:
                result["reused"] = str(data_dir)
            # The heap frozen as `tracestream ui` freezes its own (tracestream.ui.serve).
            result.update(
                measure_ui(
                    storage,
                    requests=requests,
                    browser=browser,
                    pages=pages,
                    loads=loads,
                    freeze_heap=True,
                )
            )
            return result
        finally:
            storage.close()


@click.command("ui")
@click.option("--spans", "count", default=10_000_000, show_default=True, help="Spans to generate.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Reuse this chDB directory (generated once; default: a temporary one).",
)
@click.option("--requests", default=20, show_default=True, help="Requests per measured call.")
@click.option("--browser/--no-browser", default=True, show_default=True)
@click.option(
    "--pages",
    type=click.Choice(["all", "trace"]),
    default="all",
    show_default=True,
    help="trace: only the Trace page (its requests, baseline and browser timings).",
)
@click.option("--loads", default=5, show_default=True, help="Browser page loads of the big trace.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only (the default output).")
def bench_ui(
    count: int,
    data_dir: Path | None,
    requests: int,
    browser: bool,
    pages: str,
    loads: int,
    as_json: bool,
) -> None:
    """Explorer list and trace pages (server p50/p95, and in chromium the drawn trace),
    each beside a same-run plain statement."""
    report = bench_ui_report(
        count, data_dir, requests=requests, browser=browser, pages=pages, loads=loads
    )
    click.echo(json.dumps(report, indent=2))
