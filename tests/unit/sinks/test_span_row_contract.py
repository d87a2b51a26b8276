"""The spans row mapping stores every field of SpanRecord (checked on the model's fields).

The Python mapping here; the SQL twin (ClickHouse parsing the records) is held
to it in ``tests/integration/sinks/test_span_row_contract.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from tests.unit import _contract
from tracestream.sinks import TABLE_MAPPINGS, RetentionPolicy, sample_span_records

pytestmark = pytest.mark.unit


def test_every_span_record_field_reaches_a_column() -> None:
    for base in sample_span_records(3, seed=3):
        missing = _contract.unmapped_record_paths(base)
        assert not missing, f"the spans row mapping (sinks/_rows.py) drops {missing}"


def test_a_mapping_that_drops_a_field_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    spans = TABLE_MAPPINGS["spans"]

    def without_stack(r: Mapping[str, Any], retention: RetentionPolicy) -> tuple[Any, ...]:
        error = r.get("error")
        record = {**r, "error": {**error, "stack": None}} if error else r
        return spans.row(record, retention)

    monkeypatch.setitem(TABLE_MAPPINGS, "spans", replace(spans, row=without_stack))
    assert _contract.unmapped_record_paths(sample_span_records(1)[0]) == ["error.stack"]
