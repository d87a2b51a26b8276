"""The explorer's pages in a real headless Chromium (Debian's package, driven by Playwright).

A person's path: open the list, filter it, search, open a trace, collapse and
expand its tree, open spans, add a score (it arrives on Kafka as a score
event), open a 2,000-span trace and scroll to its end, then the overview,
anomalies and sessions pages; no console error anywhere. Screenshots of
every page go to ``screenshots/ui/`` (git-ignored) to be looked at;
``readme-trace.png`` among them is the README's ``docs/img/trace.png``.

Playwright's own browser download is never used: ``executable_path`` points
at ``/usr/bin/chromium`` (scripts/bootstrap.sh installs it).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.integration.ui._client import call, serve
from tests.integration.ui._ui_data import insert_ui_data, sid
from tracestream.broker._local import ensure_topics
from tracestream.broker._topics import delete_topics_with_prefix
from tracestream.schemas import EVENT_ADAPTER, ScoreEvent, Topics
from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    RetentionPolicy,
    apply_migrations,
    map_records,
)
from tracestream.ui import KafkaScoreSender

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SHOTS = Path(__file__).parents[2] / "screenshots" / "ui"
RANGE = "from=2026-11-01T10:00:00Z&to=2026-11-01T12:00:00Z"
B5, B6, A2 = f"{0xB5:032x}", f"{0xB6:032x}", f"{0xA2:032x}"
BIG_SPANS = 2000


@pytest.fixture
def worker_engine() -> str:
    """This module starts no worker: one run, not one per engine (tests/e2e/conftest.py)."""
    return "none"


def _in_thread(coroutine: Any) -> Any:
    # Playwright's sync API keeps an event loop in this thread: use another one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def explorer(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[tuple[str, Topics, ChdbStorage]]:
    """One chDB, topics and server for the module (each costs seconds to set up)."""
    topics = Topics(f"t-{uuid.uuid4().hex[:8]}.")
    _in_thread(ensure_topics(kafka_bootstrap, topics, 1, 1, 3_600_000))
    storage = ChdbStorage(tmp_path_factory.mktemp("ui-browser") / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        insert_ui_data(storage, big_spans=BIG_SPANS)
        sender = KafkaScoreSender(bootstrap_servers=kafka_bootstrap, topic=topics.events)
        with serve(storage, scores=sender) as server:
            yield server.url, topics, storage
    finally:
        storage.close()
        _in_thread(delete_topics_with_prefix(kafka_bootstrap, topics.prefix))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh tab per test, with the console errors it logged."""
    errors: list[str] = []
    tab = browser.new_page(viewport={"width": 1500, "height": 900})
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield tab, errors
    finally:
        tab.close()


def shot(tab: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"))


def rows(tab: Page) -> list[str]:
    ids: list[str] = tab.locator("#traces-table tbody tr[data-trace-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.traceId)"
    )
    return ids


def consume_one(bootstrap: str, topic: str) -> bytes:
    async def run() -> list[bytes]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest", group_id=None)  # fmt: skip
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10_000)
        finally:
            await consumer.stop()
        return [r.value for batch in batches.values() for r in batch]

    values = _in_thread(run())
    assert len(values) == 1, values
    value: bytes = values[0]
    return value


