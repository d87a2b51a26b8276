"""The SQL behind ``tracestream analyze --report ...``: what to change, per report.

One statement per report table, except where tables share a pass over the
traces: the workflows' and the reasoning's three tables each come from one
statement, split by its ``level`` column (:data:`SPLITS`). Each statement
says above it which question it answers.
The statements share :mod:`._analytics_sql`'s conventions and parameters
(``{start:DateTime64(6)}``, ``{end:DateTime64(6)}``, ``{top_n:UInt32}``, the
optional ``project``/``service``/``model`` filters), plus the judgement
thresholds of :class:`~tracestream.sinks.FeedbackOptions`:
``{low_score:Float64}``, ``{good_score:Float64}``,
``{long_reasoning_factor:Float64}``. Every value is a bound parameter; the
only text substituted is the filter placeholders of :mod:`._analytics`.

The unit of a finding is the trace. Filters choose traces: ``{trace_filter}``
is applied to ``spans`` (its columns ``start_time``, ``project``,
``trace_id`` exist there too), so a trace is in scope when it has a span in
the range that matches service/model/``where``, and then all of its spans in
the range are read. A tool's failure is then judged against the whole trace,
not only against the spans the filter matched.

Shared definitions (written once below as fragments):

- a trace **failed** when a root span (no parent) has status ``error`` or an
  outcome with ``success = false``;
- a trace's **score** is the mean of its numeric and boolean scores in the
  range; it **scored low** below ``low_score``;
- a trace is **bad** when it failed or scored low; a trace without scores
  is judged on failure alone;
- **example trace ids** are the smallest ids of the matching traces (up to
  three): stable across runs, so tests and READMEs can name them.

Each span carries ``start_ms``/``end_ms`` (milliseconds since the epoch as
Float64, end = start + duration) in the per-trace arrays; durations are
recorded at microsecond precision, so differences are exact to ~1 us.
"""

from __future__ import annotations

__all__ = ["FEEDBACK_QUERIES", "REPORTS", "SPLITS"]

#: Report -> its tables in display order.
REPORTS: dict[str, tuple[str, ...]] = {
    "tools": ("tools", "error_types", "failure_arguments", "never_called"),
    "workflows": ("workflows", "variants", "steps"),
    "context": ("retrievals", "input_tokens", "caching"),
    "reasoning": ("by_outcome", "decisions", "long_failures"),
    "examples": ("candidates",),
}

# Per trace: its workflow (root span name), whether it failed, its cost.
# PREWHERE on parent_span_id before FINAL: a span's parent is fixed by its
# start event, so every version of a span passes it alike (see _analytics_sql).
_OUTCOMES = """
    SELECT
        cityHash64(trace_id) AS tk,
        argMin(name, (start_time, span_id)) AS workflow,
        max(status = 'error' OR NOT ifNull(outcome_success, true)) AS failed
    FROM spans FINAL
    PREWHERE parent_span_id = ''
    WHERE {trace_filter}
    GROUP BY tk
"""

# Per trace: the mean of its numeric/boolean scores in the range.
_SCORES = """
    SELECT cityHash64(trace_id) AS tk, avg(value) AS score
    FROM scores FINAL
    WHERE {score_filter} AND value IS NOT NULL
    GROUP BY tk
"""

# Per trace: failed, score and bad together (NULL score: no score recorded).
_JUDGED = f"""
    SELECT
        o.tk AS tk,
        o.workflow AS workflow,
        o.failed AS failed,
        s.score AS score,
        o.failed OR ifNull(s.score < {{low_score:Float64}}, false) AS bad
    FROM ({_OUTCOMES}) AS o
    LEFT JOIN ({_SCORES}) AS s ON s.tk = o.tk
"""

# Up to three example traces of the rows where `cond` holds, smallest id first.
# Sorted and de-duplicated from a bounded sample, never from every id.
_EX = "arraySlice(arrayDistinct(groupArraySortedIf(12)({ids}, {cond})), 1, 3)"

# ---------------------------------------------------------------------------
# tools

