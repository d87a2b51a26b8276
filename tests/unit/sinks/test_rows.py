"""Row mapping: records in their wire JSON form -> Arrow columns of the tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from tracestream.schemas import (
    AnomalyRecord,
    MetricWindow,
    ScoreEvent,
    SpanKind,
    SpanRecord,
    TraceRecord,
)
from tracestream.sinks import (
    TABLE_MAPPINGS,
    RetentionPolicy,
    map_records,
    record_json,
    sample_span_records,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 24, 7, 30, 0, 123456, tzinfo=UTC)
TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


def test_sample_records_are_valid_span_records() -> None:
    for record in sample_span_records(200, seed=3):
        SpanRecord.model_validate(record)


def test_span_columns_from_a_generation() -> None:
    record = SpanRecord.model_validate(sample_span_records(2, seed=1)[1])
    batch = map_records(TABLE_MAPPINGS["spans"], [record_json(record)], RetentionPolicy(30))
    assert batch.rejected == []
    row = batch.table.to_pylist()[0]
    assert row["trace_id"] == record.trace_id
    assert row["kind"] == "generation"
    assert record.model is not None and record.usage is not None and record.cost is not None
    assert row["model"] == record.model.name
    assert row["input_tokens"] == record.usage.input_tokens
    assert row["cost_usd"] == pytest.approx(record.cost.total_usd)
    assert row["start_time"] == record.start_time
    assert row["parent_span_id"] == record.parent_span_id
    assert row["session_id"] == record.trace.session_id
    assert row["tags"] == ["bench"]
    assert row["attributes"] == [("region", '"eu-west-1"'), ("attempt", "1")]
    assert row["input"].startswith('{"messages":')
    assert row["retention_days"] == 30
    assert batch.table.schema.field("start_time").type == pa.timestamp("us", tz="UTC")


def test_retention_per_project() -> None:
    policy = RetentionPolicy(90, {"demo": 7})
    records = sample_span_records(2, project="demo") + sample_span_records(1, project="other")
    table = map_records(TABLE_MAPPINGS["spans"], records, policy).table
    assert table.column("retention_days").to_pylist() == [7, 7, 90]


def test_bad_records_are_rejected_with_a_reason_and_the_rest_mapped() -> None:
    good, missing, bad_time, negative = sample_span_records(4)
    del missing["trace_id"]
    bad_time["start_time"] = "yesterday"
    negative["version"] = -1
    batch = map_records(
        TABLE_MAPPINGS["spans"], [good, missing, bad_time, negative], RetentionPolicy()
    )
    assert batch.indices == [0]
    assert [i for i, _ in batch.rejected] == [1, 2, 3]
    assert "KeyError" in batch.rejected[0][1]
    assert batch.table.num_rows == 1


@pytest.mark.parametrize(
    ("value", "data_type", "number", "text"),
    [
        (0.75, "numeric", 0.75, ""),
        (True, "boolean", 1.0, ""),
        ("good", "categorical", None, "good"),
    ],
)
def test_score_value_types(value: object, data_type: str, number: float | None, text: str) -> None:
    score = ScoreEvent(
        event_id="01936b2e-1f00-7000-8000-000000000001",
        event_type="score",
        project="p",
        service="s",
        trace_id=TRACE,
        timestamp=T0,
        name="helpful",
        value=value,  # type: ignore[arg-type]
    )
    row = map_records(TABLE_MAPPINGS["scores"], [record_json(score)], RetentionPolicy()).table
    got = row.to_pylist()[0]
    assert (got["data_type"], got["value"], got["string_value"]) == (data_type, number, text)
    assert got["span_id"] == ""


def test_trace_metric_anomaly_records_map() -> None:
    trace = TraceRecord(
        project="p", trace_id=TRACE, environment="prod", services=("a", "b"), status="ok",
        start_time=T0, span_count=3, depth=2, root_span_id=SPAN, cost_usd=0.5, emitted_at=T0,
    )  # fmt: skip
    window = MetricWindow(
        project="p", service="a", kind=SpanKind.GENERATION, name="chat", window_start=T0,
        window_end=T0, count=10, error_count=1, latency_p95_ms=120.0, emitted_at=T0,
    )  # fmt: skip
    anomaly = AnomalyRecord(
        project="p", service="a", kind=SpanKind.GENERATION, name="chat",
        metric="latency_p95_ms", window_start=T0, window_end=T0, value=900, baseline=100,
        scale=10, score=80, threshold=6, direction="high", detected_at=T0,
    )  # fmt: skip
    for role, record, checks in [
        ("traces", trace, {"services": ["a", "b"], "cost_usd": 0.5, "span_count": 3}),
        ("metrics", window, {"count": 10, "latency_p95_ms": 120.0, "model": ""}),
        ("anomalies", anomaly, {"metric": "latency_p95_ms", "score": 80.0, "severity": "warning"}),
        (
            "anomalies",
            anomaly.model_copy(update={"severity": "critical"}),
            {"severity": "critical"},
        ),
    ]:
        batch = map_records(TABLE_MAPPINGS[role], [record_json(record)], RetentionPolicy())
        assert batch.rejected == [], role
        row = batch.table.to_pylist()[0]
        for key, expected in checks.items():
            assert row[key] == expected, (role, key)
