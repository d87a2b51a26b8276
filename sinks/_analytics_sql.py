"""The SQL behind ``tracestream analyze``: one statement per report table.

Every statement takes the same parameters (``{start:DateTime64(6)}``,
``{end:DateTime64(6)}``, ``{top_n:UInt32}``, ``{bucket_s:UInt32}`` and the
optional filters) and has ``{span_filter}``, ``{trace_filter}``,
``{score_filter}``, ``{anomaly_filter}`` placeholders that :mod:`._analytics`
replaces with the WHERE conditions for that table, so filters are written
once. Conditions, not ``(SELECT * FROM t FINAL WHERE ...)`` subqueries: a
FINAL subquery measured ~50% slower at 10M rows.

Choices that hold for all of them:

- ``FINAL`` on the ReplacingMergeTree tables: a re-emitted span or trace
  (late spans, replays) counts once, before merges caught up. ClickHouse 26.x
  reads FINAL in parallel per partition; on 10M spans it costs ~20%.
- ``quantilesExactInclusive``: exact, interpolated like numpy's default, so
  tests can state the numbers; fast enough at 10M rows (a sort per group).
- One scan where one will do: the ``spans`` query answers the overview,
  operations, time series and every cost breakdown from one FINAL scan
  (exact quantile states merged per table; see ``_SPAN_SUMMARY``).
- Rows with ``status = 'error'`` are failures; success rate is the rest over
  all finished spans (``unset`` counts as success: no error was reported).
"""

from __future__ import annotations

__all__ = ["QUERIES", "SECTIONS"]

#: Section -> report tables in display order.
SECTIONS: dict[str, tuple[str, ...]] = {
    "performance": ("overview", "operations", "traces", "timeseries"),
    "costs": ("totals", "by_model", "by_service", "by_project"),
    "quality": ("scores", "worst_traces"),
    "patterns": ("tool_sequences", "error_signatures"),
    "anomalies": ("anomalies",),
}

# One FINAL scan of `spans` answers seven report tables. FINAL is most of the
# cost of a query over fresh parts (~0.3 s of ~0.5 s at 10M spans in 20
# parts: the sort key, ids included, is read and merged), so the tables that
# need every span share one:
#
# 1. The inner query groups the deduplicated spans by a fine key (kind, name,
#    time bucket, model, service, project): a few thousand groups holding sums
#    and *exact* quantile states (the durations themselves), so merging them
#    loses nothing.
# 2. ARRAY JOIN fans each fine group out to every table it feeds (`level`),
#    with the key columns that table does not group by blanked, and the outer
#    GROUP BY merges the states: overview, operations, time series, costs by
#    model / service / project / total. Quantiles are merged only where a
#    table shows them (-MergeIf).
#
# Measured on 10M spans in 20 fresh parts (best of 5): 1.17 s against
# 0.74 + 0.44 + 0.59 s for the three FINAL scans it replaces. Error signatures
# stay a query of their own: folded in here they cost as much as alone (the
# signature regexps and trace-id states per group). Rows come back sorted
# within each level; :mod:`._analytics` splits them and cuts rankings at top_n.
_SPAN_SUMMARY = """
SELECT
    level, kind, name, bucket, model, provider, service, project,
    spans,
    errors,
    round(1 - errors / greatest(spans, 1), 6) AS success_rate,
    round(errors / spans, 6) AS error_rate,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    round(q[3], 3) AS p99_ms,
    input_tokens,
    output_tokens,
    cached_tokens,
    reasoning_tokens,
    round(cost, 6) AS cost_usd,
    generations,
    unpriced_generations
FROM
(
    SELECT
        lv AS level,
        k AS kind,
        nm AS name,
        b AS bucket,
        m AS model,
        any(prov) AS provider,
        sv AS service,
        pj AS project,
        sum(n) AS spans,
        sum(e) AS errors,
        quantilesExactInclusiveMergeIf(0.5, 0.95, 0.99)(qs,
            lv IN ('overview', 'operation', 'timeseries')) AS q,
        sum(it) AS input_tokens,
        sum(ot) AS output_tokens,
        sum(ct) AS cached_tokens,
        sum(rt) AS reasoning_tokens,
        sum(c) AS cost,
        sum(g) AS generations,
        sum(u) AS unpriced_generations
    FROM
    (
        SELECT
            kind,
            name,
            bucket,
            model,
            service,
            project,
            any(provider) AS prov,
            count() AS n,
            countIf(status = 'error') AS e,
            quantilesExactInclusiveState(0.5, 0.95, 0.99)(duration_ms) AS qs,
            sum(input_tokens) AS it,
            sum(output_tokens) AS ot,
            sum(cached_tokens) AS ct,
            sum(reasoning_tokens) AS rt,
            sum(ifNull(cost_usd, 0)) AS c,
            countIf(kind = 'generation') AS g,
            countIf(kind = 'generation' AND cost_usd IS NULL) AS u
        FROM spans FINAL
        WHERE {span_filter}
        GROUP BY
            kind,
            name,
            toDateTime64(toStartOfInterval(toDateTime(start_time, 'UTC'),
                toIntervalSecond({bucket_s:UInt32})), 0, 'UTC') AS bucket,
            model,
            service,
            project
    )
    ARRAY JOIN
        ['overview', 'operation', 'timeseries', 'model', 'service', 'project', 'total']
            AS lv,
        ['', kind, '', '', '', '', ''] AS k,
        ['', name, '', '', '', '', ''] AS nm,
        arrayMap(i -> if(i = 3, bucket, toDateTime64(0, 0, 'UTC')), range(1, 8)) AS b,
        ['', '', '', model, '', '', ''] AS m,
        ['', '', '', '', service, '', ''] AS sv,
        ['', '', '', '', '', project, ''] AS pj
    GROUP BY lv, k, nm, b, m, sv, pj
)
WHERE level != 'model' OR model != ''
ORDER BY
    level,
    multiIf(level = 'operation', -toFloat64(spans),
            level IN ('model', 'service', 'project', 'total'), -cost_usd, 0),
    bucket, kind, name, model, service, project
"""

