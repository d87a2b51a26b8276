"""OTLP recorded from real instrumentations, converted and stored (issue 12 item 6).

``tests/data/otlp/openinference_support_turn.pb`` is what the real OTLP/HTTP
exporter sent for the real ``openai`` and ``anthropic`` clients instrumented by
OpenInference (``tests/data/otlp/make_fixtures.py`` records it). Its spans go
through the receiver's conversion, the worker's core (validate, redact, price,
assemble) and the sink's row mapping into chDB; the stored rows are compared
with the request field by field.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client import CollectorRegistry

from tracestream.producers.otlp import convert_request
from tracestream.sinks import ChdbStorage, apply_migrations
from tracestream.sinks._rows import TABLE_MAPPINGS, RetentionPolicy, map_records, record_json
from tracestream.streams import (
    Assembler,
    Pipeline,
    PipelineMetrics,
    Pricer,
    Redactor,
    SourceRecord,
    Stages,
    Validator,
)

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[2] / "data" / "otlp"
FIXTURE = DATA / "openinference_support_turn.pb"
LLMETRY = DATA / "openllmetry_support_turn.pb"
COLUMNS = (
    "span_id, parent_span_id, trace_id, project, service, environment, release, session_id, "
    "user_id, tags, kind, name, status, toUnixTimestamp64Micro(start_time) AS start_us, "
    "toUnixTimestamp64Micro(end_time) AS end_us, model, provider, model_parameters, input, "
    "output, tool_name, tool_arguments, tool_result, input_tokens, output_tokens, "
    "cached_tokens, cache_write_tokens, reasoning_tokens, cost_usd, error_type, error_message"
)


def _otlp_spans() -> dict[str, Span]:
    request = ExportTraceServiceRequest.FromString(FIXTURE.read_bytes())
    return {
        span.span_id.hex(): span
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }


@pytest.fixture(scope="module")
def stored(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, dict[str, Any]]]]:
    """Per fixture file name: the stored span rows by span id, the trace row under "trace".

    Both fixtures go into one chDB (one data directory per process).
    """
    storage = ChdbStorage(tmp_path_factory.mktemp("otlp_fixture") / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        yield {path.name: _store(path, storage) for path in (FIXTURE, LLMETRY)}
    finally:
        storage.close()


@pytest.fixture(scope="module")
def rows(stored: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return stored[FIXTURE.name]


@pytest.fixture(scope="module")
def llmetry_rows(stored: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return stored[LLMETRY.name]


def _store(path: Path, storage: ChdbStorage) -> dict[str, dict[str, Any]]:
    request = ExportTraceServiceRequest.FromString(path.read_bytes())
    conversion = convert_request(request, project="shop", default_environment="dev")
    assert conversion.rejected == 0
    stages = Stages(
        Validator(max_event_bytes=1 << 20, max_depth=32), Redactor(), Assembler(Pricer())
    )
    pipeline = Pipeline(stages, PipelineMetrics(CollectorRegistry()))
    records = [SourceRecord("e", 0, i, r.key, r.value) for i, r in enumerate(conversion.records)]
    out = pipeline.process(records, now_ms=int(datetime.now(UTC).timestamp() * 1000))
    out.extend(pipeline.tick(now_ms=int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)))
    assert not out.dead_letters
    for role, items in (("spans", out.spans), ("traces", out.traces)):
        mapping = TABLE_MAPPINGS[role]
        batch = map_records(mapping, [record_json(r) for r in items], RetentionPolicy())
        assert not batch.rejected
        storage.insert(mapping.table, batch.table)
    trace_id = orjson.loads(conversion.records[0].value)["trace_id"]
    params = {"t": trace_id}
    result = storage.query(f"SELECT {COLUMNS} FROM spans FINAL WHERE trace_id = {{t:String}}",
                           params)  # fmt: skip
    rows = {row["span_id"]: row for row in result.dicts()}
    (rows["trace"],) = storage.query(
        "SELECT root_span_id, span_count, error_count, tool_call_count, cost_usd, "
        "session_id, user_id FROM traces FINAL WHERE trace_id = {t:String}", params
    ).dicts()  # fmt: skip
    return rows


def _by_name(rows: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for key, r in rows.items() if key != "trace" and r["name"] == name]


def test_ids_parents_and_timing_are_the_spans_own(rows: dict[str, dict[str, Any]]) -> None:
    spans = _otlp_spans()
    assert set(rows) - {"trace"} == set(spans)
    for span_id, span in spans.items():
        row = rows[span_id]
        assert row["trace_id"] == span.trace_id.hex()
        assert row["parent_span_id"] == span.parent_span_id.hex()
        assert int(row["start_us"]) == span.start_time_unix_nano // 1000
        assert int(row["end_us"]) == span.end_time_unix_nano // 1000
    (root,) = _by_name(rows, "support-turn")
    assert root["parent_span_id"] == "" and root["kind"] == "step"
    assert {r["parent_span_id"] for r in rows.values() if r is not root and "name" in r} == {
        root["span_id"]
    }
    assert rows["trace"]["root_span_id"] == root["span_id"]


def test_envelope_session_user_and_tags(rows: dict[str, dict[str, Any]]) -> None:
    for key, row in rows.items():
        if key == "trace":
            continue
        assert (row["project"], row["service"], row["environment"], row["release"]) == (
            "shop", "support-bot", "staging", "1.4.2")  # fmt: skip
        assert (row["session_id"], row["user_id"]) == ("sess-42", "user-7")
        assert row["tags"] == ["support", "weather"]
    assert (rows["trace"]["session_id"], rows["trace"]["user_id"]) == ("sess-42", "user-7")


def test_openai_generation_with_a_tool_call(rows: dict[str, dict[str, Any]]) -> None:
    first = min(_by_name(rows, "ChatCompletion"), key=lambda r: int(r["start_us"]))
    assert (first["kind"], first["status"]) == ("generation", "ok")
    assert (first["model"], first["provider"]) == ("gpt-4o-mini-2024-07-18", "openai")
    assert orjson.loads(first["model_parameters"])["temperature"] == 0.1
    assert [m["role"] for m in orjson.loads(first["input"])] == ["system", "user"]
    (message,) = orjson.loads(first["output"])
    assert message["tool_calls"] == [{"id": "call_weather_1", "function": {
        "name": "get_weather", "arguments": {"city": "Paris"}}}]  # fmt: skip
    # 120 prompt tokens of which 100 cached; 40 completion of which 16 reasoning.
    usage = [first[k] for k in ("input_tokens", "cached_tokens", "cache_write_tokens",
                                "output_tokens", "reasoning_tokens")]  # fmt: skip
    assert [int(u) for u in usage] == [20, 100, 0, 24, 16]
    # gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output (reasoning too).
    assert first["cost_usd"] == pytest.approx(20 * 0.15e-6 + 100 * 0.075e-6 + 40 * 0.6e-6)


def test_the_app_tool_span(rows: dict[str, dict[str, Any]]) -> None:
    (tool,) = _by_name(rows, "get_weather")
    assert (tool["kind"], tool["tool_name"]) == ("tool", "get_weather")
    assert orjson.loads(tool["tool_arguments"]) == {"city": "Paris"}
    assert orjson.loads(tool["tool_result"]) == "18 C, sunny"
    assert tool["cost_usd"] is None


def test_openai_stream_assembled(rows: dict[str, dict[str, Any]]) -> None:
    ok = [r for r in _by_name(rows, "ChatCompletion") if r["status"] == "ok"]
    streamed = max(ok, key=lambda r: int(r["start_us"]))
    assert orjson.loads(streamed["output"]) == [
        {"role": "assistant", "content": "Paris is the capital of France."}
    ]
    assert int(streamed["cached_tokens"]) == 100 and int(streamed["reasoning_tokens"]) == 16


def test_anthropic_generation_with_cache_write(rows: dict[str, dict[str, Any]]) -> None:
    (claude,) = _by_name(rows, "messages.create")
    assert (claude["model"], claude["provider"]) == ("claude-sonnet-4-5", "anthropic")
    usage = [claude[k] for k in ("input_tokens", "cached_tokens", "cache_write_tokens",
                                 "output_tokens", "reasoning_tokens")]  # fmt: skip
    assert [int(u) for u in usage] == [20, 100, 50, 30, 0]
    # claude-sonnet-4-5: $3/M input, $0.30/M cache read, $3.75/M cache write, $15/M output.
    assert claude["cost_usd"] == pytest.approx(20 * 3e-6 + 100 * 0.3e-6 + 50 * 3.75e-6 + 30 * 15e-6)
    (message,) = orjson.loads(claude["output"])
    tool_use = message["contents"][1]
    assert tool_use["tool_call"]["function"] == {"name": "get_weather",
                                                 "arguments": {"city": "Paris"}}  # fmt: skip


def test_the_failed_call(rows: dict[str, dict[str, Any]]) -> None:
    (failed,) = [r for r in _by_name(rows, "ChatCompletion") if r["status"] == "error"]
    assert failed["error_type"] == "openai.NotFoundError"
    assert "does not exist" in failed["error_message"]
    assert failed["cost_usd"] is None and int(failed["input_tokens"]) == 0
    trace = rows["trace"]
    assert (int(trace["span_count"]), int(trace["error_count"])) == (6, 1)
    assert int(trace["tool_call_count"]) == 1
    assert trace["cost_usd"] == pytest.approx(2 * 34.5e-6 + 727.5e-6)


def test_openllmetry_fixture_gen_ai_conventions(
    llmetry_rows: dict[str, dict[str, Any]],
) -> None:
    # OpenLLMetry 0.62 writes the current GenAI conventions (gen_ai.input.messages, ...).
    chats = sorted(_by_name(llmetry_rows, "openai.chat"), key=lambda r: int(r["start_us"]))
    first, streamed, failed = chats
    assert (first["model"], first["provider"]) == ("gpt-4o-mini", "openai")
    usage = [first[k] for k in ("input_tokens", "cached_tokens", "output_tokens",
                                "reasoning_tokens")]  # fmt: skip
    assert [int(u) for u in usage] == [20, 100, 24, 16]  # its underscore reasoning_tokens
    assert first["cost_usd"] == pytest.approx(34.5e-6)
    assert orjson.loads(first["output"])[0]["parts"][0]["name"] == "get_weather"
    # Streams carry no reasoning count here: 40 output tokens, priced the same.
    assert (int(streamed["output_tokens"]), int(streamed["reasoning_tokens"])) == (40, 0)
    assert "Paris is the capital of France." in streamed["output"]
    assert failed["status"] == "error" and failed["error_type"] == "openai.NotFoundError"
    (claude,) = _by_name(llmetry_rows, "anthropic.chat")
    assert [int(claude[k]) for k in ("input_tokens", "cached_tokens", "cache_write_tokens",
                                     "output_tokens")] == [20, 100, 50, 30]  # fmt: skip
    assert claude["cost_usd"] == pytest.approx(727.5e-6)
    (tool,) = _by_name(llmetry_rows, "execute_tool get_weather")
    assert (tool["kind"], tool["tool_name"]) == ("tool", "get_weather")
    assert orjson.loads(tool["tool_arguments"]) == {"city": "Paris"}
    (root,) = _by_name(llmetry_rows, "support-turn")
    assert (root["kind"], root["session_id"], root["user_id"]) == ("agent", "sess-42", "user-7")
    spans = {bytes(s.span_id).hex(): s for s in _otlp_request_spans(LLMETRY)}
    for span_id, span in spans.items():
        assert int(llmetry_rows[span_id]["start_us"]) == span.start_time_unix_nano // 1000
        assert llmetry_rows[span_id]["parent_span_id"] == span.parent_span_id.hex()


def _otlp_request_spans(path: Path) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(path.read_bytes())
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
