"""SketchBins answers quantiles through ddsketch's public API, exactly as a sketch fed directly."""

from __future__ import annotations

import random

import pytest
from ddsketch import DDSketch
from ddsketch.mapping import LogarithmicMapping

from tracestream.streams import SketchBins

pytestmark = pytest.mark.unit

QS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)


def test_every_bucket_key_round_trips_through_its_representative_value() -> None:
    # The rebuild relies on it: key(value(k)) == k for every key latencies can reach
    # (1 µs to ~30 years in ms).
    mapping = LogarithmicMapping(0.01)
    low, high = mapping.key(1e-3), mapping.key(1e12)
    assert [k for k in range(low, high + 1) if mapping.key(mapping.value(k)) != k] == []


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_equal_those_of_a_ddsketch_fed_the_same_values(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(3, 2) for _ in range(2_000)] + [0.0] * rng.randint(0, 50)
    bins = SketchBins()
    direct = DDSketch(relative_accuracy=0.01)
    for v in values:
        bins.add(v)
        direct.add(v)
    assert bins.quantiles(*QS) == tuple(direct.get_quantile_value(q) for q in QS)


def test_quantiles_stay_within_the_relative_accuracy_of_the_exact_ones() -> None:
    rng = random.Random(11)
    values = sorted(rng.uniform(0.5, 5_000) for _ in range(10_001))
    bins = SketchBins()
    for v in values:
        bins.add(v)
    for q, got in zip(QS, bins.quantiles(*QS), strict=True):
        exact = values[int(q * (len(values) - 1))]
        assert got is not None
        assert abs(got - exact) <= 0.01 * exact + 1e-9, (q, got, exact)


def test_empty_sketch_has_no_quantiles() -> None:
    assert SketchBins().quantiles(0.5, 0.95) == (None, None)
