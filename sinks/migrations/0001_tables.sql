-- The five projection tables. Rebuildable: the Kafka topics are the source of
-- truth; these are projections (ARCHITECTURE.md). Statements end with ';' at
-- the end of a line; full-line comments are not sent to the engine.
--
-- Shared choices, explained once:
-- * ReplacingMergeTree(version): rows are immutable events keyed by their ids.
--   A replay or a re-emitted span (a late end, a worker retry) lands on the
--   same sorting key and merges down to the highest version; queries that
--   must be exact use FINAL. No UPDATE, no DELETE, no join at query time.
-- * ORDER BY project first (every query is per tenant), then a coarse time
--   bucket (time range filters prune granules without a per-row timestamp in
--   the key), then the trace (a trace's rows sit together). The key is also
--   the dedup key, so it holds only values a re-emit never changes.
-- * PARTITION BY month: few partitions (parts limits), cheap TTL drops.
-- * TTL per row from `retention_days`, which the sink fills from the
--   per-project policy (settings `retention_days` and
--   `sink_project_retention_days`), so changing a policy needs no ALTER.
-- * LowCardinality(String) for names with few distinct values (dictionary
--   encoding: smaller and faster GROUP BY); plain String for ids.
-- * DateTime64(6, 'UTC'): microseconds, as the contract; Delta+ZSTD codecs
--   because timestamps in a sorted part are close together.
-- * Large text (inputs, outputs, stacks, tool payloads) is JSON text under
--   ZSTD(3): compresses ~5-10x, still readable with JSONExtract*.
-- * non_replicated_deduplication_window: insert deduplication by token on a
--   non-replicated MergeTree only works when it is > 0 (it is 0 by default).
--   1,000 tokens cover hours of our ~1 insert/s/table.

CREATE TABLE IF NOT EXISTS spans
(
    project         LowCardinality(String),
    service         LowCardinality(String),
    environment     LowCardinality(String),
    trace_id        String,
    span_id         String,
    parent_span_id  String,
    -- Trace-level attributes denormalized onto every span: the common
    -- filters (session, user, tag, release) need no join with `traces`.
    trace_name      LowCardinality(String),
    session_id      String,
    user_id         String,
    tags            Array(LowCardinality(String)),
    release         LowCardinality(String),
    kind            LowCardinality(String),
    name            LowCardinality(String),
    status          LowCardinality(String),
    start_time      DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    end_time        Nullable(DateTime64(6, 'UTC')) CODEC(Delta, ZSTD(1)),
    -- Nullable: an unfinished span has no duration, and 0 would skew quantiles
    -- (quantile functions skip NULLs).
    duration_ms     Nullable(Float64),
    input           String CODEC(ZSTD(3)),
    output          String CODEC(ZSTD(3)),
    model           LowCardinality(String),
    provider        LowCardinality(String),
    model_parameters String CODEC(ZSTD(3)),
    tool_name       LowCardinality(String),
    tool_call_id    String,
    tool_arguments  String CODEC(ZSTD(3)),
    tool_result     String CODEC(ZSTD(3)),
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_tokens       UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    cost_input_usd       Float64,
    cost_output_usd      Float64,
    cost_cached_usd      Float64,
    cost_cache_write_usd Float64,
    cost_reasoning_usd   Float64,
    -- NULL: not priced (not a generation, or an unknown model), which is not
    -- the same as free.
    cost_usd        Nullable(Float64),
    price_source    LowCardinality(String),
    error_type      LowCardinality(String),
    error_message   String CODEC(ZSTD(3)),
    error_stack     String CODEC(ZSTD(3)),
    outcome_label   LowCardinality(String),
    outcome_success Nullable(Bool),
    outcome_detail  String CODEC(ZSTD(3)),
    decisions       String CODEC(ZSTD(3)),
    cpu_time_s      Nullable(Float64),
    memory_bytes    Nullable(UInt64),
    -- Free-form attributes: keys are few and repeat (LowCardinality), values
    -- are JSON text so any JSON value round-trips; Map keeps `attributes['k']`
    -- cheap without the schema churn of the JSON type.
    attributes      Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    redaction_detectors Array(LowCardinality(String)),
    redactions      String CODEC(ZSTD(3)),
    event_ids       Array(String) CODEC(ZSTD(3)),
    version         UInt64,
    processed_at    DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    retention_days  UInt16 DEFAULT 90,
    inserted_at     DateTime DEFAULT now() CODEC(Delta, ZSTD(1)),

    -- Full-text search over inputs, outputs and errors without scanning
    -- every granule: ClickHouse's text (inverted) index, GA in 26.x, answers
    -- hasToken / hasAnyTokens / LIKE '%word%' from posting lists.
    INDEX idx_input input TYPE text(tokenizer = splitByNonAlpha) GRANULARITY 1,
    INDEX idx_output output TYPE text(tokenizer = splitByNonAlpha) GRANULARITY 1,
    INDEX idx_error error_message TYPE text(tokenizer = splitByNonAlpha) GRANULARITY 1,
    -- Point lookups by id that the sort key does not serve (a trace without
    -- its time, a session, a user): bloom filters skip granules at 1% false
    -- positives.
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_tags tags TYPE bloom_filter(0.01) GRANULARITY 4,
    -- The contract says 32/16 hex; a row that breaks it is a poison row: the
    -- insert fails, the sink splits the batch and sends that row to the DLQ.
    CONSTRAINT trace_id_is_hex CHECK match(trace_id, '^[0-9a-f]{32}$'),
    CONSTRAINT span_id_is_hex CHECK match(span_id, '^[0-9a-f]{16}$')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(start_time)
-- Hour bucket: a span's start never changes between versions, so the bucket
-- is stable; an hour is coarse enough for the primary index to stay small
-- and fine enough to prune "last hour" queries.
ORDER BY (project, toStartOfHour(start_time), trace_id, span_id)
TTL toDateTime(start_time) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 8192;

CREATE TABLE IF NOT EXISTS traces
(
    project         LowCardinality(String),
    trace_id        String,
    environment     LowCardinality(String),
    services        Array(LowCardinality(String)),
    trace_name      LowCardinality(String),
    session_id      String,
    user_id         String,
    tags            Array(LowCardinality(String)),
    release         LowCardinality(String),
    root_span_id    String,
    name            LowCardinality(String),
    status          LowCardinality(String),
    start_time      DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    end_time        Nullable(DateTime64(6, 'UTC')) CODEC(Delta, ZSTD(1)),
    duration_ms     Nullable(Float64),
    span_count      UInt32,
    depth           UInt16,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_tokens       UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    cost_usd        Nullable(Float64),
    unpriced_generations UInt32,
    error_count     UInt32,
    tool_call_count UInt32,
    models          Array(LowCardinality(String)),
    input           String CODEC(ZSTD(3)),
    output          String CODEC(ZSTD(3)),
    -- The span tree as JSON: read whole when a trace is opened, never filtered.
    timeline        String CODEC(ZSTD(3)),
    orphan_span_count  UInt32,
    dropped_span_count UInt32,
    version         UInt64,
    emitted_at      DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    retention_days  UInt16 DEFAULT 90,
    inserted_at     DateTime DEFAULT now() CODEC(Delta, ZSTD(1)),

    INDEX idx_input input TYPE text(tokenizer = splitByNonAlpha) GRANULARITY 1,
    INDEX idx_output output TYPE text(tokenizer = splitByNonAlpha) GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_tags tags TYPE bloom_filter(0.01) GRANULARITY 4,
    CONSTRAINT trace_id_is_hex CHECK match(trace_id, '^[0-9a-f]{32}$')
)
-- Re-emitted with a higher version when late spans arrive: the newest wins.
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(start_time)
-- Day bucket, not hour: a straggler that started before the root could move
-- a re-emitted trace's start a little; a day makes a bucket change (and so a
-- duplicate key) rare. FINAL plus argMax by version is the exact read.
ORDER BY (project, toStartOfDay(start_time), trace_id)
TTL toDateTime(start_time) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS scores
(
    project         LowCardinality(String),
    service         LowCardinality(String),
    environment     LowCardinality(String),
    event_id        String,
    trace_id        String,
    -- Empty for a score on the whole trace.
    span_id         String,
    name            LowCardinality(String),
    -- One value column per type, so numeric scores aggregate without parsing:
    -- numeric -> value; boolean -> value 0/1 and bool_value; categorical ->
    -- string_value (value NULL).
    data_type       LowCardinality(String),
    value           Nullable(Float64),
    string_value    LowCardinality(String),
    source          LowCardinality(String),
    comment         String CODEC(ZSTD(3)),
    session_id      String,
    user_id         String,
    tags            Array(LowCardinality(String)),
    timestamp       DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    retention_days  UInt16 DEFAULT 90,
    inserted_at     DateTime DEFAULT now() CODEC(Delta, ZSTD(1)),

    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    CONSTRAINT trace_id_is_hex CHECK match(trace_id, '^[0-9a-f]{32}$')
)
-- A score event is immutable and keyed by its event id: replacing only
-- removes replays of the same event (no version: any copy will do).
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project, toStartOfDay(timestamp), trace_id, event_id)
TTL toDateTime(timestamp) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS metrics_1m
(
    project         LowCardinality(String),
    service         LowCardinality(String),
    model           LowCardinality(String),
    kind            LowCardinality(String),
    name            LowCardinality(String),
    window_start    DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    window_end      DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    count           UInt64,
    error_count     UInt64,
    input_tokens    UInt64,
    output_tokens   UInt64,
    cached_tokens   UInt64,
    reasoning_tokens UInt64,
    cost_usd        Float64,
    latency_p50_ms  Nullable(Float64),
    latency_p95_ms  Nullable(Float64),
    latency_p99_ms  Nullable(Float64),
    -- The worker's mergeable sketch (base64): windows and partitions merge
    -- exactly when decoded by the analytics code.
    latency_sketch  String CODEC(ZSTD(3)),
    emitted_at      DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    retention_days  UInt16 DEFAULT 90,
    inserted_at     DateTime DEFAULT now() CODEC(Delta, ZSTD(1))
)
-- One row per window and key; a re-emitted window (restart, replay) replaces
-- the earlier one by emission time.
ENGINE = ReplacingMergeTree(emitted_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (project, toStartOfHour(window_start), service, model, kind, name, window_start)
TTL toDateTime(window_start) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS anomalies
(
    project         LowCardinality(String),
    service         LowCardinality(String),
    model           LowCardinality(String),
    kind            LowCardinality(String),
    name            LowCardinality(String),
    metric          LowCardinality(String),
    window_start    DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    window_end      DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    value           Float64,
    baseline        Float64,
    scale           Float64,
    score           Float64,
    threshold       Float64,
    direction       LowCardinality(String),
    detected_at     DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    retention_days  UInt16 DEFAULT 90,
    inserted_at     DateTime DEFAULT now() CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(window_start)
-- Day bucket: anomalies are rare; the key identifies one metric of one window.
ORDER BY (project, toStartOfDay(window_start), service, model, kind, name, metric, window_start)
TTL toDateTime(window_start) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000;