# Which tools fail, how slow are they, how often are they retried, and does a
# failed call make the trace fail or score low? A retry is a call of the same
# tool in the same trace after one of its calls failed. The failure impact
# compares traces where the tool failed at least once with traces where it
# was called and never failed: both counts and rates are shown.
#
# One pass per trace over its tool calls and root spans (PREWHERE), judged
# from its own roots as in _JUDGED (a trace without a root is never bad), then
# one row per tool the trace called. Measured at 10M spans merged, best of 3
# in one run: 3.2 -> 2.3 s (1.5x -> 1.1x the floor scan) against grouping
# the calls per (trace, tool) and joining _JUDGED.
_TOOLS = f"""
SELECT
    c.tool AS tool,
    sum(c.calls) AS calls,
    sum(c.errors) AS errors,
    round(errors / calls, 6) AS error_rate,
    quantilesExactInclusiveArray(0.5, 0.95)(c.durations) AS q,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    sum(c.retries) AS retries,
    countIf(c.retries > 0) AS retried_traces,
    countIf(c.errors > 0) AS traces_with_failure,
    countIf(c.errors > 0 AND c.bad) AS bad_with_failure,
    countIf(c.errors = 0) AS traces_without_failure,
    countIf(c.errors = 0 AND c.bad) AS bad_without_failure,
    round(bad_with_failure / nullIf(traces_with_failure, 0), 6) AS bad_rate_with_failure,
    round(bad_without_failure / nullIf(traces_without_failure, 0), 6) AS bad_rate_without_failure,
    {_EX.format(ids="c.tid", cond="c.errors > 0")} AS example_trace_ids
FROM
(
    SELECT
        x.tid AS tid,
        x.judged AND (x.failed OR ifNull(s.score < {{low_score:Float64}}, false)) AS bad,
        tool,
        -- The tool's calls in (start, span) order: the trace's calls are sorted by tool first.
        arrayFilter(k -> k.1 = tool, x.calls_) AS calls_of_tool,
        length(calls_of_tool) AS calls,
        arrayMap(k -> k.4, calls_of_tool) AS seq,
        countEqual(seq, 1) AS errors,
        arrayMap(k -> assumeNotNull(k.5), arrayFilter(k -> k.5 IS NOT NULL, calls_of_tool))
            AS durations,
        if(has(seq, 1), length(seq) - indexOf(seq, 1), 0) AS retries
    FROM
    (
        SELECT
            cityHash64(trace_id) AS tk,
            any(trace_id) AS tid,
            countIf(parent_span_id = '') > 0 AS judged,
            maxIf(status = 'error' OR NOT ifNull(outcome_success, true),
                  parent_span_id = '') AS failed,
            arraySort(groupArrayIf(
                (toString(if(tool_name = '', name, tool_name)), start_time, cityHash64(span_id),
                 status = 'error', duration_ms),
                kind = 'tool')) AS calls_
        FROM spans FINAL
        PREWHERE kind = 'tool' OR parent_span_id = ''
        WHERE {{trace_filter}}
        GROUP BY tk
        HAVING notEmpty(calls_)
    ) AS x
    LEFT JOIN ({_SCORES}) AS s ON s.tk = x.tk
    ARRAY JOIN arrayDistinct(arrayMap(k -> k.1, x.calls_)) AS tool
) AS c
GROUP BY tool
ORDER BY errors DESC, calls DESC, tool
LIMIT {{top_n:UInt32}}
SETTINGS join_use_nulls = 1
"""

# Which error types does each tool fail with, and how are they shared out?
_TOOL_ERRORS = f"""
SELECT
    tool,
    error_type,
    errors,
    traces,
    round(errors / sum(errors) OVER (PARTITION BY tool), 6) AS share_of_tool_errors,
    example_message,
    example_trace_ids
FROM
(
    SELECT
        if(tool_name = '', name, tool_name) AS tool,
        error_type,
        count() AS errors,
        uniqExact(trace_id) AS traces,
        argMin(substring(error_message, 1, 200), (start_time, span_id)) AS example_message,
        {_EX.format(ids="trace_id", cond="1")} AS example_trace_ids
    FROM spans FINAL
    PREWHERE kind = 'tool'
    WHERE {{trace_filter}} AND status = 'error'
    GROUP BY tool, error_type
)
ORDER BY errors DESC, tool, error_type
LIMIT {{top_n:UInt32}}
"""

# Which argument keys go with failures? For each top-level key of a tool's
# arguments: the failure rate of the calls that pass it against the calls
# that do not. Shown only where the key's calls fail more often than the
# rest: a key every call passes says nothing (no calls without it), and a
# key that never failed is not a lead. The '' key row per call carries the
# tool's totals through the same GROUP BY (one scan).
_TOOL_ARGUMENTS = f"""
SELECT
    tool,
    key,
    calls_with_key,
    failures_with_key,
    round(failures_with_key / calls_with_key, 6) AS failure_rate_with_key,
    calls - calls_with_key AS calls_without_key,
    failures - failures_with_key AS failures_without_key,
    round(failures_without_key / calls_without_key, 6) AS failure_rate_without_key,
    example_trace_ids
FROM
(
    SELECT
        tool,
        key,
        count() AS calls_with_key,
        countIf(failed) AS failures_with_key,
        max(calls_with_key) OVER (PARTITION BY tool) AS calls,
        max(failures_with_key) OVER (PARTITION BY tool) AS failures,
        {_EX.format(ids="trace_id", cond="failed")} AS example_trace_ids
    FROM
    (
        SELECT
            trace_id,
            if(tool_name = '', name, tool_name) AS tool,
            status = 'error' AS failed,
            arrayPushFront(
                if(JSONType(tool_arguments) = 'Object', JSONExtractKeys(tool_arguments), []), ''
            ) AS keys
        FROM spans FINAL
        PREWHERE kind = 'tool'
        WHERE {{trace_filter}}
    )
    ARRAY JOIN keys AS key
    GROUP BY tool, key
)
WHERE key != ''
    AND failures_with_key > 0
    AND calls_without_key > 0
    AND failure_rate_with_key > failure_rate_without_key
ORDER BY failure_rate_with_key - failure_rate_without_key DESC, failures_with_key DESC, tool, key
LIMIT {{top_n:UInt32}}
"""

