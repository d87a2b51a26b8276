"""The Traces list equals the plain FINAL read on a table full of re-emitted traces.

The reader answers from the ``by_start_time`` projection without FINAL and
checks re-emitted traces against the table (ui/_read.py). Whatever shortcut
it takes, every page must be the one ``SELECT ... FROM traces FINAL`` gives.
The data set is built so each way a shortcut could go wrong happens:

- 2,400 traces over two days in two projects, pairs sharing a start time
  (the trace id breaks the tie);
- every 5th trace emitted again with other values (status, duration, cost,
  span count, tokens, models): a stale row ranks elsewhere than its newest;
- every 40th re-emitted with its start moved 30 s earlier (same day bucket:
  FINAL keeps only the newest);
- one trace re-emitted across midnight (another day bucket: FINAL keeps both
  rows, different in every sortable column);
- the newest 150 traces emitted three more times (versions 3-5), so superseded rows crowd
  the top of a page and the reader must fall back to FINAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracestream.sinks import ChdbStorage, apply_migrations
from tracestream.ui import Reader
from tracestream.ui._params import TraceQuery, traces_sql

pytestmark = pytest.mark.integration

TRACES = 2400
DAY0 = datetime(2026, 11, 1, tzinfo=UTC)
STEP_S = 120  # two traces per start time, 1,200 times: 40 hours
MIDNIGHT_TRACE = 1443  # starts 00:02 on day 1; re-emitted at 23:52 on day 0

# v1 of every trace; `n` numbers the trace. Values vary with n so every sort
# has many distinct values and filters match a share of the rows.
_V1 = """
INSERT INTO traces (project, trace_id, environment, services, name, status, start_time,
  duration_ms, span_count, error_count, input_tokens, output_tokens, cost_usd, models,
  user_id, session_id, tags, input, version, emitted_at)
SELECT
  if(n % 2 = 0, 'p0', 'p1'), lower(hex(MD5(toString(n)))), 'production',
  [if(n % 3 = 0, 'checkout', 'search')], concat('op-', toString(n % 11)),
  if(n % 7 = 0, 'error', 'ok'),
  toDateTime64({day0:DateTime64(6)}, 6) + toIntervalSecond(intDiv(n, 2) * {step:UInt32}),
  if(n % 13 = 0, NULL, toFloat64((n * 37) % 5000)), 1 + n % 9, if(n % 7 = 0, 1, 0),
  (n * 17) % 900, (n * 29) % 300, if(n % 17 = 0, NULL, ((n * 53) % 1000) / 1e5),
  if(n % 4 = 0, ['gpt-4o'], ['claude']), concat('u-', toString(n % 5)),
  concat('s-', toString(n % 23)), ['t'], concat('"ask ', toString(n), '"'), 1, now64(6)
FROM (SELECT number AS n FROM numbers({count:UInt32}))
"""

# A newer version of the traces `where` picks, `shift_s` earlier and with
# other values, at version `version`.
_REEMIT = """
INSERT INTO traces (project, trace_id, environment, services, name, status, start_time,
  duration_ms, span_count, error_count, input_tokens, output_tokens, cost_usd, models,
  user_id, session_id, tags, input, version, emitted_at)
SELECT project, trace_id, environment, services, concat(name, '-v', toString({version:UInt64})),
  if(status = 'ok', 'error', 'ok'), start_time - toIntervalSecond({shift_s:UInt32}),
  ifNull(duration_ms, 0) + 1000 * {version:UInt64}, span_count + 1, error_count + 1,
  input_tokens + 500, output_tokens + 7, ifNull(cost_usd, 0.5) * 3, ['gpt-4o', 'o3'],
  concat(user_id, 'x'), concat(session_id, 'x'), tags, input, {version:UInt64}, now64(6)
