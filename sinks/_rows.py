"""Row mapping: records from the output topics -> columnar batches for the tables.

Pure functions over the records' JSON form (what the worker publishes, parsed
with orjson), no I/O. The sink does not re-validate with pydantic: the worker
already did, and at 100k rows/s model construction would cost more than the
insert. ClickHouse is the last validator (types, CHECK constraints); a record
that cannot even be mapped (missing field, wrong type, bad timestamp) is
rejected here with the reason and goes to the sink DLQ like any poison row.

Columns follow ``sinks/migrations/0001_tables.sql``; JSON values (inputs,
outputs, tool payloads, attributes) are stored as JSON text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

__all__ = [
    "TABLE_MAPPINGS",
    "MappedBatch",
    "RetentionPolicy",
    "TableMapping",
    "map_records",
    "record_json",
]

_TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_STRS = pa.list_(pa.string())
_MAP = pa.map_(pa.string(), pa.string())


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days to keep a project's rows: a default and per-project overrides."""

    default_days: int = 90
    project_days: Mapping[str, int] = field(default_factory=dict)

    def days(self, project: str) -> int:
        """The retention of ``project``, in days."""
        return self.project_days.get(project, self.default_days)


@dataclass(frozen=True, slots=True)
class MappedBatch:
    """Records mapped to one Arrow table, plus the ones that could not be.

    Attributes:
        table: the good rows, in input order.
        indices: for each row of ``table``, its index in the input.
        rejected: (input index, reason) of each record that could not be mapped.
    """

    table: pa.Table
    indices: list[int]
    rejected: list[tuple[int, str]]


