"""The public surface of each package changes only on purpose (httpx's habit)."""

from __future__ import annotations

import importlib

import pytest

pytestmark = pytest.mark.unit

SCHEMAS = [
    "AnomalyRecord", "Cost", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_EVENT_BYTES", "Decision",
    "EVENT_ADAPTER", "GENAI_OPERATION", "from_genai_usage", "to_genai_attributes", "Envelope", "ErrorInfo", "Event", "EventParser", "InvalidEvent",
    "InvalidReason", "MetricWindow", "ModelInfo", "Outcome", "Redaction", "Resources",
    "SCHEMA_FILE", "SCHEMA_VERSION", "ScoreEvent", "ScoreSource", "SpanEndEvent", "SpanEvent",
    "SpanKind", "SpanRecord", "SpanStartEvent", "SpanStatus", "TimelineEntry", "ToolCall",
    "Topics", "TraceInfo", "TraceRecord", "TraceStatus", "Usage", "event_json_schema",
    "render_event_json_schema", "utc_now",
]  # fmt: skip


STREAMS = ['AnomalyScorer', 'Assembler', 'AssemblyOutput', 'BUILTIN_DETECTORS', 'BaselineState', 'Detector', 'Finding', 'Mode', 'PriceOverride', 'Pricer', 'Quote', 'RedactionConfigError', 'RedactionPolicy', 'Redactor', 'SketchBins', 'TraceState', 'WindowAggregator', 'WindowState', 'merge_windows']  # fmt: skip

SINKS = ['ChdbStorage', 'DeadLetter', 'INSERT_SETTINGS', 'KafkaRow', 'MappedBatch', 'Migration', 'MigrationError', 'QueryResult', 'RetentionPolicy', 'ServerStorage', 'Sink', 'SinkConfig', 'SinkMetrics', 'Storage', 'StorageError', 'StorageQueryError', 'StorageRejected', 'StorageUnavailable', 'TABLE_MAPPINGS', 'TableMapping', 'apply_migrations', 'chdb_path', 'load_migrations', 'make_storage', 'map_records', 'record_json', 'sample_span_records', 'split_statements', 'write_block']  # fmt: skip


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("tracestream.schemas", SCHEMAS),
        ("tracestream.streams", STREAMS),
        ("tracestream.sinks", SINKS),
    ],
)
def test_exported_members(module: str, expected: list[str]) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(expected)
    for name in mod.__all__:
        assert hasattr(mod, name), name