def test_a_person_explores_traces_and_scores_a_span(
    explorer: tuple[str, Topics, ChdbStorage], page: tuple[Page, list[str]], kafka_bootstrap: str
) -> None:
    url, topics, storage = explorer
    tab, errors = page

    # The list, then a filter, then a search.
    tab.goto(f"{url}/#/traces?{RANGE}&live=0")
    expect(tab.locator("#traces-table tbody tr[data-trace-id]")).to_have_count(6)
    shot(tab, "01-traces")
    tab.select_option("select[name=status]", "error")
    tab.click("#trace-filters button[type=submit]")
    expect(tab.locator("#traces-table tbody tr[data-trace-id]")).to_have_count(2)
    assert rows(tab) == [B5, A2]
    shot(tab, "02-traces-errors")
    tab.fill("input[name=q]", "Monday")
    tab.click("#trace-filters button[type=submit]")
    expect(tab.locator("#traces-table tbody tr[data-trace-id]")).to_have_count(1)
    assert rows(tab) == [B5]
    shot(tab, "03-traces-search")

    # Open the trace: six spans, the failed tool marked.
    tab.click(f"tr[data-trace-id='{B5}'] td.num >> nth=0")
    tree_rows = tab.locator(".tree-row")
    expect(tree_rows).to_have_count(6)
    assert tab.url.endswith(f"#/trace/{B5}")
    expect(tab.locator(f".tree-row.error[data-span-id='{sid(0xB5, 4)}']")).to_have_count(1)
    shot(tab, "04-trace")

    # Collapse the root, expand it again.
    root_toggle = tab.locator(f".tree-row[data-span-id='{sid(0xB5, 1)}'] .toggle")
    root_toggle.click()
    expect(tree_rows).to_have_count(1)
    root_toggle.click()
    expect(tree_rows).to_have_count(6)

    # The failed tool: its error and stack; the planning generation as a conversation.
    tab.click(f".tree-row[data-span-id='{sid(0xB5, 4)}']")
    panel = tab.locator("#span-panel")
    expect(panel).to_contain_text("orders-db refused the connection")
    expect(panel.locator("pre.stack")).to_contain_text("ConnectionError")
    shot(tab, "05-span-failed-tool")
    # The README's picture (docs/img/trace.png is this file): the same view,
    # cut to the tree and the error without the empty space below.
    tab.set_viewport_size({"width": 1400, "height": 600})
    shot(tab, "readme-trace")
    tab.set_viewport_size({"width": 1500, "height": 900})
    tab.click(f".tree-row[data-span-id='{sid(0xB5, 3)}']")
    expect(panel.locator(".msg.role-user")).to_contain_text("Reach me at [EMAIL].")
    expect(panel.locator(".tool-call")).to_contain_text("lookup_order")
    expect(panel).to_contain_text("input[1].content")
    expect(panel).to_contain_text("$0.00203")
    shot(tab, "06-span-generation")

    # A thumbs-up on that span goes to Kafka as a score event.
    panel.locator("form.score-form button[name=up]").click()
    expect(panel.locator(".score-status.ok")).to_contain_text("sent")
    value = consume_one(kafka_bootstrap, topics.events)
    event = EVENT_ADAPTER.validate_json(value)
    assert isinstance(event, ScoreEvent)
    assert (event.trace_id, event.span_id, event.name, event.value, event.project) == (
        B5, sid(0xB5, 3), "thumbs", True, "shop",
    )  # fmt: skip
    # The worker forwards it as it is and the sink maps and inserts it (no
    # worker or sink runs here); once stored, the span shows it.
    mapping = TABLE_MAPPINGS["scores"]
    stored = map_records(mapping, [json.loads(value)], RetentionPolicy(default_days=3650))
    storage.insert(mapping.table, stored.table)
    tab.click(f".tree-row[data-span-id='{sid(0xB5, 2)}']")
    expect(panel.locator("h2")).to_have_text("kb-search")
    tab.click(f".tree-row[data-span-id='{sid(0xB5, 3)}']")
    expect(panel.locator("ul.scores li")).to_have_count(1)
    expect(panel.locator("ul.scores li")).to_contain_text("thumbs: ✔ good")
    panel.locator("ul.scores").scroll_into_view_if_needed()
    shot(tab, "07-span-scored")

    # The session link opens that session's turns around the trace's time.
    tab.click(".trace-header a:text('s-5')")
    expect(tab.locator("article.turn")).to_have_count(1)
    expect(tab.locator("article.turn")).to_contain_text("It arrives on Monday.")
    assert errors == []


def test_the_pages_compact_spans_are_the_apis_spans(
    explorer: tuple[str, Topics, ChdbStorage],
) -> None:
    # The Trace page reads ?spans=columns (one list per field); the same spans as the rows.
    url, _, _ = explorer
    for trace_id in (B5, B6):
        rows = call(f"{url}/api/traces/{trace_id}").body
        columns = call(f"{url}/api/traces/{trace_id}?spans=columns").body
        cols = columns.pop("span_columns")
        spans = [dict(zip(cols, v, strict=True)) for v in zip(*cols.values(), strict=True)]
        assert spans == rows.pop("spans")
        assert columns == rows
    bad = call(f"{url}/api/traces/{B5}?spans=objects")
    assert (bad.status, bad.body) == (400, {"error": "spans: 'objects' is not rows or columns"})


