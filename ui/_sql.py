"""Every SQL statement of the trace explorer's read API, one per question it answers.

Rules that hold for all of them:

- Values are ClickHouse query parameters (``{name:Type}``), bound by the
  engine, never formatted into the text. The only text spliced in is chosen
  from fixed fragments in this module (``FILTERS``, ``SORTS``, ``ORDERS``) by
  name, so no caller-supplied string ever becomes SQL.
- ``FINAL`` on the ReplacingMergeTree tables: a re-emitted trace or span
  (late spans, replays) is shown once, in its newest version.
- Time ranges are half-open, ``[start, end)``, on ``start_time`` (the column
  the tables' sort keys bucket by, so a range prunes granules).
- An aggregate aliased like its column (``sum(...) AS cost_usd``) names the
  column with its table inside (``spans.cost_usd``): ClickHouse would
  otherwise substitute the alias into the aggregate.
- Money is rounded to 9 decimals (a nano-dollar) so sums read the same on
  every engine and in the tests' expected values.
"""

from __future__ import annotations

__all__ = [
    "ANOMALIES",
    "ANOMALY_FILTERS",
    "FACETS",
    "FILTERS",
    "ORDERS",
    "OVERVIEW_BREAKDOWNS",
    "OVERVIEW_SERIES",
    "SEARCH_SPANS",
    "SEARCH_TOKEN",
    "SESSIONS",
    "SESSION_TRACES",
    "SORTS",
    "SPAN_DETAIL",
    "SPAN_FILTERS",
    "TAIL",
    "TRACE",
    "TRACES",
    "TRACE_ANOMALIES",
    "TRACE_COLUMNS",
    "TRACE_PROJECT",
    "TRACE_SCORES",
    "TRACE_SEARCH",
    "TRACE_SPANS",
    "TRACE_SPANS_BOUNDS",
]

#: Trace-list filter name -> its condition on the ``traces`` table. A filter is
#: added when its parameter is given; each binds only its own parameter.
FILTERS: dict[str, str] = {
    "project": "project = {project:String}",
    "service": "has(services, {service:String})",
    "environment": "environment = {environment:String}",
    "status": "status = {status:String}",
    "model": "has(models, {model:String})",
    "user": "user_id = {user:String}",
    "session": "session_id = {session:String}",
    "tag": "has(tags, {tag:String})",
    "min_duration_ms": "duration_ms >= {min_duration_ms:Float64}",
    "min_cost_usd": "cost_usd >= {min_cost_usd:Float64}",
    "has_errors": "(error_count > 0 OR status = 'error') = {has_errors:Bool}",
    "trace_id": "trace_id = {trace_id:String}",
    # Set by the server from the access key, never by the request.
    "allowed": "project IN {allowed:Array(String)}",
}

#: One word of a full-text search (``qN`` becomes ``q0``, ``q1``, ...):
#: ``hasToken`` is answered by the text indexes on ``spans`` (whole words,
#: case-sensitive, as the index's splitByNonAlpha tokenizer cut them).
SEARCH_TOKEN = (
    "(hasToken(input, {qN:String}) OR hasToken(output, {qN:String})"
    " OR hasToken(error_message, {qN:String}))"
)

#: Sortable trace-list columns (the API's ``sort`` values) -> expressions.
SORTS: dict[str, str] = {
    "start_time": "start_time",
    "name": "name",
    "status": "status",
    "duration_ms": "duration_ms",
    "span_count": "span_count",
    "tokens": "input_tokens + output_tokens",
    "cost_usd": "cost_usd",
    "user_id": "user_id",
    "session_id": "session_id",
}
ORDERS: dict[str, str] = {"asc": "ASC", "desc": "DESC"}

