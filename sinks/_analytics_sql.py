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
- One scan where one will do: costs by model, service and project come from a
  single ``GROUPING SETS`` query.
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

# One scan: the operations by (kind, name) and the all-spans row (the
# overview) from the empty grouping set.
_OPERATIONS = """
SELECT
    if(g_op = 1, 'overview', 'operation') AS level,
    k AS kind,
    n AS name,
    spans,
    errors,
    round(1 - errors / greatest(spans, 1), 6) AS success_rate,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    round(q[3], 3) AS p99_ms,
    input_tokens,
    output_tokens,
    cached_tokens,
    reasoning_tokens,
    round(cost, 6) AS cost_usd
FROM
(
    SELECT
        grouping(kind, name) != 0 AS g_op,
        kind AS k,
        name AS n,
        count() AS spans,
        countIf(status = 'error') AS errors,
        quantilesExactInclusive(0.5, 0.95, 0.99)(duration_ms) AS q,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cached_tokens) AS cached_tokens,
        sum(reasoning_tokens) AS reasoning_tokens,
        sum(ifNull(cost_usd, 0)) AS cost
    FROM spans FINAL
    WHERE {span_filter}
    GROUP BY GROUPING SETS ((kind, name), ())
)
ORDER BY g_op DESC, spans DESC, kind, name
LIMIT {top_n:UInt32} + 1
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

_TIMESERIES = """
SELECT
    toDateTime64(toStartOfInterval(toDateTime(start_time, 'UTC'),
        toIntervalSecond({bucket_s:UInt32})), 0, 'UTC') AS bucket,
    count() AS spans,
    countIf(status = 'error') AS errors,
    round(errors / spans, 6) AS error_rate,
    quantilesExactInclusive(0.5, 0.95)(duration_ms) AS q,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    round(sum(ifNull(cost_usd, 0)), 6) AS cost_usd
FROM spans FINAL
WHERE {span_filter}
GROUP BY bucket
ORDER BY bucket
"""

# One scan for every cost breakdown; `grouping()` tells the sets apart.
_COSTS = """
SELECT
    multiIf(g_model = 0, 'model', g_service = 0, 'service', g_project = 0, 'project', 'total')
        AS level,
    if(level = 'model', m, '') AS model,
    if(level = 'model', prov, '') AS provider,
    if(level = 'service', sv, '') AS service,
    if(level = 'project', pj, '') AS project,
    generations, input_tokens, output_tokens, cached_tokens, reasoning_tokens,
    round(cost, 6) AS cost_usd, unpriced_generations
FROM
(
    SELECT
        grouping(model) AS g_model,
        grouping(service) AS g_service,
        grouping(project) AS g_project,
        model AS m,
        any(provider) AS prov,
        service AS sv,
        project AS pj,
        countIf(kind = 'generation') AS generations,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cached_tokens) AS cached_tokens,
        sum(reasoning_tokens) AS reasoning_tokens,
        sum(ifNull(cost_usd, 0)) AS cost,
        countIf(kind = 'generation' AND cost_usd IS NULL) AS unpriced_generations
    FROM spans FINAL
    WHERE {span_filter}
    GROUP BY GROUPING SETS ((model), (service), (project), ())
)
WHERE level != 'model' OR model != ''
ORDER BY level, cost_usd DESC, model, service, project
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
# 32-character strings over millions of traces.
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
    WHERE {span_filter} AND kind = 'tool' AND tool_name != ''
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
    "performance": _OPERATIONS,
    "performance.traces": _TRACES,
    "performance.timeseries": _TIMESERIES,
    "costs": _COSTS,
    "quality.scores": _SCORES,
    "quality.worst_traces": _WORST,
    "patterns.tool_sequences": _TOOL_SEQUENCES,
    "patterns.error_signatures": _ERROR_SIGNATURES,
    "anomalies.anomalies": _ANOMALIES,
}