def test_a_big_trace_draws_only_the_rows_in_view(
    explorer: tuple[str, Topics, ChdbStorage], page: tuple[Page, list[str]]
) -> None:
    url, _, _ = explorer
    tab, errors = page
    asked: list[str] = []
    tab.on("request", lambda r: asked.append(r.url) if f"/api/traces/{B6}" in r.url else None)
    tab.goto(f"{url}/#/trace/{B6}")
    tree_rows = tab.locator(".tree-row")
    # Past 300 spans a trace opens with its first level only: the root and 19 agents.
    expect(tree_rows).to_have_count(20)
    expect(tab.locator(".tree-toolbar")).to_contain_text("2,000 spans")
    # Asked for once, by index.html's head before any module loaded; the page took that answer.
    assert asked == [f"{url}/api/traces/{B6}?spans=columns"]
    tab.click("#expand-all")
    expect(tab.locator(f".tree-row[data-span-id='{sid(0xB6, 3)}']")).to_have_count(1)
    drawn = tree_rows.count()
    assert 20 < drawn < 100, drawn  # a screenful and the overscan, not 2,000
    tab.locator("#tree-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
    last = tab.locator(f".tree-row[data-span-id='{sid(0xB6, BIG_SPANS)}']")
    expect(last).to_be_visible()
    assert tree_rows.count() < 100
    shot(tab, "08-big-trace-end")
    last.click()
    expect(tab.locator("#span-panel h2")).to_have_text("agent-18")
    assert errors == []


def test_overview_anomalies_and_sessions_pages(
    explorer: tuple[str, Topics, ChdbStorage], page: tuple[Page, list[str]]
) -> None:
    url, _, _ = explorer
    tab, errors = page
    tab.goto(f"{url}/#/overview?{RANGE}")
    expect(tab.locator("svg.chart")).to_have_count(4)
    expect(tab.locator(".hbar")).to_have_count(7)  # 3 models + 4 services
    expect(tab.locator("rect.anomaly-mark")).to_have_count(4 * 2)
    shot(tab, "09-overview")
    # A bar links to the traces of its bucket.
    tab.locator("svg.chart >> nth=0").locator("a >> nth=0").click()
    expect(tab.locator("#traces-table tbody tr[data-trace-id]")).to_have_count(2)
    tab.goto(f"{url}/#/anomalies?{RANGE}")
    expect(tab.locator("#anomalies-table tbody tr")).to_have_count(2)
    shot(tab, "10-anomalies")
    tab.locator("#anomalies-table a >> nth=0").click()
    expect(tab.locator("#traces-table tbody tr[data-trace-id]")).to_have_count(1)
    assert rows(tab) == [A2]
    tab.goto(f"{url}/#/sessions?{RANGE}")
    expect(tab.locator("#sessions-table tbody tr")).to_have_count(5)
    shot(tab, "11-sessions")
    tab.goto(f"{url}/#/session/u-1?by=user&{RANGE}")
    expect(tab.locator("article.turn")).to_have_count(4)
    shot(tab, "12-user-thread")
    assert errors == []


def test_a_link_to_a_deep_span_of_a_big_trace_opens_it_in_view(
    explorer: tuple[str, Topics, ChdbStorage], page: tuple[Page, list[str]]
) -> None:
    url, _, _ = explorer
    tab, errors = page
    deep = sid(0xB6, 1500)  # a tool under an agent and a step: collapsed when opened plainly
    tab.goto(f"{url}/#/trace/{B6}?span={deep}")
    expect(tab.locator(f".tree-row.selected[data-span-id='{deep}']")).to_be_visible()
    expect(tab.locator("#span-panel h2")).to_have_text("tool-9")
    assert errors == []
