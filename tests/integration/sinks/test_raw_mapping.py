"""The spans SQL mapping (ClickHouse parses the records) stores what the Python mapping stores."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    RetentionPolicy,
    StorageRejected,
    map_records,
    sample_span_records,
)
from tracestream.sinks._raw_sql import SPANS_SELECT, UNMAPPABLE, raw_table, retention_params

pytestmark = pytest.mark.integration

# Long enough that TTL (from the 2026-11-01 sample dates) never drops rows mid-test.
POLICY = RetentionPolicy(3650, {"demo": 3000})
COLUMNS = TABLE_MAPPINGS["spans"].schema.names


def _edge_records() -> list[dict[str, Any]]:
    records = sample_span_records(300, seed=11)
    extra = sample_span_records(6, seed=12, project="other")
    extra[0]["input"] = 'a bare string input with "quotes" and é'
    extra[0]["output"] = None
    extra[1]["attributes"] = {"s": "x", "n": 2, "f": 0.5, "z": None, "o": {"k": [1, "b"]}}
    extra[1]["decisions"] = [{"rule": "mask", "ok": True}]
    extra[1]["redactions"] = [{"detector": "email", "count": 2}, {"detector": "phone"}]
    extra[2]["outcome"] = {"label": "resolved", "success": True, "detail": {"why": "ok"}}
    extra[2]["resources"] = {"cpu_time_s": 0.25, "memory_bytes": 1024}
    extra[3]["end_time"] = None
    extra[3]["duration_ms"] = None
    extra[3]["parent_span_id"] = None
    extra[3]["trace"] = None
    extra[4]["error"] = {"type": "ValueError", "message": "bad", "stack": "line 1"}
    extra[4]["status"] = "error"
    extra[5]["start_time"] = "2026-11-01T02:00:00.5+02:00"
    extra[5]["version"] = 3
    extra[5]["event_ids"] = ["e1", "e2"]
    return records + extra


def _rows(storage: ChdbStorage) -> list[dict[str, Any]]:
    rows = storage.query("SELECT * EXCEPT inserted_at FROM spans ORDER BY span_id").dicts()
    for row in rows:  # JSON text: equivalent JSON, ClickHouse may write numbers differently
        for name in ("input", "output", "tool_arguments", "tool_result", "decisions", "redactions",
                     "outcome_detail", "model_parameters"):  # fmt: skip
            row[name] = json.loads(row[name]) if row[name] else row[name]
        row["attributes"] = {k: json.loads(v) if v else v for k, v in row["attributes"].items()}
    return rows


def test_sql_mapping_equals_python_mapping(chdb_storage: ChdbStorage) -> None:
    records = _edge_records()
    source = raw_table([orjson.dumps(r) for r in records])
    stored = chdb_storage.insert_select(
        "spans", COLUMNS, SPANS_SELECT, source, params=retention_params(POLICY), dedup_token="a"
    )
    assert stored == len(records)
    from_sql = _rows(chdb_storage)
    chdb_storage.command("TRUNCATE TABLE spans")
    mapped = map_records(TABLE_MAPPINGS["spans"], records, POLICY)
    assert mapped.rejected == []
    chdb_storage.insert("spans", mapped.table, dedup_token="b")
    from_python = _rows(chdb_storage)
    assert len(from_sql) == len(records)
    assert from_sql == from_python


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.pop("trace_id"), "required field"),
        (lambda r: r.update(start_time="yesterday"), "timestamp"),
        (lambda r: r.update(version=-1), "negative version"),
    ],
)
def test_unmappable_records_fail_the_statement(
    chdb_storage: ChdbStorage, change: Any, reason: str
) -> None:
    good, bad = sample_span_records(2, seed=4)
    change(bad)
    source = raw_table([orjson.dumps(good), orjson.dumps(bad)])
    with pytest.raises(StorageRejected) as info:
        chdb_storage.insert_select(
            "spans", COLUMNS, SPANS_SELECT, source, params=retention_params(POLICY)
        )
    assert UNMAPPABLE in str(info.value) and reason in str(info.value)
    assert chdb_storage.query("SELECT count() FROM spans").scalar() == 0
    invalid = raw_table([b"{not json"])
    with pytest.raises(StorageRejected, match="invalid JSON"):
        chdb_storage.insert_select(
            "spans", COLUMNS, SPANS_SELECT, invalid, params=retention_params(POLICY)
        )
