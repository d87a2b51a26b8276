"""``bench analyze``'s feedback half on a few thousand generated spans (counts, not times)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from benchmarks.analyze import BENCH_DAY, generate_spans, time_feedback
from tracestream.sinks import FEEDBACK_REPORTS, ChdbStorage, feedback
from tracestream.sinks._analytics import AnalysisScope

pytestmark = pytest.mark.integration


def test_generated_spans_give_every_report_work_and_the_floor_reads_them_all(
    chdb_storage: ChdbStorage,
) -> None:
    generate_spans(chdb_storage, 5_000, batch=2_000)
    assert chdb_storage.query("SELECT count() FROM scores").scalar() == 1_000  # one per trace
    timed = time_feedback(chdb_storage, repeat=1)
    assert timed["floor_scan"]["spans"] == 5_000
    assert set(timed["reports"]) == set(FEEDBACK_REPORTS)
    for name, report in timed["reports"].items():
        assert report["ratio_to_floor"] > 0, name
        assert report["cpu_ratio_to_floor"] > 0, name
        assert set(report["queries_s"]) <= {f"{name}.{t}" for t in FEEDBACK_REPORTS[name]} | {name}
    scope = AnalysisScope(BENCH_DAY, BENCH_DAY + timedelta(days=1), project="bench")
    report = feedback(chdb_storage, scope, tuple(FEEDBACK_REPORTS))
    # Every report finds something in the generated data.
    assert [r["tool"] for r in report.table("tools.never_called").dicts()] == ["refund"]
    retrieval = report.table("context.retrievals").dicts()[0]
    # A quarter of the 1,000 traces retrieve; one in ten of those finds nothing.
    assert (retrieval["retrievals"], retrieval["empty"]) == (250, 25)
    assert report.table("workflows.variants").rows
    assert {r["choice"] for r in report.table("reasoning.decisions").dicts()} == {
        "desk",
        "self",
        "human",
    }
    assert {r["label"] for r in report.table("examples.candidates").dicts()} == {"good", "bad"}