RowFn = Callable[[Mapping[str, Any], RetentionPolicy], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class TableMapping:
    """How one topic's records become rows of one table."""

    table: str
    schema: pa.Schema
    row: RowFn
    timestamp_columns: tuple[str, ...]


def _json(value: Any) -> str:
    return "" if value is None else orjson.dumps(value).decode()


def record_json(record: BaseModel) -> dict[str, Any]:
    """A contract model in the JSON form the sink maps (what travels on Kafka)."""
    parsed: dict[str, Any] = orjson.loads(record.model_dump_json())
    return parsed


# --- spans -----------------------------------------------------------------

_SPAN_SCHEMA = pa.schema(
    [
        ("project", _STR), ("service", _STR), ("environment", _STR),
        ("trace_id", _STR), ("span_id", _STR), ("parent_span_id", _STR),
        ("trace_name", _STR), ("session_id", _STR), ("user_id", _STR),
        ("tags", _STRS), ("release", _STR),
        ("kind", _STR), ("name", _STR), ("status", _STR),
        ("start_time", _STR), ("end_time", _STR), ("duration_ms", pa.float64()),
        ("input", _STR), ("output", _STR),
        ("model", _STR), ("provider", _STR), ("model_parameters", _STR),
        ("tool_name", _STR), ("tool_call_id", _STR), ("tool_arguments", _STR),
        ("tool_result", _STR),
        ("input_tokens", pa.uint64()), ("output_tokens", pa.uint64()),
        ("cached_tokens", pa.uint64()), ("cache_write_tokens", pa.uint64()),
        ("reasoning_tokens", pa.uint64()),
        ("cost_input_usd", pa.float64()), ("cost_output_usd", pa.float64()),
        ("cost_cached_usd", pa.float64()), ("cost_cache_write_usd", pa.float64()),
        ("cost_reasoning_usd", pa.float64()), ("cost_usd", pa.float64()),
        ("price_source", _STR),
        ("error_type", _STR), ("error_message", _STR), ("error_stack", _STR),
        ("outcome_label", _STR), ("outcome_success", pa.bool_()), ("outcome_detail", _STR),
        ("decisions", _STR), ("cpu_time_s", pa.float64()), ("memory_bytes", pa.uint64()),
        ("attributes", _MAP), ("redaction_detectors", _STRS), ("redactions", _STR),
        ("event_ids", _STRS), ("version", pa.uint64()), ("processed_at", _STR),
        ("retention_days", pa.uint16()),
    ]
)  # fmt: skip

_EMPTY: Mapping[str, Any] = {}


def _span_row(r: Mapping[str, Any], retention: RetentionPolicy) -> tuple[Any, ...]:
    trace = r.get("trace") or _EMPTY
    model = r.get("model") or _EMPTY
    tool = r.get("tool") or _EMPTY
    usage = r.get("usage") or _EMPTY
    cost = r.get("cost")
    error = r.get("error") or _EMPTY
    outcome = r.get("outcome") or _EMPTY
    resources = r.get("resources") or _EMPTY
    redactions = r.get("redactions") or ()
    attributes = r.get("attributes") or _EMPTY
    project = r["project"]
    return (
        project, r["service"], r["environment"],
        r["trace_id"], r["span_id"], r.get("parent_span_id") or "",
        trace.get("name") or "", trace.get("session_id") or "", trace.get("user_id") or "",
        trace.get("tags") or [], trace.get("release") or "",
        r["kind"], r["name"], r["status"],
        r["start_time"], r.get("end_time"), r.get("duration_ms"),
        _json(r.get("input")), _json(r.get("output")),
        model.get("name") or "", model.get("provider") or "",
        _json(model.get("parameters")) if model else "",
        tool.get("name") or "", tool.get("call_id") or "",
        _json(tool.get("arguments")), _json(tool.get("result")),
        usage.get("input_tokens", 0), usage.get("output_tokens", 0),
        usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0),
        usage.get("reasoning_tokens", 0),
        cost["input_usd"] if cost else 0.0, cost["output_usd"] if cost else 0.0,
        cost["cached_usd"] if cost else 0.0, cost["cache_write_usd"] if cost else 0.0,
        cost["reasoning_usd"] if cost else 0.0, cost["total_usd"] if cost else None,
        cost.get("price_source", "") if cost else "",
        error.get("type") or "", error.get("message") or "", error.get("stack") or "",
        outcome.get("label") or "", outcome.get("success"), _json(outcome.get("detail")),
        _json(r["decisions"]) if r.get("decisions") else "",
        resources.get("cpu_time_s"), resources.get("memory_bytes"),
        [(k, _json(v)) for k, v in attributes.items()],
        [x["detector"] for x in redactions], _json(redactions) if redactions else "",
        r.get("event_ids") or [], r.get("version", 1), r["processed_at"],
        retention.days(project),
    )  # fmt: skip


# --- traces ----------------------------------------------------------------

_TRACE_SCHEMA = pa.schema(
    [
        ("project", _STR), ("trace_id", _STR), ("environment", _STR), ("services", _STRS),
        ("trace_name", _STR), ("session_id", _STR), ("user_id", _STR), ("tags", _STRS),
        ("release", _STR), ("root_span_id", _STR), ("name", _STR), ("status", _STR),
        ("start_time", _STR), ("end_time", _STR), ("duration_ms", pa.float64()),
        ("span_count", pa.uint32()), ("depth", pa.uint16()),
        ("input_tokens", pa.uint64()), ("output_tokens", pa.uint64()),
        ("cached_tokens", pa.uint64()), ("cache_write_tokens", pa.uint64()),
        ("reasoning_tokens", pa.uint64()),
        ("cost_usd", pa.float64()), ("unpriced_generations", pa.uint32()),
        ("error_count", pa.uint32()), ("tool_call_count", pa.uint32()), ("models", _STRS),
        ("input", _STR), ("output", _STR), ("timeline", _STR),
        ("orphan_span_count", pa.uint32()), ("dropped_span_count", pa.uint32()),
        ("version", pa.uint64()), ("emitted_at", _STR), ("retention_days", pa.uint16()),
    ]
)  # fmt: skip