# Which tools are offered to the model but never called? Tool definitions are
# read from a generation's model parameters, key "tools" (the OpenAI / Anthropic
# request shape: {"type": "function", "function": {"name": ...}},
# {"name": ...}, or a plain name). Without recorded definitions: no rows.
_TOOLS_NEVER_CALLED = """
SELECT
    tool,
    sum(gens) AS offered_in_generations,
    uniqExactMerge(traces) AS offered_in_traces,
    arraySlice(arraySort(arrayDistinct(arrayFlatten(groupArray(ex)))), 1, 3)
        AS example_trace_ids
FROM
(
    -- Definitions repeat from call to call: parse each distinct text once.
    SELECT
        model_parameters,
        count() AS gens,
        uniqExactState(cityHash64(trace_id)) AS traces,
        groupArraySorted(12)(trace_id) AS ex
    FROM spans FINAL
    PREWHERE kind = 'generation'
    WHERE {trace_filter} AND model_parameters LIKE '%"tools"%'
    GROUP BY model_parameters
)
ARRAY JOIN arrayDistinct(arrayMap(
    t -> multiIf(
        JSONHas(t, 'function'), JSONExtractString(t, 'function', 'name'),
        JSONType(t) = 'String', JSONExtractString(t),
        JSONExtractString(t, 'name')),
    JSONExtractArrayRaw(model_parameters, 'tools'))) AS tool
WHERE tool != ''
    AND tool NOT IN
    (
        SELECT DISTINCT if(tool_name = '', name, tool_name)
        FROM spans
        PREWHERE kind = 'tool'
        WHERE {trace_filter}
    )
GROUP BY tool
ORDER BY offered_in_traces DESC, tool
LIMIT {top_n:UInt32}
"""

# ---------------------------------------------------------------------------
# workflows

# Per trace, the shape the workflow query reads: its spans in start order,
# longer first on equal starts so a parent precedes the children it starts
# with (parent, start and end in ms, step name), its cost and outcome. Span
# ids are carried as cityHash64 values (0: no parent): sorting and comparing
# UInt64 instead of 16-char strings made the shape 3x cheaper (1M spans:
# 2.4 -> 0.76 s). `up` is each span's parent as an index (0: none). The
# workflow is the first root by (start, span id), read from the sorted spans
# (a root carries its span id for that tie): an argMinIf over every span
# cost 0.9 s at 10M spans.
#
# `crit` is each span's time on the critical path, as tracing UIs compute it:
# from the root's end walk back; at each span take the child that ended last
# before the cursor (of children ending together, the one that started
# last), descend into it, and continue before that child's start. A child
# that ends after the cursor ran in parallel with a later one and is off the
# path. The walk needs no stack of cursors: inside a span it always starts
# at the span's own end, so which child it takes next depends only on that
# span (`last_child`: the first pick from its end) or on the previous pick
# (`before`: the next pick from a child's start). The spans on the path
# (`on_path`) are those reached from the root through these two links, at
# most one step per span; a span on the path spends its duration less its
# children's on the path (they are exactly the children the walk took), and
# the times sum to the root's duration. Measured at 1M spans: the previous
# fold over a stack of (span, cursor) pairs cost 0.9 s more CPU. `before` is
# found in the walk, for the spans on the path only, rather than for every
# span up front; a span's children's time on the path is summed only where
# the walk went into a child (where a last child exists).
#
# `wait` is each span's idle time before it started: the gap since its
# parent started or an earlier-started sibling ended, whichever is later.
# Its siblings are looked for among the spans before its start only
# (`earlier`: spans are in start order).
#
# The lambdas that look at many spans for each span (before, crit, wait)
# take the per-span values as lambda arguments and scan one zipped array,
# rather than indexing captured arrays (`up[k]`, `ends[k]`): each captured
# array is copied once per span, so fewer captures is less copying. Measured
# at 10M spans merged: 4.0 -> 2.8 s for these columns. `last_child` needs no
# such scan: whether a span fits its parent is a property of the span alone,
# so each span's last child is one indexOf (a native search) in by_end
# reversed. Measured on 2M generated 5-span traces: 1.14 -> 0.52 s CPU for
# that column; the whole statement at 10M spans merged, best of 3
# interleaved (load 5-8): 14.9 -> 13.5 s CPU. With `before` in the walk, the
# sum skipped and `earlier`, another run (load 2.6-3): 13.2 -> 12.5 -> 12.2 s
# CPU, 3.44x -> 3.27x -> 3.18x the floor scan.
_TRACE_SHAPE = f"""
    SELECT
        shaped.tid AS trace_id,
        workflow,
        failed,
        s.score AS score,
        cost,
        pids, starts, ends, steps,
        indexOf(pids, 0) AS root,
        ends[root] - starts[root] AS duration_ms,
        arrayMap(p -> indexOf(ids, p), pids) AS up,
        -- (parent, end, start, index) by end, then index
        arraySort(x -> (x.2, x.4), arrayZip(up, ends, starts, arrayEnumerate(ids))) AS by_end,
        -- by_end reversed, each span as its parent if it ends by the parent's end and starts
        -- before it (else 0): a span's last child is the first match of its index there
        arrayReverse(arrayMap(x -> if(x.1 != 0 AND x.2 <= ends[x.1] AND x.3 < ends[x.1], x.1, 0),
                              by_end)) AS fits_rev,
        arrayReverse(by_end.4) AS by_end_rev,
        arrayMap(j -> by_end_rev[indexOf(fits_rev, j)], arrayEnumerate(ids)) AS last_child,
        arrayFold(
            (acc, i) -> if(empty(acc.1), acc, (
                arrayConcat(arrayPopBack(acc.1), arrayFilter(x -> x != 0,
                    -- before: the popped span's sibling that ended last before it started
                    [if(up[(acc.1)[-1]] = 0, 0,
                        arrayLast(x -> x.1 = up[(acc.1)[-1]] AND x.2 <= starts[(acc.1)[-1]]
                                       AND x.3 < starts[(acc.1)[-1]], by_end).4),
                     last_child[(acc.1)[-1]]])),
                arrayPushBack(acc.2, (acc.1)[-1]))),
            ids,
            (if(root = 0, [], [toUInt32(root)]), CAST([], 'Array(UInt32)'))
        ).2 AS on_path,
        arrayMap((j, s, e) -> if(has(on_path, j), e - s, 0.), arrayEnumerate(ids), starts, ends)
            AS on_path_ms,
        -- a span without a last child has no child on the path (the walk enters children
        -- only there): `if` skips the sum for it, most spans
        arrayMap((j, m, c) -> if(c = 0, m,
                                 m - arraySum((u, mk) -> if(u = j, mk, 0.), up, on_path_ms)),
                 arrayEnumerate(ids), on_path_ms, last_child) AS crit,
        arrayMap(u -> if(u = 0, 0., starts[u]), up) AS parent_starts,
        -- spans are in start order: those before the first at a span's start started earlier
        arrayMap(s -> indexOf(starts, s) - 1, starts) AS earlier,
        arrayMap((u, s, ps, n) -> if(u = 0, 0., greatest(0., s - greatest(ps,
                     arrayMax((u2, e2) -> if(u2 = u, e2, 0.),
                              arraySlice(up, 1, n), arraySlice(ends, 1, n))))),
                 up, starts, parent_starts, earlier) AS wait
    FROM
    (
        SELECT
            cityHash64(trace_id) AS tk,
            any(trace_id) AS tid,
            maxIf(status = 'error' OR NOT ifNull(outcome_success, true),
                  parent_span_id = '') AS failed,
            countIf(parent_span_id = '') AS roots,
            sum(ifNull(cost_usd, 0)) AS cost,
            arraySort(x -> (x.3, -x.4, x.1), groupArray((
                cityHash64(span_id),
                if(parent_span_id = '', 0, cityHash64(parent_span_id)),
                toUnixTimestamp64Micro(start_time) / 1000,
                toUnixTimestamp64Micro(start_time) / 1000 + ifNull(duration_ms, 0),
                name,
                if(parent_span_id = '', span_id, '')))) AS spans_,
            arraySort(x -> (x.3, x.6), arrayFilter(x -> x.2 = 0, spans_))[1].5 AS workflow,
            spans_.1 AS ids,
            spans_.2 AS pids,
            spans_.3 AS starts,
            spans_.4 AS ends,
            spans_.5 AS steps
        FROM spans FINAL
        WHERE {{trace_filter}}
        GROUP BY tk
        HAVING roots > 0
    ) AS shaped
    LEFT JOIN ({_SCORES}) AS s ON s.tk = shaped.tk
"""