FROM traces
WHERE version = 1 AND {where}
"""


def _n(condition: str) -> str:
    """Picks traces by their number: ids are MD5(n), so test them against it."""
    return f"trace_id IN (SELECT lower(hex(MD5(toString(number)))) FROM numbers({TRACES}) WHERE {condition})"


@pytest.fixture(scope="module")
def reemitted(ui_storage: ChdbStorage) -> Iterator[ChdbStorage]:
    # Its own database in the package's chDB directory (one directory per process).
    storage = ChdbStorage(ui_storage.path, "ui_list_equals_final")
    storage.open()
    try:
        apply_migrations(storage)
        # Merges would fold stale versions away within seconds; the list must
        # be exact before they run, so they never do here.
        storage.command("SYSTEM STOP MERGES traces")
        sync = {"async_insert": 0}
        day0 = DAY0.strftime("%Y-%m-%d %H:%M:%S")
        storage.command(_V1, {"day0": day0, "step": STEP_S, "count": TRACES}, settings=sync)
        newest = f"number >= {TRACES - 150}"
        picks: list[tuple[int, str, int]] = [
            (2, "number % 5 = 0", 0),
            (2, "number % 40 = 1", 30),
            (2, f"number = {MIDNIGHT_TRACE}", 600),
            (3, newest, 0),
            (4, newest, 0),
            (5, newest, 0),
        ]
        for version, numbers, shift_s in picks:
            # Separate inserts: separate parts, so nothing is merged away before reading.
            sql = _REEMIT.replace("{where}", _n(numbers))
            storage.command(sql, {"version": version, "shift_s": shift_s}, settings=sync)
        yield storage
    finally:
        storage.command("DROP DATABASE IF EXISTS ui_list_equals_final")
        storage.close()


def _final_page(storage: ChdbStorage, query: TraceQuery) -> tuple[list[tuple[Any, ...]], bool]:
    sql, params = traces_sql(query, final=True, rows=query.limit + 1, skip=query.offset)
    rows = storage.query(sql, params).dicts()
    shown = [_shown(r["trace_id"], r["status"], r["name"], r["span_count"]) for r in rows]
    return shown[: query.limit], len(rows) > query.limit


def _shown(trace_id: str, status: str, name: str, span_count: int) -> tuple[Any, ...]:
    return (trace_id, status, name, span_count)


_FULL = (DAY0, DAY0 + timedelta(days=2))
# Ends before the crowded newest traces: the reader answers without FINAL.
_EARLY = (DAY0 + timedelta(hours=3), DAY0 + timedelta(hours=30))
_FILTERS: list[dict[str, Any]] = [
    {},
    {"status": "error", "user": "u-3"},
    {"project": "p1", "service": "checkout"},
    {"model": "gpt-4o", "min_duration_ms": 1500.0},
]
_SORTS = ["start_time", "status", "duration_ms", "tokens", "cost_usd"]


class _Recording:
    """The storage, noting whether the reader fell back to a FINAL statement."""

    def __init__(self, storage: ChdbStorage) -> None:
        self.storage = storage
        self.final_reads = 0

    def query_arrow(self, sql: str, params: Any = None, *, settings: Any = None) -> Any:
        self.final_reads += "FROM traces FINAL" in sql
        return self.storage.query_arrow(sql, params, settings=settings)


@pytest.mark.parametrize("span", [_FULL, _EARLY], ids=["crowded-top", "uncrowded"])
@pytest.mark.parametrize("sort", _SORTS)
def test_every_page_equals_the_final_read(
    reemitted: ChdbStorage, span: tuple[datetime, datetime], sort: str
) -> None:
    recording = _Recording(reemitted)
    reader = Reader(recording)  # type: ignore[arg-type]
    compared = 0
    for filters in _FILTERS:
        for order in ("desc", "asc"):
            for offset, limit in ((0, 50), (7, 7)):
                query = TraceQuery(
                    start=span[0], end=span[1], filters=filters, limit=limit,
                    offset=offset, sort=sort, order=order,
                )  # fmt: skip
                expected, more = _final_page(reemitted, query)
                page = reader.traces(query)
                got = [
                    _shown(i["trace_id"], i["status"], i["name"], i["span_count"])
                    for i in page["items"]
                ]
                assert (got, page["has_more"]) == (expected, more), (filters, order, offset)
                compared += len(got)
    assert compared > 300  # the filters leave pages to compare
    # Both ways of answering were taken where the data set makes them due:
    # the re-emitted newest traces crowd the newest-first pages.
    if span == _FULL and sort == "start_time":
        assert recording.final_reads > 0
    if span == _EARLY:
        assert recording.final_reads == 0


def test_the_midnight_trace_is_two_rows_as_final_keeps_it(reemitted: ChdbStorage) -> None:
    trace_id = reemitted.query(f"SELECT lower(hex(MD5('{MIDNIGHT_TRACE}')))").scalar()
    query = TraceQuery(start=_FULL[0], end=_FULL[1], filters={"trace_id": trace_id})
    items = Reader(reemitted).traces(query)["items"]
    assert [(i["start_time"], i["status"]) for i in items] == [
        ("2026-11-02T00:02:00.000000Z", "ok"),
        ("2026-11-01T23:52:00.000000Z", "error"),
    ]


@pytest.mark.parametrize(("order", "read_type"), [("desc", "InReverseOrder"), ("asc", "InOrder")])
def test_the_newest_first_list_reads_the_projection_in_order(
    reemitted: ChdbStorage, order: str, read_type: str
) -> None:
    # The reason for the projection: read in start-time order and stop after
    # the page, instead of reading and sorting the whole range.
    query = TraceQuery(start=_FULL[0], end=_FULL[1], order=order)
    sql, params = traces_sql(query, final=False, rows=102, skip=0)
    plan = "\n".join(r[0] for r in reemitted.query("EXPLAIN actions = 1 " + sql, params))
    assert "ReadFromMergeTree (by_start_time)" in plan
    assert f"Read type: {read_type}" in plan
