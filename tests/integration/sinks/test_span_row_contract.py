"""The spans SQL mapping stores every field of SpanRecord as the Python mapping does.

The records are a span record with every field of the model filled in, and one
copy per leaf field with that leaf changed (``tests/unit/_contract.py`` reads
both off SpanRecord): a field the SQL twin forgets, or maps differently, makes
the two tables differ on that copy's row.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.unit import _contract
from tracestream.schemas import SpanRecord
from tracestream.sinks import (
    TABLE_MAPPINGS,
    ChdbStorage,
    RetentionPolicy,
    map_records,
    sample_span_records,
)
from tracestream.sinks._raw_sql import SPANS_SELECT, raw_table, retention_params

pytestmark = pytest.mark.integration

POLICY = RetentionPolicy(3650)
COLUMNS = TABLE_MAPPINGS["spans"].schema.names
_JSON_COLUMNS = (
    "input", "output", "tool_arguments", "tool_result", "decisions", "redactions",
    "outcome_detail", "model_parameters",
)  # fmt: skip


def _records() -> list[dict[str, Any]]:
    full = _contract.full_span_record(sample_span_records(1, seed=4)[0])
    records = [full]
    for path, annotation in _contract.leaves(SpanRecord, full):
        records.append(_contract.perturbed(full, path, annotation))
    for i, record in enumerate(records):  # one row each (span_id is part of the key)
        if record["span_id"] == full["span_id"]:
            record["span_id"] = f"{i + 1:016x}"
    return records


def _stored(storage: ChdbStorage) -> list[dict[str, Any]]:
    rows = storage.query("SELECT * EXCEPT inserted_at FROM spans ORDER BY span_id").dicts()
    for row in rows:  # JSON text: equivalent JSON, ClickHouse may write numbers differently
        for name in _JSON_COLUMNS:
            row[name] = json.loads(row[name]) if row[name] else row[name]
        row["attributes"] = {k: json.loads(v) if v else v for k, v in row["attributes"].items()}
    return rows


def test_sql_mapping_stores_every_field_as_the_python_mapping(chdb_storage: ChdbStorage) -> None:
    records = _records()
    source = raw_table([orjson.dumps(r) for r in records])
    chdb_storage.insert_select(
        "spans", COLUMNS, SPANS_SELECT, source, params=retention_params(POLICY), dedup_token="a"
    )
    from_sql = _stored(chdb_storage)
    chdb_storage.command("TRUNCATE TABLE spans")
    mapped = map_records(TABLE_MAPPINGS["spans"], records, POLICY)
    assert mapped.rejected == []
    chdb_storage.insert("spans", mapped.table, dedup_token="b")
    from_python = _stored(chdb_storage)
    assert len(from_sql) == len(records) == len(from_python)
    for sql_row, python_row in zip(from_sql, from_python, strict=True):
        differ = sorted(k for k in sql_row if sql_row[k] != python_row[k])
        assert not differ, f"span {sql_row['span_id']}: the SQL mapping differs on {differ}"