# Per workflow (root span name): three tables from one statement, split by
# `level` (:data:`SPLITS` says which columns each shows).
#
# - workflow: how many runs, how many succeed, how long, what they cost and
#   how they score;
# - variant: which step orders each workflow runs in (the names of the
#   non-root spans in start order), how common each is, and how each does;
# - step: which steps dominate end-to-end time (share of the workflow's time
#   on the critical path; the root's own share is the time no recorded child
#   covered), which are repeated within a run or skipped by some runs
#   (`skipped_traces`: the workflow's runs without it), and how long runs
#   wait before each.
#
# Traces are first summed per (workflow, step sequence): the runs of one
# sequence share their steps position by position, so their critical and
# waiting times add up as arrays (sumForEach) and their durations as
# quantile states. Only those few groups fan out (ARRAY JOIN) to a workflow
# row, a variant row and a row per distinct step. Measured at 1M spans
# (200k traces): fanning out every trace instead cost 0.35 s more CPU.
_WORKFLOWS = f"""
SELECT
    level,
    workflow,
    key,
    traces,
    round(1 - failed_traces / traces, 6) AS success_rate,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    round(cost / traces, 6) AS mean_cost_usd,
    round(score_sum / scored_traces, 6) AS mean_score,
    scored_traces,
    round(traces / sum(traces) OVER (PARTITION BY level, workflow), 6) AS share,
    max(traces) OVER (PARTITION BY level, workflow) - traces AS skipped_traces,
    repeated_traces,
    occurrences,
    round(critical_ms / sum(critical_ms) OVER (PARTITION BY level, workflow), 6)
        AS critical_share,
    round(critical_ms / traces, 3) AS mean_critical_ms,
    round(wait_ms / occurrences, 3) AS mean_wait_ms,
    round(wait_ms, 3) AS total_wait_ms,
    example_trace_ids,
    example_failed_trace_ids
FROM
(
    SELECT
        lv.1 AS level,
        g.workflow AS workflow,
        lv.2 AS key,
        sum(g.traces) AS traces,
        sum(g.failed_traces) AS failed_traces,
        quantilesExactInclusiveMergeIf(0.5, 0.95)(g.durations, level = 'workflow') AS q,
        sum(g.cost) AS cost,
        sum(g.score_sum) AS score_sum,
        sum(g.scored_traces) AS scored_traces,
        sum(lv.3) AS occurrences,
        sum(lv.4) AS repeated_traces,
        sum(lv.5) AS critical_ms,
        sum(lv.6) AS wait_ms,
        -- A trace is in one group only: the groups' smallest ids hold the smallest.
        arraySlice(arraySort(arrayFlatten(groupArray(g.examples))), 1, 3) AS example_trace_ids,
        arraySlice(arraySort(arrayFlatten(groupArray(g.failed_examples))), 1, 3)
            AS example_failed_trace_ids
    FROM
    (
        SELECT
            workflow,
            steps,
            arrayMap(p -> p = 0, pids) AS is_root,
            count() AS traces,
            countIf(failed) AS failed_traces,
            quantilesExactInclusiveState(0.5, 0.95)(duration_ms) AS durations,
            sum(cost) AS cost,
            sum(ifNull(score, 0)) AS score_sum,
            count(score) AS scored_traces,
            sumForEach(crit) AS step_critical_ms,
            sumForEach(wait) AS step_wait_ms,
            groupArraySorted(3)(trace_id) AS examples,
            groupArraySortedIf(3)(trace_id, failed) AS failed_examples
        FROM ({_TRACE_SHAPE})
        GROUP BY workflow, steps, is_root
    ) AS g
    ARRAY JOIN arrayConcat(
        [('workflow', '', g.traces, 0, 0., 0.),
         ('variant', arrayStringConcat(arrayFilter((s, r) -> NOT r, g.steps, g.is_root), ' > '),
          g.traces, 0, 0., 0.)],
        arrayMap(st -> ('step', st,
                        g.traces * countEqual(g.steps, st),
                        if(countEqual(g.steps, st) > 1, g.traces, 0),
                        arraySum((x, y) -> if(y = st, x, 0.), g.step_critical_ms, g.steps),
                        arraySum((x, y) -> if(y = st, x, 0.), g.step_wait_ms, g.steps)),
                 arrayDistinct(g.steps))) AS lv
    GROUP BY level, workflow, key
)
ORDER BY
    level,
    if(level = 'workflow', -traces, 0),
    workflow,
    multiIf(level = 'step', -critical_share, -toFloat64(traces)),
    key
LIMIT {{top_n:UInt32}} BY level, workflow
SETTINGS join_use_nulls = 1
"""

