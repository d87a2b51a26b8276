"""Migration 0003: anomalies carry a severity; rows without one read 'warning'."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracestream.schemas import AnomalyRecord, SpanKind
from tracestream.sinks import TABLE_MAPPINGS, ChdbStorage, RetentionPolicy, map_records, record_json

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_severity_is_stored_and_defaults_to_warning(chdb_storage: ChdbStorage) -> None:
    anomalies = [
        AnomalyRecord(
            project="p",
            service="a",
            kind=SpanKind.GENERATION,
            name=name,
            metric="latency_p95_ms",
            window_start=T0,
            window_end=T0,
            value=900,
            baseline=100,
            scale=10,
            score=score,
            threshold=4,
            direction="high",
            detected_at=T0,
            severity=severity,
        )
        for name, score, severity in [("w", 5.0, "warning"), ("c", 80.0, "critical")]
    ]
    mapping = TABLE_MAPPINGS["anomalies"]
    batch = map_records(mapping, [record_json(a) for a in anomalies], RetentionPolicy())
    chdb_storage.insert("anomalies", batch.table, dedup_token="severity")
    # A row written without the column (an older sink) gets the default.
    chdb_storage.insert("anomalies", batch.table.drop(["severity"]).slice(0, 1), dedup_token="old")
    rows = chdb_storage.query("SELECT name, severity FROM anomalies ORDER BY name, severity").rows
    assert rows == [("c", "critical"), ("w", "warning"), ("w", "warning")]