_TRACES = """
SELECT
    status,
    count() AS traces,
    quantilesExactInclusive(0.5, 0.95, 0.99)(duration_ms) AS q,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    round(q[3], 3) AS p99_ms,
    round(avg(span_count), 3) AS avg_spans,
    round(sum(ifNull(cost_usd, 0)), 6) AS cost_usd
FROM traces FINAL
WHERE {trace_filter}
GROUP BY status
ORDER BY traces DESC, status
"""

_SCORES = """
SELECT
    name,
    data_type,
    count() AS scores,
    round(avg(value), 6) AS mean,
    round(min(value), 6) AS min,
    round(quantileExactInclusive(0.5)(value), 6) AS median,
    round(max(value), 6) AS max,
    sumMapIf([if(data_type = 'boolean', if(value = 1, 'true', 'false'), string_value)],
             [toUInt64(1)], data_type != 'numeric') AS dist,
    mapFromArrays(dist.1, dist.2) AS value_counts,
    uniqExact(trace_id) AS traces
FROM scores FINAL
WHERE {score_filter}
GROUP BY name, data_type
ORDER BY name, data_type
"""

# Lowest mean numeric score first: the traces to look at.
_WORST = """
SELECT
    s.trace_id AS trace_id,
    round(s.mean_score, 6) AS mean_score,
    s.scores AS scores,
    s.names AS score_names,
    t.name AS trace_name,
    t.status AS status,
    t.duration_ms AS duration_ms,
    t.cost_usd AS cost_usd
FROM
(
    SELECT trace_id, avg(value) AS mean_score, count() AS scores,
           arraySort(groupUniqArray(name)) AS names
    FROM scores FINAL
    WHERE {score_filter} AND value IS NOT NULL
    GROUP BY trace_id
) AS s
LEFT JOIN
(
    SELECT trace_id, name, status, duration_ms, cost_usd
    FROM traces FINAL
    WHERE {trace_filter}
) AS t
    ON t.trace_id = s.trace_id
ORDER BY mean_score ASC, trace_id
LIMIT {top_n:UInt32}
SETTINGS join_use_nulls = 1
"""

# Grouped by a hash of the trace id: UInt64 keys hash much faster than
# 32-character strings over millions of traces. PREWHERE, before FINAL, on
# columns a span's start event fixes (kind, tool, time, project, service,
# model): every version of a span passes or fails it alike, so FINAL still
# picks the newest version and the result is exactly FINAL-then-filter, but
# FINAL merges only the tool spans. 10M spans, 20 fresh parts: 0.76 -> 0.47 s.
_TOOL_SEQUENCES = """
SELECT
    arrayStringConcat(sequence, ' > ') AS tool_sequence,
    count() AS traces,
    round(count() / sum(count()) OVER (), 6) AS share,
    round(avg(has_error), 6) AS error_rate
FROM
(
    SELECT
        cityHash64(trace_id) AS trace_key,
        arrayMap(x -> x.2, arraySort(groupArray((start_time, toString(tool_name))))) AS sequence,
        max(status = 'error') AS has_error
    FROM spans FINAL
    PREWHERE {span_stable} AND kind = 'tool' AND tool_name != ''
    WHERE {span_filter}
    GROUP BY trace_key
)
GROUP BY tool_sequence
ORDER BY traces DESC, tool_sequence
LIMIT {top_n:UInt32}
"""

# Numbers, hex ids and quoted values vary per occurrence; what is left is the
# signature that groups one kind of failure.
_ERROR_SIGNATURES = """
SELECT
    error_type,
    replaceRegexpAll(
        replaceRegexpAll(
            replaceRegexpAll(substring(error_message, 1, 300),
                '\\'[^\\']*\\'|"[^"]*"', '<str>'),
            '\\\\b[0-9a-fA-F]{8,}\\\\b|[0-9a-fA-F-]{36}', '<id>'),
        '\\\\d+(\\\\.\\\\d+)?', '<n>') AS signature,
    count() AS errors,
    uniqExact(trace_id) AS traces,
    arraySort(groupUniqArray(5)(service)) AS services,
    min(start_time) AS first_seen,
    max(start_time) AS last_seen,
    min(trace_id) AS example_trace_id
FROM spans FINAL
WHERE {span_filter} AND status = 'error'
GROUP BY error_type, signature
ORDER BY errors DESC, error_type, signature
LIMIT {top_n:UInt32}
"""

_ANOMALIES = """
SELECT
    window_start,
    project,
    service,
    model,
    kind,
    name,
    metric,
    round(value, 6) AS value,
    round(baseline, 6) AS baseline,
    round(score, 3) AS score,
    direction
FROM anomalies FINAL
WHERE {anomaly_filter}
ORDER BY abs(score) DESC, window_start, service, name, metric
LIMIT {top_n:UInt32}
"""

#: Report table key ("section.table") -> SQL. The ``performance`` query fills
#: the overview and operations tables, the ``costs`` query four tables.
QUERIES: dict[str, str] = {
    "spans": _SPAN_SUMMARY,
    "performance.traces": _TRACES,
    "quality.scores": _SCORES,
    "quality.worst_traces": _WORST,
    "patterns.tool_sequences": _TOOL_SEQUENCES,
    "patterns.error_signatures": _ERROR_SIGNATURES,
    "anomalies.anomalies": _ANOMALIES,
}