#: Multi-table queries: query key -> its ``level`` values -> (table key, columns
#: shown as ``name`` or ``name=source column``).
SPLITS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "workflows": {
        "workflow": ("workflows.workflows", (
            "workflow", "traces", "success_rate", "p50_ms", "p95_ms", "mean_cost_usd",
            "mean_score", "scored_traces", "example_failed_trace_ids")),
        "variant": ("workflows.variants", (
            "workflow", "variant=key", "traces", "share", "success_rate", "mean_cost_usd",
            "mean_score", "example_trace_ids")),
        "step": ("workflows.steps", (
            "workflow", "step=key", "traces_with_step=traces", "skipped_traces",
            "repeated_traces", "occurrences", "critical_share", "mean_critical_ms",
            "mean_wait_ms", "total_wait_ms", "example_trace_ids")),
    },
    "reasoning": {
        "outcome": ("reasoning.by_outcome", (
            "outcome=key", "traces", "traces_with_reasoning=with_reasoning",
            "mean_reasoning_tokens", "mean_reasoning_spans", "mean_reasoning_ms", "mean_score",
            "example_trace_ids")),
        "decision": ("reasoning.decisions", (
            "decision=key", "choice", "times=n", "share", "traces", "success_rate", "bad_rate",
            "mean_score", "example_trace_ids")),
        "trace": ("reasoning.long_failures", (
            "trace_id", "workflow", "outcome", "reasoning_tokens", "reasoning_spans",
            "reasoning_ms", "succeeded_median_reasoning_tokens", "times_median", "score")),
    },
}  # fmt: skip


# ---------------------------------------------------------------------------
# context

# A retrieval's items: its output when that is a JSON array, else the array
# under "items", "documents" or "results". An item's id: its "id", "doc_id"
# or "document_id" (string or number).
_ITEMS = """arrayConcat(JSONExtractArrayRaw({o}), JSONExtractArrayRaw({o}, 'items'),
    JSONExtractArrayRaw({o}, 'documents'), JSONExtractArrayRaw({o}, 'results'))"""
_ITEM_IDS = """arrayFilter(x -> x != '', arrayMap(i -> trim(BOTH '"' FROM multiIf(
    JSONHas(i, 'id'), JSONExtractRaw(i, 'id'), JSONHas(i, 'doc_id'), JSONExtractRaw(i, 'doc_id'),
    JSONExtractRaw(i, 'document_id'))), {items}))"""

