"""Quality gate: recall and precision over the labelled corpus (tests/data/redaction_*)."""

from __future__ import annotations

import pytest

from tests.unit.streams._corpus import evaluate, load, overall, table
from tracestream.streams import BUILTIN_DETECTORS, Redactor

pytestmark = pytest.mark.unit


def test_corpus_is_big_and_covers_every_detector() -> None:
    rows = load()
    assert len(rows) >= 2000
    labelled = {s["detector"] for row in rows for s in row["spans"]}  # type: ignore[attr-defined]
    assert labelled == set(BUILTIN_DETECTORS)
    negatives = sum(1 for row in rows if not row["spans"])
    assert negatives >= 300  # snippets with look-alikes only


def test_recall_and_precision_targets() -> None:
    scores = evaluate(Redactor(), load())
    report = table(scores)
    print("\n" + report)
    recall, precision = overall(scores)
    assert recall >= 0.95, report
    assert precision >= 0.95, report
    for name, score in scores.items():  # no single detector may be far off either
        assert score.recall >= 0.9 and score.precision >= 0.9, (name, report)
