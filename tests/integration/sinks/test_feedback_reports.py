"""The feedback reports on their known data set (``_feedback_data``), on real chDB.

Every expected number is worked out by hand in the comments; the data set's
docstring says which trace makes a finding fire and which must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tracestream.sinks import ChdbStorage, StorageRejected, apply_migrations
from tracestream.sinks._analytics import AnalysisScope, analyze
from tracestream.sinks._feedback import FeedbackOptions, feedback
from tracestream.sinks._report_render import report_dict

from ._feedback_data import F1, F2, F3, F4, F5, F6, RANGE, T0, insert_feedback_data

pytestmark = pytest.mark.integration

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def fb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStorage]:
    # One database for the module: the tests only read it.
    storage = ChdbStorage(tmp_path_factory.mktemp("fb") / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        insert_feedback_data(storage)
        yield storage
    finally:
        storage.close()


def _report(storage: ChdbStorage, name: str, **scope: Any) -> dict[str, Rows]:
    report = feedback(storage, AnalysisScope(*RANGE, **scope), (name,))
    tables: dict[str, Rows] = report_dict(report)["sections"][name]
    return tables


def test_tools(fb: ChdbStorage) -> None:
    tools = _report(fb, "tools")
    # lookup_order: 6 calls (F1 1, F2 2, F3 2, F4 1), 3 failed (F2 both, F3 the
    # first). Durations 100,1000,1000,500,200,100 -> p50 (200+500)/2, p95 at
    # position 4.75 of 0..5 between 1000 and 1000. Retries: one call after the
    # first failure in F2 and in F3. Failure impact: F2 and F3 saw a failure,
    # F2 went bad (failed, 0.2), F3 recovered (0.8); F1 and F4 saw none and
    # are fine: with counts 1 of 2 against 0 of 2.
    assert tools["tools"] == [
        {"tool": "lookup_order", "calls": 6, "errors": 3, "error_rate": 0.5, "p50_ms": 350.0,
         "p95_ms": 1000.0, "retries": 2, "retried_traces": 2, "traces_with_failure": 2,
         "bad_with_failure": 1, "traces_without_failure": 2, "bad_without_failure": 0,
         "bad_rate_with_failure": 0.5, "bad_rate_without_failure": 0.0,
         "example_trace_ids": [F2, F3]},
        # Never failed: no retries, nothing to compare against (null, not 0).
        {"tool": "search_web", "calls": 1, "errors": 0, "error_rate": 0.0, "p50_ms": 200.0,
         "p95_ms": 200.0, "retries": 0, "retried_traces": 0, "traces_with_failure": 0,
         "bad_with_failure": 0, "traces_without_failure": 1, "bad_without_failure": 0,
         "bad_rate_with_failure": None, "bad_rate_without_failure": 0.0,
         "example_trace_ids": []},
    ]  # fmt: skip
    assert tools["error_types"] == [
        {"tool": "lookup_order", "error_type": "TimeoutError", "errors": 3, "traces": 2,
         "share_of_tool_errors": 1.0,
         "example_message": "order service did not answer within 2s",
         "example_trace_ids": [F2, F3]},
    ]  # fmt: skip
    # region: passed by the 3 failed calls only -> 3/3 against 0/3 without it.
    # Not listed: order (every call passes it: nothing to compare), verbose
    # (F4's one call, which succeeded), q (search_web never failed).
    assert tools["failure_arguments"] == [
        {"tool": "lookup_order", "key": "region", "calls_with_key": 3, "failures_with_key": 3,
         "failure_rate_with_key": 1.0, "calls_without_key": 3, "failures_without_key": 0,
         "failure_rate_without_key": 0.0, "example_trace_ids": [F2, F3]},
    ]  # fmt: skip
    # Offered: lookup_order, refund (F1), search_web, escalate (F6); the called
    # ones must not be listed.
    assert tools["never_called"] == [
        {"tool": "escalate", "offered_in_generations": 1, "offered_in_traces": 1,
         "example_trace_ids": [F6]},
        {"tool": "refund", "offered_in_generations": 1, "offered_in_traces": 1,
         "example_trace_ids": [F1]},
    ]  # fmt: skip


def test_workflows(fb: ChdbStorage) -> None:
    wf = _report(fb, "workflows")
    # support: F1..F5 (F2 errored, F5's outcome failed); durations 1000, 3000,
    # 2000, 800, 600; costs 0.002+0.02+0.005+0.0015+0.001 over 5; scores of
    # F1..F4 (0.9, 0.2, 0.8, 0.85) over 4.
    assert wf["workflows"] == [
        {"workflow": "support", "traces": 5, "success_rate": 0.6, "p50_ms": 1000.0,
         "p95_ms": 2800.0, "mean_cost_usd": 0.0059, "mean_score": 0.6875, "scored_traces": 4,
         "example_failed_trace_ids": [F2, F5]},
        {"workflow": "triage", "traces": 1, "success_rate": 1.0, "p50_ms": 500.0,
         "p95_ms": 500.0, "mean_cost_usd": 0.001, "mean_score": 0.95, "scored_traces": 1,
         "example_failed_trace_ids": []},
    ]  # fmt: skip
    assert [(r["workflow"], r["variant"], r["traces"], r["success_rate"], r["mean_score"])
            for r in wf["variants"]] == [
        ("support", "plan > kb-search > lookup_order > answer", 2, 1.0, 0.875),
        ("support", "plan > kb-search > lookup_order > lookup_order > answer", 2, 0.5, 0.5),
        ("support", "plan > answer", 1, 0.0, None),
        ("triage", "triager > classify > search_web > summarize", 1, 1.0, 0.95),
    ]  # fmt: skip
    steps = {(r["workflow"], r["step"]): r for r in wf["steps"]}
    # Critical path, walking back from each root's end (ms):
    #   F1 answer 600, lookup 100, kb 100, plan 100, root gaps 50+50
    #   F2 answer 700, lookups 1000+1000, kb 100, plan 100, root gap 100
    #   F3 answer 900, lookups 200+500, kb 100, plan 100, root gaps 100+100
    #   F4 answer 500, lookup 100, kb 100, plan 50, root gap 50
    #   F5 answer 500, plan 100
    # of 7,400 ms in all: answer 3,200, lookup_order 2,900, plan 450, root 450, kb 400.
    assert [(r["step"], r["critical_share"]) for r in wf["steps"] if r["workflow"] == "support"] == [
        ("answer", 0.432432), ("lookup_order", 0.391892), ("plan", 0.060811),
        ("support", 0.060811), ("kb-search", 0.054054),
    ]  # fmt: skip
    lookup = steps[("support", "lookup_order")]
    # Skipped by F5, repeated in F2 and F3; waits: F1 waited 50 ms after kb.
    assert (lookup["traces_with_step"], lookup["skipped_traces"], lookup["repeated_traces"],
            lookup["occurrences"], lookup["mean_critical_ms"], lookup["total_wait_ms"]) == (
        4, 1, 2, 6, 725.0, 50.0)  # fmt: skip
    # answer waits: F1 50 (400-350), F3 100 (1000-900), F4 50 (300-250).
    assert (steps[("support", "answer")]["total_wait_ms"],
            steps[("support", "answer")]["mean_wait_ms"]) == (200.0, 40.0)  # fmt: skip
    # Nested: the agent's time is all its children's (classify 100, search 200,
    # summarize 150); the root only its last 50 ms.
    assert {s: steps[("triage", s)]["critical_share"]
            for s in ("triage", "triager", "classify", "search_web", "summarize")} == {
        "triage": 0.1, "triager": 0.0, "classify": 0.2, "search_web": 0.4, "summarize": 0.3,
    }  # fmt: skip
    # Present in every run: not skipped, not repeated.
    assert (steps[("support", "plan")]["skipped_traces"],
            steps[("support", "plan")]["repeated_traces"]) == (0, 0)  # fmt: skip


def test_context(fb: ChdbStorage) -> None:
    ctx = _report(fb, "context")
    # kb-search: 2+0+2+2 items; F2's came back empty and was followed by the
    # lookup, F2 went bad. Used: F1 cites doc-1 of (doc-1, doc-2), F3 both,
    # F4 doc-5 but not doc-1 (only "doc-10", another id) -> 4 of 6. Bytes:
    # each item {"id":"doc-N","text":"text of doc-N"} is 37 bytes of JSON,
    # 3 x (2 x 37 + 3) + len("[]") = 233.
    assert ctx["retrievals"] == [
        {"retrieval": "kb-search", "retrievals": 4, "p50_ms": 100.0, "p95_ms": 100.0,
         "items": 6, "mean_items": 1.5, "bytes": 233, "empty": 1, "bad_rate_after_empty": 1.0,
         "bad_rate_after_results": 0.0, "next_after_empty": ["lookup_order"],
         "items_with_ids": 6, "used_items": 4, "used_share": 0.666667,
         "example_empty_trace_ids": [F2], "example_unused_trace_ids": [F1, F4]},
    ]  # fmt: skip
    # Input tokens (uncached + cached): F5 500, F6 300 | F1 1000, F3 2000, F4 1000 | F2 4000.
    assert [(r["input_tokens"], r["traces"], r["success_rate"], r["mean_score"],
             r["example_bad_trace_ids"]) for r in ctx["input_tokens"]] == [
        ("<1k", 2, 0.5, 0.95, [F5]),
        ("1k-4k", 3, 1.0, 0.85, []),
        ("4k-16k", 1, 0.0, 0.2, [F2]),
    ]  # fmt: skip
    # claude never hits the cache; gpt-4o reads 2,000 of 4,500 input tokens from it.
    assert [(r["model"], r["generations"], r["uncached_input_tokens"], r["cached_input_tokens"],
             r["cached_share"], r["generations_without_cache_hit"],
             r["example_uncached_trace_ids"]) for r in ctx["caching"]] == [
        ("claude-sonnet-4", 2, 4300, 0, 0.0, 2, [F2, F6]),
        ("gpt-4o", 4, 2500, 2000, 0.444444, 2, [F3, F5]),
    ]  # fmt: skip


def test_reasoning(fb: ChdbStorage) -> None:
    rs = _report(fb, "reasoning")
    # failed: F2 (5000 tokens), F5 (100); succeeded: F1 200, F3 300, F4 100, F6 0.
    assert [(r["outcome"], r["traces"], r["traces_with_reasoning"], r["mean_reasoning_tokens"],
             r["mean_reasoning_spans"], r["mean_score"]) for r in rs["by_outcome"]] == [
        ("failed", 2, 2, 2550.0, 1.0, 0.2),
        ("succeeded", 4, 3, 150.0, 0.75, 0.875),
    ]  # fmt: skip
    assert [(r["decision"], r["choice"], r["times"], r["share"], r["success_rate"],
             r["example_trace_ids"]) for r in rs["decisions"]] == [
        ("route", "order-desk", 4, 0.8, 0.75, [F1, F2, F3]),
        ("route", "self-service", 1, 0.2, 0.0, [F5]),
    ]  # fmt: skip
    # Baseline: the median of 100, 200, 300 (succeeded, with reasoning) = 200.
    # F2 reasoned 25x that and failed; F5 failed after 100 tokens: not long.
    assert rs["long_failures"] == [
        {"trace_id": F2, "workflow": "support", "outcome": "failed", "reasoning_tokens": 5000,
         "reasoning_spans": 1, "reasoning_ms": 100.0, "succeeded_median_reasoning_tokens": 200.0,
         "times_median": 25.0, "score": 0.2},
    ]  # fmt: skip
    # A higher bar: nothing is long any more.
    stricter = feedback(
        fb, AnalysisScope(*RANGE), ("reasoning",), options=FeedbackOptions(long_reasoning_factor=30)
    )
    assert stricter.table("reasoning.long_failures").rows == []


def test_reasoning_top_n_cuts_rankings_only(fb: ChdbStorage) -> None:
    # The three tables come from one statement: --top cuts the decisions and
    # the long failures (each its own ranking) but never an outcome row.
    rs = _report(fb, "reasoning", top_n=1)
    assert [r["outcome"] for r in rs["by_outcome"]] == ["failed", "succeeded"]
    assert [(r["decision"], r["choice"]) for r in rs["decisions"]] == [("route", "order-desk")]
    assert [r["trace_id"] for r in rs["long_failures"]] == [F2]
    # F5 (100 tokens) becomes long at a factor of 0.5 and follows F2.
    lower = feedback(
        fb,
        AnalysisScope(*RANGE, top_n=1),
        ("reasoning",),
        options=FeedbackOptions(long_reasoning_factor=0.5),
    )
    assert [r["trace_id"] for r in lower.table("reasoning.long_failures").dicts()] == [F2]
    both = feedback(
        fb, AnalysisScope(*RANGE), ("reasoning",), options=FeedbackOptions(0.5, 0.8, 0.5)
    )
    assert [r["trace_id"] for r in both.table("reasoning.long_failures").dicts()] == [F2, F5]


def test_examples(fb: ChdbStorage) -> None:
    ex = _report(fb, "examples")
    # good: scored >= 0.8, no error span, not failed, cost <= the median
    # support cost (0.002): F1 and F4, one question (order numbers differ) ->
    # F1 kept (0.9 > 0.85). F3 scored 0.8 but one of its tool calls failed:
    # bad, after the failed F2 and F5.
    assert [(r["operation"], r["label"], r["trace_id"], r["duplicates"],
             r["duplicate_trace_ids"], r["input"]) for r in ex["candidates"]] == [
        ("support", "good", F1, 1, [F4], "Where is order 1001?"),
        ("support", "bad", F2, 0, [], "Where is order 2002?"),
        ("support", "bad", F5, 0, [], "Cancel my subscription"),
        ("support", "bad", F3, 0, [], "Where is order 3003 now??"),
        ("triage", "good", F6, 0, [], "Is the site down?"),
    ]  # fmt: skip


def test_filters_choose_traces(fb: ChdbStorage) -> None:
    # A model filter keeps the traces that used the model, whole: F2 and F6
    # used claude, so lookup_order is judged on F2 alone.
    tools = _report(fb, "tools", model="claude-sonnet-4")["tools"]
    assert [(r["tool"], r["calls"], r["errors"], r["bad_with_failure"]) for r in tools] == [
        ("lookup_order", 2, 2, 1),
        ("search_web", 1, 0, 0),
    ]
    where = _report(fb, "workflows", where="name = 'summarize'")["workflows"]
    assert [(r["workflow"], r["traces"]) for r in where] == [("triage", 1)]
    # The first two minutes: F1 and F2 only.
    report = feedback(fb, AnalysisScope(T0, T0 + timedelta(minutes=2)), ("workflows",))
    assert report.table("workflows.workflows").dicts()[0]["traces"] == 2
    assert _report(fb, "tools", project="nobody")["tools"] == []


def test_reports_merge_into_the_default_report(fb: ChdbStorage) -> None:
    scope = AnalysisScope(*RANGE)
    report = feedback(
        fb, scope, ("tools", "examples"), into=analyze(fb, scope, sections=("costs",))
    )
    assert list(report_dict(report)["sections"]) == ["costs", "tools", "examples"]
    assert "tools.tools" in report.timings_s
    with pytest.raises(StorageRejected, match="unknown report"):
        feedback(fb, scope, ("tool",))


def test_where_is_still_guarded(fb: ChdbStorage) -> None:
    with pytest.raises(StorageRejected):
        feedback(fb, AnalysisScope(*RANGE, where="1) SETTINGS readonly=0 --"), ("tools",))


def test_selection_round_trip(fb: ChdbStorage, tmp_path: Path) -> None:
    from tracestream.sinks._feedback import read_selection, write_selection

    report = feedback(fb, AnalysisScope(*RANGE), ("examples",))
    path = tmp_path / "selection.json"
    assert write_selection(report, path) == 5
    cases = read_selection(path)["cases"]
    assert [(c["trace_id"], c["label"]) for c in cases] == [
        (F1, "good"), (F2, "bad"), (F5, "bad"), (F3, "bad"), (F6, "good"),
    ]  # fmt: skip
    (tmp_path / "other.json").write_text('{"kind": "something else"}')
    with pytest.raises(ValueError, match="not an examples selection"):
        read_selection(tmp_path / "other.json")