# Per retrieval name: how much is retrieved (items, bytes), how fast, how
# often nothing comes back and what the trace does next (the next span to
# start after it ended, and whether the trace went bad), and which share of
# the items the next generation used: an item counts as used when its id
# appears as a whole token in that generation's output (so "doc-1" is not
# found inside "doc-10"). Items without an id are counted but cannot be
# matched.
#
# Only traces with a retrieval are read whole (the IN list, from the cheap
# `kind` column, is a superset of what HAVING keeps), and a trace is judged
# from its own root spans in the same pass: a trace without a root is never
# bad, as in _JUDGED. Measured at 1M spans: 1.20 -> 0.73 s CPU (2.4x -> 1.5x
# the floor scan) against grouping every trace and joining _JUDGED.
_RETRIEVALS = f"""
SELECT
    name AS retrieval,
    count() AS retrievals,
    quantilesExactInclusive(0.5, 0.95)(dur) AS q,
    round(q[1], 3) AS p50_ms,
    round(q[2], 3) AS p95_ms,
    sum(n_items) AS items,
    round(items / retrievals, 3) AS mean_items,
    sum(bytes) AS bytes,
    countIf(n_items = 0) AS empty,
    round(countIf(n_items = 0 AND r.bad) / nullIf(empty, 0), 6) AS bad_rate_after_empty,
    round(countIf(n_items > 0 AND r.bad) / nullIf(retrievals - empty, 0), 6)
        AS bad_rate_after_results,
    arrayFilter(x -> x != '', topKIf(3)(next_step, n_items = 0)) AS next_after_empty,
    sum(length(item_ids)) AS items_with_ids,
    sum(used) AS used_items,
    round(used_items / nullIf(items_with_ids, 0), 6) AS used_share,
    {_EX.format(ids="r.trace_id", cond="n_items = 0")} AS example_empty_trace_ids,
    {_EX.format(ids="r.trace_id", cond="used < length(item_ids)")} AS example_unused_trace_ids
FROM
(
    SELECT
        tk,
        tid AS trace_id,
        judged AND (failed OR ifNull(s.score < {{low_score:Float64}}, false)) AS bad,
        names[i] AS name,
        ends[i] - starts[i] AS dur,
        {_ITEMS.format(o="outs[i]")} AS items_,
        length(items_) AS n_items,
        length(outs[i]) AS bytes,
        {_ITEM_IDS.format(items="items_")} AS item_ids,
        arrayFirstIndex(j -> j != i AND starts[j] >= ends[i], arrayEnumerate(ids)) AS nxt,
        if(nxt = 0, '', names[nxt]) AS next_step,
        arrayFirstIndex(j -> kinds[j] = 'generation' AND starts[j] >= ends[i],
                        arrayEnumerate(ids)) AS gen,
        extractAll(if(gen = 0, '', outs[gen]), '[\\\\w./:-]*\\\\w') AS gen_tokens,
        length(arrayFilter(x -> has(gen_tokens, x), item_ids)) AS used
    FROM
    (
        SELECT
            cityHash64(trace_id) AS tk,
            any(trace_id) AS tid,
            countIf(parent_span_id = '') > 0 AS judged,
            maxIf(status = 'error' OR NOT ifNull(outcome_success, true),
                  parent_span_id = '') AS failed,
            arraySort(x -> (x.3, -x.4, x.1), groupArray((
                cityHash64(span_id),
                kind,
                toUnixTimestamp64Micro(start_time) / 1000,
                toUnixTimestamp64Micro(start_time) / 1000 + ifNull(duration_ms, 0),
                toString(name),
                if(kind IN ('retrieval', 'generation'), output, '')))) AS spans_,
            arrayMap(x -> x.1, spans_) AS ids,
            arrayMap(x -> x.2, spans_) AS kinds,
            arrayMap(x -> x.3, spans_) AS starts,
            arrayMap(x -> x.4, spans_) AS ends,
            arrayMap(x -> x.5, spans_) AS names,
            arrayMap(x -> x.6, spans_) AS outs
        FROM spans FINAL
        WHERE {{trace_filter}}
            AND trace_id IN (SELECT trace_id FROM spans WHERE {{trace_filter}} AND kind = 'retrieval')
        GROUP BY tk
        HAVING has(kinds, 'retrieval')
    ) AS x
    LEFT JOIN ({_SCORES}) AS s ON s.tk = x.tk
    ARRAY JOIN arrayFilter(j -> kinds[j] = 'retrieval', arrayEnumerate(ids)) AS i
) AS r
GROUP BY retrieval
ORDER BY retrievals DESC, retrieval
LIMIT {{top_n:UInt32}}
SETTINGS join_use_nulls = 1
"""

# Does more context help? Traces bucketed by the input tokens of their
# generations (uncached + cached + cache writes), with success and score per
# bucket. Buckets grow by 4x so a few rows cover small and large prompts.
_INPUT_TOKENS = f"""
SELECT
    multiIf(tokens < 1000, '<1k', tokens < 4000, '1k-4k', tokens < 16000, '4k-16k',
            tokens < 64000, '16k-64k', '>=64k') AS input_tokens,
    count() AS traces,
    round(avg(tokens), 3) AS mean_input_tokens,
    round(1 - countIf(t.failed) / traces, 6) AS success_rate,
    round(countIf(t.bad) / traces, 6) AS bad_rate,
    round(avg(t.score), 6) AS mean_score,
    count(t.score) AS scored_traces,
    {_EX.format(ids="g.tid", cond="t.bad")} AS example_bad_trace_ids
FROM
(
    SELECT
        cityHash64(trace_id) AS tk,
        any(trace_id) AS tid,
        sum(input_tokens + cached_tokens + cache_write_tokens) AS tokens
    FROM spans FINAL
    PREWHERE kind = 'generation'
    WHERE {{trace_filter}}
    GROUP BY tk
) AS g
INNER JOIN ({_JUDGED}) AS t ON t.tk = g.tk
GROUP BY input_tokens
ORDER BY min(tokens)
SETTINGS join_use_nulls = 1
"""

# Is prompt caching working? Per model: the share of input tokens read from
# the provider's cache, and how many calls had no cache hit at all.
_CACHING = f"""
SELECT
    model,
    count() AS generations,
    sum(input_tokens) AS uncached_input_tokens,
    sum(cached_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_input_tokens,
    round(cached_input_tokens
          / nullIf(uncached_input_tokens + cached_input_tokens + cache_write_input_tokens, 0),
          6) AS cached_share,
    countIf(cached_tokens = 0) AS generations_without_cache_hit,
    {_EX.format(ids="trace_id", cond="cached_tokens = 0")} AS example_uncached_trace_ids
FROM spans FINAL
PREWHERE kind = 'generation'
WHERE {{trace_filter}}
GROUP BY model
ORDER BY cached_share ASC, generations DESC, model
LIMIT {{top_n:UInt32}}
"""

# ---------------------------------------------------------------------------
# reasoning

