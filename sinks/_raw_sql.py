"""Records -> rows inside ClickHouse: the sink's fast path for the spans table.

The sink hands ClickHouse the records' raw bytes as a one-column table
(``raw``) and one ``INSERT ... SELECT <mapping> FROM <source>`` turns them
into rows: ClickHouse parses the JSON (simdjson, in C++) instead of Python
(``orjson.loads`` + per-row mapping cost ~15-30 us per span, mostly garbage
collection; ClickHouse parses a span in ~1.5 us). The source is the only
thing that differs between engines: ``Python(<arrow table>)`` on chDB,
``input('raw String')`` with an Arrow body on a server. The SELECT text is
the same on both.

The mapping is the SQL twin of ``_span_row`` in :mod:`._rows` (same columns,
same defaults: a missing or null optional value is ``''``/``0``/``NULL``
exactly as there). JSON-valued fields (input, output, tool payloads,
attributes, ...) are stored as JSON text re-serialized by ClickHouse:
equivalent JSON, not always byte-identical to orjson (``1e-05`` is written
``0.00001``).

Poison rows: a record that cannot be mapped (invalid JSON, a required field
missing or not a string, an unparseable timestamp, a negative version) fails
the whole statement through ``throwIf`` with a message starting with
:data:`UNMAPPABLE`; ClickHouse's own refusals (CHECK constraints, ...) fail it
too. The writer splits the block until the poison row is alone (see
:mod:`._writer`) and tells the two apart by that prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import pyarrow as pa

from ._rows import RetentionPolicy

__all__ = ["RAW_SELECTS", "SOURCE", "SPANS_SELECT", "UNMAPPABLE", "raw_table", "retention_params"]

#: Prefix of the ``throwIf`` messages: the record could not become a row.
UNMAPPABLE = "unmappable record"

# One parse for every scalar field: JSONExtract into a named Tuple. Required
# fields are Nullable so "missing" is visible; optional ones take the type's
# default, which is what ``x or ''`` / ``get(k, 0)`` give in _span_row.
_SPAN_TUPLE = (
    "Tuple(project Nullable(String), service Nullable(String), environment Nullable(String), "
    "trace_id Nullable(String), span_id Nullable(String), parent_span_id String, "
    "trace Tuple(name String, session_id String, user_id String, tags Array(String), "
    "release String), "
    "kind Nullable(String), name Nullable(String), status Nullable(String), "
    "start_time Nullable(String), end_time Nullable(String), duration_ms Nullable(Float64), "
    "model Tuple(name String, provider String), tool Tuple(name String, call_id String), "
    "usage Tuple(input_tokens UInt64, output_tokens UInt64, cached_tokens UInt64, "
    "cache_write_tokens UInt64, reasoning_tokens UInt64), "
    "cost Tuple(input_usd Float64, output_usd Float64, cached_usd Float64, "
    "cache_write_usd Float64, reasoning_usd Float64, total_usd Nullable(Float64), "
    "price_source String), "
    "error Tuple(type String, message String, stack String), "
    "outcome Tuple(label String, success Nullable(Bool)), "
    "resources Tuple(cpu_time_s Nullable(Float64), memory_bytes Nullable(UInt64)), "
    "event_ids Array(String), version Nullable(Int64), processed_at Nullable(String))"
)

#: Where the mapping reads from: the engine replaces it with its source of
#: ``raw`` (``Python(...)`` on chDB, ``input('raw String')`` on a server).
SOURCE = "$source"

#: The spans mapping, reading ``raw`` from :data:`SOURCE`.
#: Invalid JSON extracts as all NULLs, so only a record without a project is
#: checked with ``isValidJSON`` (a third parse of every record was ~6% of the
#: mapping's CPU); the messages are the same as checking every record.
#: Parameters: ``retention_projects`` / ``retention_days`` (the per-project
#: overrides) and ``retention_default`` (see :func:`retention_params`).
SPANS_SELECT = f"""WITH
    JSONExtract(raw, '{_SPAN_TUPLE}') AS r,
    -- Second parse: the top-level values as JSON text (inputs, outputs, ...).
    CAST(JSONExtractKeysAndValuesRaw(raw), 'Map(String, String)') AS top,
    top['model'] AS model_raw, top['tool'] AS tool_raw, top['redactions'] AS redactions_raw,
    parseDateTime64BestEffortOrNull(r.start_time, 6, 'UTC') AS start_ts,
    parseDateTime64BestEffortOrNull(r.end_time, 6, 'UTC') AS end_ts,
    parseDateTime64BestEffortOrNull(r.processed_at, 6, 'UTC') AS processed_ts
