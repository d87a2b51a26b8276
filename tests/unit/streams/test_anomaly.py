"""Anomaly scoring: robust z-scores, floors, minimum counts, synthetic regressions, FP rate."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.unit.streams._spans import at
from tracestream.schemas import MetricWindow
from tracestream.streams._anomaly import AnomalyScorer, BaselineState

pytestmark = pytest.mark.unit


def window(i: int, *, count: int = 100, errors: int = 1, p95: float | None = 200.0,
           cost: float = 0.5, tokens: int = 10_000, name: str = "chat") -> MetricWindow:  # fmt: skip
    return MetricWindow(
        project="acme", service="api", model="gpt-4o", kind="generation", name=name,
        window_start=at(60 * i), window_end=at(60 * i + 60), count=count, error_count=errors,
        input_tokens=tokens, cost_usd=cost, latency_p95_ms=p95, emitted_at=at(60 * i + 70),
    )  # fmt: skip


def noisy(rng: random.Random, i: int, **kw: float) -> MetricWindow:
    count = rng.randint(80, 120)
    errors = sum(rng.random() < 0.01 for _ in range(count))
    fields = {
        "count": count, "errors": errors, "p95": rng.gauss(200, 15),
        "cost": max(0.0, rng.gauss(0.5, 0.05)), "tokens": int(rng.gauss(10_000, 800)),
    }  # fmt: skip
    return window(i, **{**fields, **kw})  # type: ignore[arg-type]


def _warm(scorer: AnomalyScorer, rng: random.Random, n: int = 30) -> None:
    for i in range(n):
        assert scorer.score(noisy(rng, i), at(0)) == []


def test_exact_robust_z_score() -> None:
    scorer = AnomalyScorer(min_baseline=5, baseline_windows=5, rel_floor=0.0)
    for i, p95 in enumerate([100.0, 110.0, 90.0, 105.0, 95.0]):
        scorer.score(window(i, p95=p95), at(0))
    (a,) = [r for r in scorer.score(window(5, p95=200.0), at(1)) if r.metric == "latency_p95_ms"]
    # median 100, |dev| = 0,10,10,5,5 -> MAD 5 -> scale 7.413
    assert a.baseline == 100.0
    assert a.scale == pytest.approx(5 * 1.4826)
    assert a.score == pytest.approx(100 / (5 * 1.4826))
    assert (a.direction, a.severity, a.threshold) == ("high", "critical", 4.0)  # 13.5 >= 8


def test_no_score_before_min_baseline() -> None:
    scorer = AnomalyScorer(min_baseline=10)
    for i in range(10):
        assert scorer.score(window(i, p95=10_000.0 * (i % 2 + 1)), at(0)) == []


def test_flat_baseline_uses_floor_not_divide_by_zero() -> None:
    scorer = AnomalyScorer(min_baseline=5)
    for i in range(10):
        scorer.score(window(i), at(0))
    assert scorer.score(window(10, p95=205.0), at(0)) == []  # 5 ms < 4 x 5 % of 200
    (a,) = scorer.score(window(11, p95=300.0), at(0))
    assert a.scale == 10.0 and a.score == 10.0 and a.severity == "critical"


def test_min_count_protects_quiet_windows() -> None:
    scorer = AnomalyScorer(min_baseline=5, min_count=20)
    for i in range(10):
        scorer.score(window(i), at(0))
    assert scorer.score(window(10, count=3, errors=1, p95=5000.0, cost=0.5), at(0)) == []


def test_out_of_order_window_ignored() -> None:
    scorer = AnomalyScorer()
    scorer.score(window(5), at(0))
    assert scorer.score(window(5, p95=1e6), at(0)) == []
    assert scorer.counts["out_of_order_windows"] == 1


@pytest.mark.parametrize(
    ("metric", "change"),
    [
        ("latency_p95_ms", {"p95": 320.0}),
        ("error_rate", {"errors": 15}),
        ("cost_usd", {"cost": 1.5}),
        ("token_rate", {"tokens": 30_000}),
    ],
)
def test_regressions_flagged_within_two_windows(metric: str, change: dict[str, float]) -> None:
    rng = random.Random(11)
    scorer = AnomalyScorer()
    _warm(scorer, rng)
    flagged = []
    for i in (30, 31):
        flagged += [a.metric for a in scorer.score(noisy(rng, i, **change), at(0))]
    assert metric in flagged


def test_steady_noise_false_positive_rate_at_most_one_percent() -> None:
    rng = random.Random(2026)
    scorer = AnomalyScorer()
    flagged_windows = sum(bool(scorer.score(noisy(rng, i), at(0))) for i in range(500))
    assert flagged_windows <= 5


def test_state_round_trips() -> None:
    scorer = AnomalyScorer()
    for i in range(12):
        scorer.score(window(i), at(0))
    restored = {k: BaselineState.from_bytes(v.to_bytes()) for k, v in scorer.store.items()}
    assert restored == dict(scorer.store)
    again = AnomalyScorer(restored)
    assert [a.metric for a in again.score(window(12, p95=900.0), at(0))] == ["latency_p95_ms"]


def test_baseline_is_bounded_and_keys_are_separate() -> None:
    scorer = AnomalyScorer(baseline_windows=10)
    for i in range(40):
        scorer.score(window(i), at(0))
        scorer.score(window(i, name="other"), at(0))
    assert len(scorer.store) == 2
    assert all(len(v) == 10 for s in scorer.store.values() for v in s.history.values())


def test_volume_metrics_are_per_minute() -> None:
    scorer = AnomalyScorer(min_baseline=1, baseline_windows=1)
    w = window(0, cost=1.0).model_copy(update={"window_end": at(0) + timedelta(seconds=30)})
    scorer.score(w, at(0))
    assert scorer.store[next(iter(scorer.store))].history["cost_usd"] == [2.0]