# Per reasoning: three tables from one statement, split by `level`
# (:data:`SPLITS` says which columns each shows), over one pass that reads
# each trace once:
#
# - outcome: do traces that reason more end better? Reasoning per trace
#   (tokens on all spans, reasoning spans and their time) against its outcome
#   (failed, scored low, succeeded);
# - decision: which choices do recorded decisions take, and how do the traces
#   that took each choice end? A string choice is shown as the string,
#   anything else as its JSON text;
# - trace: where did long reasoning end badly? Bad traces (failed or scored
#   low) whose reasoning tokens are at least `long_reasoning_factor` times the
#   median of the traces that succeeded with some reasoning. Without such a
#   baseline (no successful trace reasoned) nothing is called long.
#
# A trace is judged as in _JUDGED, from its own root spans in the same pass
# (a trace without a root has no outcome row and its decisions count as
# neither failed nor bad). Each trace fans out (ARRAY JOIN) to its outcome
# row and one row per decision; the outcome groups of bad traces keep their
# `top_n` longest reasoners, the only traces that can be long failures (the
# cut against the baseline keeps the longest first), and the baseline is the
# succeeded group's median. Measured at 10M spans merged, best of 3 in one
# run: 7.6 -> 4.9 s, 3.5x -> 2.25x the floor scan, against three statements
# that each grouped every trace.
_REASONING = f"""
SELECT
    if(c.2 = '', level, 'trace') AS out_level,
    key,
    choice,
    n,
    traces,
    round(n / sum(n) OVER (PARTITION BY level, key), 6) AS share,
    round(1 - failed_n / n, 6) AS success_rate,
    round(bad_n / n, 6) AS bad_rate,
    round(score_mean, 6) AS mean_score,
    with_reasoning,
    round(tokens_mean, 3) AS mean_reasoning_tokens,
    round(spans_mean, 3) AS mean_reasoning_spans,
    round(ms_mean, 3) AS mean_reasoning_ms,
    example_trace_ids,
    c.2 AS trace_id,
    c.3 AS workflow,
    key AS outcome,
    toUInt64(-c.1) AS reasoning_tokens,
    c.4 AS reasoning_spans,
    round(c.5, 3) AS reasoning_ms,
    round(baseline, 3) AS succeeded_median_reasoning_tokens,
    round(reasoning_tokens / baseline, 3) AS times_median,
    round(c.6, 6) AS score
FROM
(
    SELECT
        *,
        sumIf(succeeded_median, level = 'outcome' AND key = 'succeeded') OVER () AS baseline
    FROM
    (
        SELECT
            lv.1 AS level,
            lv.2 AS key,
            lv.3 AS choice,
            count() AS n,
            uniqExact(t.tk) AS traces,
            countIf(t.failed) AS failed_n,
            countIf(t.bad) AS bad_n,
            avg(t.score) AS score_mean,
            countIf(t.reasoning_tokens > 0 OR t.reasoning_spans > 0) AS with_reasoning,
            avg(t.reasoning_tokens) AS tokens_mean,
            avg(t.reasoning_spans) AS spans_mean,
            avg(t.reasoning_ms) AS ms_mean,
            {_EX.format(ids="t.trace_id", cond="1")} AS example_trace_ids,
            quantileExactInclusiveIf(0.5)(
                t.reasoning_tokens, key = 'succeeded' AND level = 'outcome' AND t.reasoning_tokens > 0)
                AS succeeded_median,
            groupArraySortedIf({{top_n:UInt32}})(
                (-toInt64(t.reasoning_tokens), t.trace_id, t.workflow, t.reasoning_spans,
                 t.reasoning_ms, t.score),
                level = 'outcome' AND t.bad) AS longest
        FROM
        (
            SELECT
                r.tk AS tk,
                r.tid AS trace_id,
                r.judged AS judged,
                r.workflow AS workflow,
                judged AND r.failed AS failed,
                judged AND (r.failed OR ifNull(s.score < {{low_score:Float64}}, false)) AS bad,
                if(judged, s.score, NULL) AS score,
                multiIf(failed, 'failed', bad, 'scored low', 'succeeded') AS outcome,
                r.reasoning_tokens AS reasoning_tokens,
                r.reasoning_spans AS reasoning_spans,
                r.reasoning_ms AS reasoning_ms,
                r.decisions AS decisions
            FROM
            (
                SELECT
                    cityHash64(trace_id) AS tk,
                    any(trace_id) AS tid,
                    countIf(parent_span_id = '') > 0 AS judged,
                    argMinIf(name, (start_time, span_id), parent_span_id = '') AS workflow,
                    maxIf(status = 'error' OR NOT ifNull(outcome_success, true),
                          parent_span_id = '') AS failed,
                    sum(reasoning_tokens) AS reasoning_tokens,
                    countIf(kind = 'reasoning') AS reasoning_spans,
                    sumIf(ifNull(duration_ms, 0), kind = 'reasoning') AS reasoning_ms,
                    arrayFlatten(groupArrayIf(JSONExtractArrayRaw(decisions), decisions != ''))
                        AS decisions
                FROM spans FINAL
                WHERE {{trace_filter}}
                GROUP BY tk
            ) AS r
            LEFT JOIN ({_SCORES}) AS s ON s.tk = r.tk
        ) AS t
        ARRAY JOIN arrayConcat(
            if(t.judged, [('outcome', t.outcome, '')], []),
            arrayMap(d -> ('decision', JSONExtractString(d, 'name'),
                           if(JSONType(d, 'choice') = 'String', JSONExtractString(d, 'choice'),
                              JSONExtractRaw(d, 'choice'))),
                     t.decisions)) AS lv
        GROUP BY level, key, choice
    )
)
ARRAY JOIN arrayPushFront(
    arrayFilter(x -> baseline > 0 AND -x.1 >= {{long_reasoning_factor:Float64}} * baseline,
                longest),
    (toInt64(0), '', '', toUInt64(0), 0., NULL)) AS c
ORDER BY
    out_level,
    if(out_level = 'trace', 0, indexOf(['failed', 'scored low', 'succeeded'], key)),
    if(out_level = 'trace', '', key),
    if(out_level = 'trace', 0, -n),
    if(out_level = 'trace', '', choice),
    reasoning_tokens DESC,
    trace_id
LIMIT {{top_n:UInt32}} BY out_level, if(out_level = 'outcome', key, '')
SETTINGS join_use_nulls = 1
"""