# Answers: which traces in the range match the filters, one page of them in
# the chosen order (the Traces page). `{search}` is either empty or
# `AND trace_id IN (<spans matching every search word>)`: the text indexes
# answer it on `spans`, which holds every span's input and output (the
# `traces` row holds only the root's). The page asks one row more than it
# shows to know whether there is a next page without counting them all.
#
# `{final}` is FINAL or empty. FINAL reads every selected column of every row
# in the range and merges them before it can sort (2M traces: ~1.0 s under
# load), so the reader first runs this without FINAL for twice the rows it
# needs, then asks which of those traces were emitted more than once
# (TRACE_REEMITS, ~6 ms), and runs the FINAL statement only when superseded
# rows crowded out too many (see Reader.traces for why that is exact).
#
# Without FINAL, the newest-first order is read off the `by_start_time`
# projection (migration 0005) in reverse and stops after the page: on 2M
# traces ~15 ms of CPU instead of ~370 ms reading and sorting the whole range.
# With a filter, ClickHouse 26.9's query condition cache for top-k made that
# read every granule again (status and service filters: 375 ms of CPU against
# 22 ms with it off, interleaved; other sorts unchanged), so the statement
# turns it off itself: a setting in the text holds however the statement is
# sent (embedded, through the owner's query server, to a server).
TRACE_COLUMNS = """
    trace_id, project, environment, services, name, status,
    start_time, duration_ms, span_count, error_count, tool_call_count,
    input_tokens, output_tokens, cached_tokens, reasoning_tokens,
    round(cost_usd, 9) AS cost_usd, unpriced_generations,
    models, user_id, session_id, tags,
    substring(input, 1, 400) AS input_preview, version"""
TRACES = (
    "SELECT"
    + TRACE_COLUMNS
    + """
FROM traces {final}
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
    {conditions}
    {search}
ORDER BY {sort} {order} NULLS LAST, trace_id {order}
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
SETTINGS use_query_condition_cache_for_top_k = 0
"""
)

# Answers: which of the candidate traces have a version above 1, and the
# newest, per sorting key (project, day, trace) as FINAL merges them. A trace
# absent here has only version 1 rows. PREWHERE on the version reads one
# small column of the range and the rest only for the rare re-emitted traces,
# where looking the candidates up by id would read a third of a day's
# granules (their ids are random within the day's sort order).
TRACE_REEMITS = """
SELECT project, toString(toDate(start_time)) AS day, trace_id, max(traces.version) AS version
FROM traces
PREWHERE traces.version > 1
WHERE trace_id IN {ids:Array(String)}
    AND project IN {projects:Array(String)}
    AND start_time >= {lo:DateTime64(6)} AND start_time < {hi:DateTime64(6)}
GROUP BY project, day, trace_id
"""

# The spans behind a search: a span may start a little before its trace's
# root (clock skew) and long after it, so the range is widened by a day on
# the right and an hour on the left; the outer query applies the exact range.
TRACE_SEARCH = """
AND trace_id IN (
    SELECT trace_id FROM spans
    WHERE start_time >= {start:DateTime64(6)} - INTERVAL 1 HOUR
      AND start_time < {end:DateTime64(6)} + INTERVAL 1 DAY
      {span_conditions}
      AND {tokens}
)
"""

# Answers: what the filter menus can offer in the range (projects, services,
# models, environments, tags). No FINAL: a duplicate changes no distinct set.
FACETS = """
SELECT
    arraySort(groupUniqArray(200)(project)) AS projects,
    arraySort(groupUniqArrayArray(200)(services)) AS services,
    arraySort(groupUniqArrayArray(200)(models)) AS models,
    arraySort(groupUniqArray(50)(environment)) AS environments,
    arraySort(groupUniqArrayArray(200)(tags)) AS tags
FROM traces
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
    {conditions}
"""

# Answers: the aggregates of one trace (the Trace page's header). The newest
# version wins even if a re-emit moved the trace to another day bucket.
TRACE = """
SELECT
    trace_id, project, environment, services, trace_name, name, status,
    root_span_id, start_time, end_time, duration_ms, span_count, depth,
    input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,
    round(cost_usd, 9) AS cost_usd, unpriced_generations, error_count, tool_call_count,
    models, user_id, session_id, tags, release,
    orphan_span_count, dropped_span_count, version
FROM traces FINAL
WHERE trace_id = {trace_id:String}
ORDER BY version DESC
LIMIT 1
"""