def _trace_row(r: Mapping[str, Any], retention: RetentionPolicy) -> tuple[Any, ...]:
    trace = r.get("trace") or _EMPTY
    usage = r.get("usage") or _EMPTY
    project = r["project"]
    return (
        project, r["trace_id"], r["environment"], r.get("services") or [],
        trace.get("name") or "", trace.get("session_id") or "", trace.get("user_id") or "",
        trace.get("tags") or [], trace.get("release") or "",
        r.get("root_span_id") or "", r.get("name") or "", r["status"],
        r["start_time"], r.get("end_time"), r.get("duration_ms"),
        r["span_count"], r["depth"],
        usage.get("input_tokens", 0), usage.get("output_tokens", 0),
        usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0),
        usage.get("reasoning_tokens", 0),
        r.get("cost_usd"), r.get("unpriced_generations", 0),
        r.get("error_count", 0), r.get("tool_call_count", 0), r.get("models") or [],
        _json(r.get("input")), _json(r.get("output")), _json(r.get("timeline") or []),
        r.get("orphan_span_count", 0), r.get("dropped_span_count", 0),
        r.get("version", 1), r["emitted_at"], retention.days(project),
    )  # fmt: skip


# --- scores ----------------------------------------------------------------

_SCORE_SCHEMA = pa.schema(
    [
        ("project", _STR), ("service", _STR), ("environment", _STR), ("event_id", _STR),
        ("trace_id", _STR), ("span_id", _STR), ("name", _STR), ("data_type", _STR),
        ("value", pa.float64()), ("string_value", _STR), ("source", _STR), ("comment", _STR),
        ("session_id", _STR), ("user_id", _STR), ("tags", _STRS), ("timestamp", _STR),
        ("retention_days", pa.uint16()),
    ]
)  # fmt: skip


def _score_row(r: Mapping[str, Any], retention: RetentionPolicy) -> tuple[Any, ...]:
    trace = r.get("trace") or _EMPTY
    value = r["value"]
    if isinstance(value, bool):
        data_type, number, text = "boolean", float(value), ""
    elif isinstance(value, int | float):
        data_type, number, text = "numeric", float(value), ""
    elif isinstance(value, str):
        data_type, number, text = "categorical", None, value
    else:
        raise TypeError(f"score value must be a number, boolean or string, not {value!r}")
    project = r["project"]
    return (
        project, r["service"], r.get("environment", "development"), r["event_id"],
        r["trace_id"], r.get("span_id") or "", r["name"], data_type,
        number, text, r.get("source", "api"), r.get("comment") or "",
        trace.get("session_id") or "", trace.get("user_id") or "", trace.get("tags") or [],
        r["timestamp"], retention.days(project),
    )  # fmt: skip


# --- metrics_1m and anomalies ---------------------------------------------

_METRIC_SCHEMA = pa.schema(
    [
        ("project", _STR), ("service", _STR), ("model", _STR), ("kind", _STR), ("name", _STR),
        ("window_start", _STR), ("window_end", _STR), ("count", pa.uint64()),
        ("error_count", pa.uint64()), ("input_tokens", pa.uint64()),
        ("output_tokens", pa.uint64()), ("cached_tokens", pa.uint64()),
        ("reasoning_tokens", pa.uint64()), ("cost_usd", pa.float64()),
        ("latency_p50_ms", pa.float64()), ("latency_p95_ms", pa.float64()),
        ("latency_p99_ms", pa.float64()), ("latency_sketch", _STR), ("emitted_at", _STR),
        ("retention_days", pa.uint16()),
    ]
)  # fmt: skip


def _metric_row(r: Mapping[str, Any], retention: RetentionPolicy) -> tuple[Any, ...]:
    project = r["project"]
    return (
        project, r["service"], r.get("model") or "", r["kind"], r["name"],
        r["window_start"], r["window_end"], r["count"], r["error_count"],
        r.get("input_tokens", 0), r.get("output_tokens", 0), r.get("cached_tokens", 0),
        r.get("reasoning_tokens", 0), r.get("cost_usd", 0.0),
        r.get("latency_p50_ms"), r.get("latency_p95_ms"), r.get("latency_p99_ms"),
        r.get("latency_sketch") or "", r["emitted_at"], retention.days(project),
    )  # fmt: skip