# ---------------------------------------------------------------------------
# examples

# Which traces are worth keeping as examples? Per operation (root span name):
# good cases scored at least `good_score`, had no error span, did not fail
# and cost at most the operation's median; bad cases failed, had an error
# span or scored below `low_score`. Near-duplicate inputs are collapsed: the
# root input is lower-cased, ids of 8+ hex digits and numbers replaced, and
# punctuation and spacing removed; one case per (operation, label, that
# key) is kept, the best for good (highest score, then cheapest) and the
# worst for bad (failed first, then lowest score), with the others listed.
#
# The root inputs come from a second pass over the root spans only (PREWHERE),
# not from the per-trace pass over every span, and the duplicate key is
# computed for the candidates alone; the operation's median cost is taken
# over the narrow per-trace rows, before the inputs are joined. Measured at
# 10M spans merged (best of 3, same run): 7.2 -> 5.2 s, 3.2x -> 2.5x the
# floor scan; carrying every trace's input through the per-trace GROUP BY and
# the window was 2 s of it.
_EXAMPLES = f"""
SELECT
    operation,
    label,
    argMin((c.trace_id, c.score, c.cost, c.errors, c.failed, c.root_input), c.rank) AS pick,
    pick.1 AS trace_id,
    round(pick.2, 6) AS score,
    round(pick.3, 6) AS cost_usd,
    pick.4 AS errors,
    pick.5 AS failed,
    count() - 1 AS duplicates,
    arraySlice(arrayFilter(x -> x != trace_id, groupArraySorted(4)(c.trace_id)), 1, 3)
        AS duplicate_trace_ids,
    pick.6 AS input_json,
    substring(if(JSONType(input_json) = 'String', JSONExtractString(input_json), input_json),
              1, 160) AS input
FROM
(
    SELECT
        x.tid AS trace_id,
        x.operation AS operation,
        x.failed AS failed,
        x.errors AS errors,
        x.cost AS cost,
        s.score AS score,
        r.root_input AS root_input,
        multiIf(failed OR errors > 0 OR ifNull(score < {{low_score:Float64}}, false), 'bad',
                ifNull(score >= {{good_score:Float64}}, false) AND cost <= x.median_cost, 'good',
                '') AS label,
        if(label = 'good', (-ifNull(score, 0), cost, trace_id),
           (toFloat64(NOT failed), ifNull(score, 1), trace_id)) AS rank
    FROM
    (
        SELECT
            cityHash64(trace_id) AS tk,
            any(trace_id) AS tid,
            argMinIf(name, (start_time, span_id), parent_span_id = '') AS operation,
            maxIf(status = 'error' OR NOT ifNull(outcome_success, true),
                  parent_span_id = '') AS failed,
            countIf(status = 'error') AS errors,
            sum(ifNull(cost_usd, 0)) AS cost,
            quantileExactInclusive(0.5)(cost) OVER (PARTITION BY operation) AS median_cost
        FROM spans FINAL
        WHERE {{trace_filter}}
        GROUP BY tk
        HAVING countIf(parent_span_id = '') > 0
    ) AS x
    LEFT JOIN ({_SCORES}) AS s ON s.tk = x.tk
    LEFT JOIN
    (
        SELECT cityHash64(trace_id) AS tk, argMin(input, (start_time, span_id)) AS root_input
        FROM spans FINAL
        PREWHERE parent_span_id = ''
        WHERE {{trace_filter}}
        GROUP BY tk
    ) AS r ON r.tk = x.tk
    WHERE label != ''
) AS c
GROUP BY
    operation,
    label,
    cityHash64(trimBoth(replaceRegexpAll(replaceRegexpAll(replaceRegexpAll(
        lowerUTF8(c.root_input), '[0-9a-f]{{8,}}', '#'), '[0-9]+', '0'), '[^[:alnum:]#]+', ' ')))
ORDER BY operation, label DESC, min(c.rank)
LIMIT {{top_n:UInt32}} BY operation, label
SETTINGS join_use_nulls = 1
"""

#: Report table key ("report.table") -> SQL; a key without a table name is a
#: multi-table query (:data:`SPLITS`).
FEEDBACK_QUERIES: dict[str, str] = {
    "tools.tools": _TOOLS,
    "tools.error_types": _TOOL_ERRORS,
    "tools.failure_arguments": _TOOL_ARGUMENTS,
    "tools.never_called": _TOOLS_NEVER_CALLED,
    "workflows": _WORKFLOWS,
    "context.retrievals": _RETRIEVALS,
    "context.input_tokens": _INPUT_TOKENS,
    "context.caching": _CACHING,
    "reasoning": _REASONING,
    "examples.candidates": _EXAMPLES,
}
