"""Every feedback report finds something real in the demo's workload (issue 14 item 7).

The workload's events go through the worker's core (validate, redact, price,
assemble) and the sink's row mapping into chDB, as ``tracestream demo`` does
without Kafka. The workload is seeded, so the findings are the same every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tracestream.demo import run_workload
from tracestream.producers import InMemoryTransport, Tracer
from tracestream.sinks import ChdbStorage, apply_migrations
from tracestream.sinks._analytics import AnalysisScope
from tracestream.sinks._feedback import feedback
from tracestream.sinks._report_render import report_dict
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


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    transport = InMemoryTransport()
    tracer = Tracer(project="demo", service="support-bot", transport=transport, flush_at_exit=False)
    began = datetime.now(UTC)
    run_workload(tracer, traces=80, wait=False)
    stages = Stages(
        Validator(max_event_bytes=1 << 20, max_depth=32), Redactor(), Assembler(Pricer())
    )
    pipeline = Pipeline(stages, PipelineMetrics(CollectorRegistry()))
    records = [SourceRecord("e", 0, i, k, v) for i, (k, v) in enumerate(transport.records)]
    out = pipeline.process(records, now_ms=int(datetime.now(UTC).timestamp() * 1000))
    out.extend(pipeline.tick(now_ms=int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)))
    assert not out.dead_letters
    storage = ChdbStorage(tmp_path_factory.mktemp("demo") / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        rows = {
            "spans": [record_json(r) for r in out.spans],
            "traces": [record_json(r) for r in out.traces],
            "scores": [orjson.loads(v) for _, v in out.scores],
        }
        for role, items in rows.items():
            mapping = TABLE_MAPPINGS[role]
            batch = map_records(mapping, items, RetentionPolicy())
            assert not batch.rejected
            storage.insert(mapping.table, batch.table)
        scope = AnalysisScope(began - timedelta(hours=1), began + timedelta(hours=1), top_n=50)
        reports = ("tools", "workflows", "context", "reasoning", "examples")
        yield report_dict(feedback(storage, scope, reports))["sections"]
    finally:
        storage.close()


def test_tools_finds_the_flaky_lookup_and_its_argument(demo_reports: dict[str, Any]) -> None:
    tools = {r["tool"]: r for r in demo_reports["tools"]["tools"]}
    lookup = tools["lookup_order"]
    assert lookup["errors"] > 0 and lookup["retries"] > 0 and lookup["example_trace_ids"]
    # A failed lookup makes a bad ticket more likely, in counts.
    assert lookup["bad_rate_with_failure"] > lookup["bad_rate_without_failure"]
    keys = [(r["tool"], r["key"]) for r in demo_reports["tools"]["failure_arguments"]]
    assert keys[0] == ("lookup_order", "include_history")
    never = [r["tool"] for r in demo_reports["tools"]["never_called"]]
    assert never == ["escalate_to_human"]


def test_workflows_show_the_critical_path_and_repeated_and_skipped_steps(
    demo_reports: dict[str, Any],
) -> None:
    wf = demo_reports["workflows"]
    assert [r["workflow"] for r in wf["workflows"]] == ["support-ticket"]
    assert len(wf["variants"]) > 1
    steps = {r["step"]: r for r in wf["steps"]}
    assert steps["lookup_order"]["repeated_traces"] > 0  # retries
    assert steps["lookup_order"]["skipped_traces"] > 0  # account questions
    assert sum(r["critical_share"] for r in wf["steps"]) == pytest.approx(1.0, abs=1e-4)


def test_context_finds_empty_retrievals_unused_items_and_a_model_without_caching(
    demo_reports: dict[str, Any],
) -> None:
    ctx = demo_reports["context"]
    kb = ctx["retrievals"][0]
    assert kb["retrieval"] == "kb-search" and kb["empty"] > 0 and kb["example_empty_trace_ids"]
    assert 0 < kb["used_share"] < 1
    caching = {r["model"]: r for r in ctx["caching"]}
    assert caching["acme-llm-1"]["cached_share"] == 0.0
    assert caching["gpt-4o-mini"]["cached_share"] > 0
    assert len(ctx["input_tokens"]) >= 2


def test_reasoning_finds_long_reasoning_that_failed(demo_reports: dict[str, Any]) -> None:
    rs = demo_reports["reasoning"]
    assert rs["long_failures"] and all(r["times_median"] >= 2 for r in rs["long_failures"])
    assert {r["choice"] for r in rs["decisions"]} == {"order-desk", "self-service"}
    outcomes = {r["outcome"]: r for r in rs["by_outcome"]}
    assert (
        outcomes["failed"]["mean_reasoning_tokens"] > outcomes["succeeded"]["mean_reasoning_tokens"]
    )


def test_examples_has_good_and_bad_cases(demo_reports: dict[str, Any]) -> None:
    labels = {r["label"] for r in demo_reports["examples"]["candidates"]}
    assert labels == {"good", "bad"}