_ANOMALY_SCHEMA = pa.schema(
    [
        ("project", _STR), ("service", _STR), ("model", _STR), ("kind", _STR), ("name", _STR),
        ("metric", _STR), ("window_start", _STR), ("window_end", _STR),
        ("value", pa.float64()), ("baseline", pa.float64()), ("scale", pa.float64()),
        ("score", pa.float64()), ("threshold", pa.float64()), ("direction", _STR),
        ("detected_at", _STR), ("retention_days", pa.uint16()), ("severity", _STR),
    ]
)  # fmt: skip


def _anomaly_row(r: Mapping[str, Any], retention: RetentionPolicy) -> tuple[Any, ...]:
    project = r["project"]
    return (
        project, r["service"], r.get("model") or "", r["kind"], r["name"], r["metric"],
        r["window_start"], r["window_end"], r["value"], r["baseline"], r["scale"],
        r["score"], r["threshold"], r["direction"], r["detected_at"], retention.days(project),
        r.get("severity") or "warning",
    )  # fmt: skip


def _mapping(table: str, schema: pa.Schema, row: RowFn, *ts: str) -> TableMapping:
    return TableMapping(table, schema, row, ts)


#: Topic role (the ``Topics`` attribute) -> how its records become rows.
TABLE_MAPPINGS: dict[str, TableMapping] = {
    "spans": _mapping("spans", _SPAN_SCHEMA, _span_row, "start_time", "end_time", "processed_at"),
    "traces": _mapping("traces", _TRACE_SCHEMA, _trace_row, "start_time", "end_time", "emitted_at"),
    "scores": _mapping("scores", _SCORE_SCHEMA, _score_row, "timestamp"),
    "metrics": _mapping(
        "metrics_1m", _METRIC_SCHEMA, _metric_row, "window_start", "window_end", "emitted_at"
    ),
    "anomalies": _mapping(
        "anomalies",
        _ANOMALY_SCHEMA,
        _anomaly_row,
        "window_start",
        "window_end",
        "detected_at",
    ),
}


def _build(mapping: TableMapping, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Columns from row tuples, with timestamps parsed in Arrow (C++, not Python)."""
    names = mapping.schema.names
    arrays = []
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    for name, values in zip(names, columns, strict=True):
        array = pa.array(values, type=mapping.schema.field(name).type)
        if name in mapping.timestamp_columns:
            array = pc.cast(array, _TS)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=names)


def map_records(
    mapping: TableMapping,
    records: Sequence[Mapping[str, Any]],
    retention: RetentionPolicy,
) -> MappedBatch:
    """Map parsed records to one Arrow table. Pure; never raises for bad records.

    A record that cannot be mapped (a missing field, a wrong type, a value
    out of an Arrow type's range, an unparseable timestamp) is reported in
    ``rejected`` with the reason; the others are mapped. The slow per-row path
    runs only when the fast columnar build fails.
    """
    rows: list[tuple[Any, ...]] = []
    indices: list[int] = []
    rejected: list[tuple[int, str]] = []
    row_fn = mapping.row
    for i, record in enumerate(records):
        try:
            rows.append(row_fn(record, retention))
            indices.append(i)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            rejected.append((i, f"unmappable record: {type(exc).__name__}: {exc}"))
    try:
        return MappedBatch(_build(mapping, rows), indices, rejected)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        first_error = exc
    # Slow path: find the rows Arrow refuses, one by one.
    good_rows: list[tuple[Any, ...]] = []
    good_indices: list[int] = []
    for i, row in zip(indices, rows, strict=True):
        try:
            _build(mapping, [row])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            rejected.append((i, f"unmappable record: {type(exc).__name__}: {exc}"))
            continue
        good_rows.append(row)
        good_indices.append(i)
    if len(good_rows) == len(rows):  # pragma: no cover - the batch failed as a whole
        raise first_error
    rejected.sort()
    return MappedBatch(_build(mapping, good_rows), good_indices, rejected)
