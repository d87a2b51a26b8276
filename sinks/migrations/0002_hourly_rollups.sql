-- Hourly rollups of spans by project, service, model and kind, kept up to
-- date by a materialized view at insert time, so dashboards and `analyze`
-- over weeks read thousands of rows instead of millions.
--
-- AggregatingMergeTree with aggregate *states*: an hour's latency
-- quantiles merge exactly across parts and inserts (quantilesTDigest state),
-- sums merge as sums. Read with quantilesTDigestMerge(...)(latency) and sum().
--
-- Caveat, by design: the view sees every inserted block. Replays with the
-- same dedup token are dropped before the view
-- (deduplicate_blocks_in_dependent_materialized_views=1 on every insert),
-- but a span the worker re-emits with a higher version counts twice here
-- while `spans FINAL` counts it once. Exact numbers come from `spans FINAL`.

CREATE TABLE IF NOT EXISTS spans_hourly
(
    project         LowCardinality(String),
    hour            DateTime('UTC'),
    service         LowCardinality(String),
    model           LowCardinality(String),
    kind            LowCardinality(String),
    spans           SimpleAggregateFunction(sum, UInt64),
    errors          SimpleAggregateFunction(sum, UInt64),
    input_tokens    SimpleAggregateFunction(sum, UInt64),
    output_tokens   SimpleAggregateFunction(sum, UInt64),
    cached_tokens   SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd        SimpleAggregateFunction(sum, Float64),
    latency_ms      AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(Float64)),
    retention_days  SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project, hour, service, model, kind)
TTL hour + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS spans_hourly_mv TO spans_hourly AS
SELECT
    project,
    toStartOfHour(start_time) AS hour,
    service,
    model,
    kind,
    count() AS spans,
    countIf(status = 'error') AS errors,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(ifNull(cost_usd, 0)) AS cost_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS latency_ms,
    max(retention_days) AS retention_days
FROM spans
GROUP BY project, hour, service, model, kind;
