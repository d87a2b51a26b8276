"""`tracestream export` on the known data set: exact records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tracestream.sinks import ChdbStorage, apply_migrations
from tracestream.sinks._export import ExportFilter, chat_records, example_records, select_traces

from ._known_data import RANGE, T1, T2, T3, insert_known_data

pytestmark = pytest.mark.integration


@pytest.fixture
def known(tmp_path: Path) -> Iterator[ChdbStorage]:
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        insert_known_data(storage)
        yield storage
    finally:
        storage.close()


def test_filters_choose_traces(known: ChdbStorage) -> None:
    def ids(**kw: object) -> list[str]:
        return [t["trace_id"] for t in select_traces(known, ExportFilter(*RANGE, **kw))]  # type: ignore[arg-type]

    assert ids(project="shop") == [T1, T2, T3]
    assert ids(project="shop", statuses=("ok",)) == [T1, T3]
    assert ids(min_scores=(("helpfulness", 0.7),)) == [T1, T3]
    assert ids(min_scores=(("helpfulness", 0.7), ("thumbs_up", 1.0))) == [T1]
    assert ids(tags=("beta",), limit=2) == [T1, T2]
    assert ids(tags=("nope",)) == []


def test_chat_format_rebuilds_messages_and_tool_calls(known: ChdbStorage) -> None:
    traces = select_traces(known, ExportFilter(*RANGE, min_scores=(("thumbs_up", 1.0),)))
    [record] = list(chat_records(known, traces))
    assert record["messages"] == [
        {"role": "system", "content": "You are a shop assistant."},
        {"role": "user", "content": "Where is order 42?"},
        {"role": "assistant", "content": "Let me check."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call-3", "type": "function",
             "function": {"name": "web_search", "arguments": '{"q":"order 42"}'}}]},
        {"role": "tool", "tool_call_id": "call-3", "content": '{"rows":1}'},
        {"role": "assistant", "content": "It ships tomorrow."},
    ]  # fmt: skip
    assert record["metadata"]["scores"] == {"helpfulness": 0.9, "thumbs_up": 1.0}
    assert record["metadata"]["status"] == "ok"


def test_examples_export(known: ChdbStorage) -> None:
    traces = select_traces(known, ExportFilter(*RANGE, project="shop", statuses=("ok",)))
    assert [(r["id"], r["input"], r["expected_output"]) for r in example_records(traces)] == [
        (T1, "Where is order 42?", "It ships tomorrow."),
        (T3, "Refund policy?", "30 days."),
    ]