# Answers: every span of one trace without its payloads (the tree and the
# waterfall): only what a row draws, as a 10,000-span trace is sent whole
# (the rest of a span comes with SPAN_DETAIL when it is opened). Times as
# integer microseconds: 10,000 Python datetimes cost more than the query. Bounded by the trace's project and time when they are known
# (the primary key prunes to a few granules); by the trace id's bloom filter
# alone otherwise (a trace whose root has not ended yet has no traces row).
TRACE_SPANS = """
SELECT
    span_id, parent_span_id, service, kind, name, status,
    toUnixTimestamp64Micro(start_time) AS start_us,
    if(end_time IS NULL, NULL, toUnixTimestamp64Micro(assumeNotNull(end_time))) AS end_us,
    duration_ms, model, tool_name, input_tokens, output_tokens,
    round(cost_usd, 9) AS cost_usd, error_type, substring(error_message, 1, 200) AS error_message,
    redaction_detectors
FROM spans FINAL
WHERE trace_id = {trace_id:String}
    {bounds}
ORDER BY start_time, span_id
LIMIT {max_spans:UInt32}
"""

#: Narrows TRACE_SPANS when the trace's row gave its project and time.
TRACE_SPANS_BOUNDS = (
    "AND project = {project:String}"
    " AND start_time >= {start:DateTime64(6)} - INTERVAL 1 HOUR"
    " AND start_time < {end:DateTime64(6)} + INTERVAL 1 DAY"
)

# Answers: which project a trace belongs to when it has no traces row yet
# (used to attach a score to the right tenant).
TRACE_PROJECT = """
SELECT project, environment FROM spans
WHERE trace_id = {trace_id:String}
LIMIT 1
"""

# Answers: the scores given to one trace and its spans (newest last).
TRACE_SCORES = """
SELECT event_id, span_id, name, data_type, value, string_value, source, comment, timestamp
FROM scores FINAL
WHERE trace_id = {trace_id:String}
ORDER BY timestamp, event_id
"""

# Answers: the anomaly windows of the trace's project that overlap its time,
# so the Trace page can mark the spans that fell into one.
TRACE_ANOMALIES = """
SELECT service, model, kind, name, metric, window_start, window_end,
       value, baseline, score, severity
FROM anomalies FINAL
WHERE project = {project:String}
  AND window_start < {end:DateTime64(6)} AND window_end > {start:DateTime64(6)}
ORDER BY window_start, metric
"""

# Answers: everything stored about one span, payloads included (the span
# panel; fetched only when a span is opened). The whole row is the raw JSON.
SPAN_DETAIL = """
SELECT * EXCEPT (inserted_at, retention_days)
FROM spans FINAL
WHERE trace_id = {trace_id:String} AND span_id = {span_id:String}
ORDER BY version DESC
LIMIT 1
"""

# Answers: the sessions active in the range, newest first, with their turn
# count, cost, latency and errors (the Sessions page). Per project: session
# ids are a tenant's own.
SESSIONS = """
SELECT
    session_id,
    project,
    arraySort(groupUniqArray(10)(user_id)) AS users,
    count() AS traces,
    min(start_time) AS first_start,
    max(start_time) AS last_start,
    round(sum(ifNull(traces.cost_usd, 0)), 9) AS cost_usd,
    round(sum(ifNull(traces.duration_ms, 0)), 3) AS duration_ms,
    countIf(status = 'error') AS errors
FROM traces FINAL
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
    AND session_id != ''
    {conditions}
GROUP BY project, session_id
ORDER BY last_start DESC, project, session_id
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
"""

# Answers: the turns of one session (or one user's traces when `field` is
# user_id), oldest first, with what was asked and answered, cost and latency.
SESSION_TRACES = """
SELECT
    trace_id, project, name, status, start_time, duration_ms, span_count,
    round(cost_usd, 9) AS cost_usd, input_tokens, output_tokens, error_count,
    user_id, session_id,
    substring(input, 1, 4000) AS input, substring(output, 1, 4000) AS output
FROM traces FINAL
WHERE {field} = {key:String}
    AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
    {conditions}
ORDER BY start_time, trace_id
LIMIT {limit:UInt32}
"""

# Answers: per time bucket, how many traces started, their latency p50/p95
# and the share that failed (the Overview's charts). Exact quantiles, as
# `analyze`. Empty buckets are filled in by the caller.
OVERVIEW_SERIES = """
SELECT
    toDateTime64(toStartOfInterval(start_time, INTERVAL {bucket_s:UInt32} SECOND), 6, 'UTC')
        AS bucket,
    count() AS traces,
    round(quantileExactInclusive(0.5)(traces.duration_ms), 3) AS p50_ms,
    round(quantileExactInclusive(0.95)(traces.duration_ms), 3) AS p95_ms,
    countIf(status = 'error') AS errors,
    round(sum(ifNull(traces.cost_usd, 0)), 9) AS cost_usd
FROM traces FINAL
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
    {conditions}
GROUP BY bucket
ORDER BY bucket
"""