SELECT
    assumeNotNull(r.project) AS project, assumeNotNull(r.service),
    assumeNotNull(r.environment), assumeNotNull(r.trace_id), assumeNotNull(r.span_id),
    r.parent_span_id,
    r.trace.name, r.trace.session_id, r.trace.user_id, r.trace.tags, r.trace.release,
    assumeNotNull(r.kind), assumeNotNull(r.name), assumeNotNull(r.status),
    assumeNotNull(start_ts), end_ts, r.duration_ms,
    if(top['input'] = 'null', '', top['input']),
    if(top['output'] = 'null', '', top['output']),
    r.model.name, r.model.provider,
    if(model_raw IN ('', 'null'), '', nullIf(JSONExtractRaw(model_raw, 'parameters'), 'null')),
    r.tool.name, r.tool.call_id,
    if(tool_raw IN ('', 'null'), '', nullIf(JSONExtractRaw(tool_raw, 'arguments'), 'null')),
    if(tool_raw IN ('', 'null'), '', nullIf(JSONExtractRaw(tool_raw, 'result'), 'null')),
    r.usage.input_tokens, r.usage.output_tokens, r.usage.cached_tokens,
    r.usage.cache_write_tokens, r.usage.reasoning_tokens,
    r.cost.input_usd, r.cost.output_usd, r.cost.cached_usd, r.cost.cache_write_usd,
    r.cost.reasoning_usd, r.cost.total_usd, r.cost.price_source,
    r.error.type, r.error.message, r.error.stack,
    r.outcome.label, r.outcome.success,
    if(top['outcome'] IN ('', 'null'), '',
       nullIf(JSONExtractRaw(top['outcome'], 'detail'), 'null')),
    if(top['decisions'] IN ('', 'null', '[]', '{{}}'), '', top['decisions']),
    r.resources.cpu_time_s, r.resources.memory_bytes,
    CAST(arrayMap(kv -> (kv.1, if(kv.2 = 'null', '', kv.2)),
                  JSONExtractKeysAndValuesRaw(top['attributes'])), 'Map(String, String)'),
    arrayMap(x -> JSONExtractString(x, 'detector'), JSONExtractArrayRaw(redactions_raw)),
    if(redactions_raw IN ('', 'null', '[]'), '', redactions_raw),
    r.event_ids, ifNull(r.version, 1), assumeNotNull(processed_ts),
    transform(project, {{retention_projects:Array(String)}}, {{retention_days:Array(UInt16)}},
              {{retention_default:UInt16}})
FROM {SOURCE}
WHERE throwIf(r.project IS NULL AND NOT isValidJSON(raw), '{UNMAPPABLE}: invalid JSON') = 0
  AND throwIf(r.project IS NULL OR r.service IS NULL OR r.environment IS NULL
              OR r.trace_id IS NULL OR r.span_id IS NULL OR r.kind IS NULL OR r.name IS NULL
              OR r.status IS NULL OR r.start_time IS NULL OR r.processed_at IS NULL,
              '{UNMAPPABLE}: a required field is missing or not a string') = 0
  AND throwIf(start_ts IS NULL OR processed_ts IS NULL
              OR (r.end_time IS NOT NULL AND end_ts IS NULL),
              '{UNMAPPABLE}: unparseable timestamp') = 0
  AND throwIf(ifNull(r.version, 1) < 0, '{UNMAPPABLE}: negative version') = 0"""

#: Table -> the SELECT that maps its raw records. Tables not listed (traces,
#: scores, metrics, anomalies: a few rows per second) use the Python mapping.
RAW_SELECTS: dict[str, str] = {"spans": SPANS_SELECT}


def raw_table(values: Sequence[bytes]) -> pa.Table:
    """The records' bytes as a one-column Arrow table, with no per-row Python object.

    One ``join`` and one offsets array: ~0.6 us per record, where
    ``pa.array(values)`` costs 3-9 us on a busy machine.
    """
    import array

    data = b"".join(values)
    # 32-bit offsets unless the batch holds 2 GiB or more of records.
    large = len(data) >= 2**31
    offsets = array.array("q" if large else "i", accumulate(map(len, values), initial=0))
    column = pa.Array.from_buffers(
        pa.large_binary() if large else pa.binary(),
        len(values),
        [None, pa.py_buffer(offsets), pa.py_buffer(data)],
    )
    return pa.Table.from_arrays([column], schema=pa.schema([pa.field("raw", column.type, False)]))


def retention_params(retention: RetentionPolicy) -> dict[str, object]:
    """The retention policy as the mapping's query parameters."""
    projects = sorted(retention.project_days)
    return {
        "retention_projects": projects,
        "retention_days": [retention.project_days[p] for p in projects],
        "retention_default": retention.default_days,
    }