# Answers, in one FINAL scan of `spans` (three scans, one per breakdown, took
# 0.98-2.25 s at 10M spans under load, this one 0.84-1.75 s, interleaved):
# spend by model (generations; unpriced calls counted apart: their
# cost is unknown, not zero), spans, errors and spend by service, and calls and
# errors by tool. A key is NULL outside its breakdown (a model only for
# generations, a tool only for tool spans); GROUPING SETS aggregates each
# breakdown on its own, and grouping(x) = 0 marks the set a row belongs to.
# Reader.overview drops the NULL groups, ranks and cuts.
OVERVIEW_BREAKDOWNS = """
SELECT
    multiIf(grouping(model_key) = 0, 'model', grouping(service) = 0, 'service', 'tool') AS level,
    multiIf(grouping(model_key) = 0, model_key, grouping(service) = 0, service, tool_key) AS key,
    count() AS calls,
    countIf(status = 'error') AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    countIf(cost IS NULL) AS unpriced,
    round(sum(ifNull(cost, 0)), 9) AS cost_usd,
    anyIf(error_type, status = 'error') AS error_type
FROM
(
    SELECT status, input_tokens, output_tokens, cost_usd AS cost, error_type, service,
           if(kind = 'generation', toNullable(toString(model)), NULL) AS model_key,
           if(kind = 'tool', toNullable(if(tool_name != '', toString(tool_name), toString(name))),
              NULL) AS tool_key
    FROM spans FINAL
    WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
        {span_conditions}
)
GROUP BY GROUPING SETS ((model_key), (service), (tool_key))
"""

# Answers: the anomaly windows that opened in the range, newest first (the
# Anomalies page, and the marks on the Overview's charts).
ANOMALIES = """
SELECT project, service, model, kind, name, metric, window_start, window_end,
       value, baseline, scale, score, threshold, direction, severity, detected_at
FROM anomalies FINAL
WHERE window_start >= {start:DateTime64(6)} AND window_start < {end:DateTime64(6)}
    {conditions}
ORDER BY window_start DESC, project, service, name, metric
LIMIT {limit:UInt32}
"""

# Answers: the spans whose input, output or error message holds every search
# word, newest first, each span once (its newest version): `tracestream
# search` and GET /api/search. `{tokens}` is SEARCH_TOKEN per word, ANDed.
SEARCH_SPANS = """
SELECT trace_id, span_id, project, service, kind, name, status, start_time,
       substring(input, 1, 4000) AS input, substring(output, 1, 4000) AS output,
       substring(error_message, 1, 4000) AS error_message
FROM spans
WHERE start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}
    {span_conditions}
    AND {tokens}
ORDER BY start_time DESC, trace_id, span_id, version DESC
LIMIT 1 BY trace_id, span_id
LIMIT {limit:UInt32}
"""

# Answers: the traces the worker emitted after a point, oldest first
# (`tracestream tail`). No FINAL: a trace emitted again (late spans) is news
# too. The cursor is (emitted_at, trace_id, version), so equal emission
# times neither repeat nor skip; `start` bounds the scan to recent days of the sort key.
TAIL = (
    "SELECT"
    + TRACE_COLUMNS
    + """, emitted_at
FROM traces
WHERE start_time >= {start:DateTime64(6)}
    AND (emitted_at, trace_id, version)
        > ({after:DateTime64(6)}, {after_id:String}, {after_version:UInt64})
    {conditions}
ORDER BY emitted_at, trace_id, version
LIMIT {limit:UInt32}
"""
)

#: Conditions on tables with a plain ``service`` column (spans, anomalies).
SPAN_FILTERS: dict[str, str] = {
    "project": "project = {project:String}",
    "allowed": "project IN {allowed:Array(String)}",
    "service": "service = {service:String}",
    "environment": "environment = {environment:String}",
}
#: Conditions on ``anomalies`` (it has no environment column).
ANOMALY_FILTERS: dict[str, str] = {
    "project": "project = {project:String}",
    "allowed": "project IN {allowed:Array(String)}",
    "service": "service = {service:String}",
}
