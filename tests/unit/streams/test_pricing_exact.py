"""Pricing arithmetic: the fast path gives exactly the values of the plain Decimal sum."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tracestream.schemas import Cost, Usage
from tracestream.streams._pricing import _cost, _Rates, _resolve

pytestmark = pytest.mark.unit

_MTOK = Decimal(1_000_000)
_TIERED = (Decimal("1.25"), ((200_000, Decimal("2.5")), (1_000_000, Decimal("3.75"))))


def _reference(rates: _Rates, usage: Usage, source: str) -> Cost:
    """Every part computed, summed from Decimal zero, and validated (as pricing was written)."""
    total_input = usage.input_tokens + usage.cached_tokens + usage.cache_write_tokens
    inp = _resolve(rates.input, total_input)
    out = _resolve(rates.output, total_input)
    cached = inp if rates.cached is None else _resolve(rates.cached, total_input)
    write = inp if rates.cache_write is None else _resolve(rates.cache_write, total_input)
    reasoning = out if rates.reasoning is None else _resolve(rates.reasoning, total_input)
    parts = (
        inp * usage.input_tokens / _MTOK,
        out * usage.output_tokens / _MTOK,
        cached * usage.cached_tokens / _MTOK,
        write * usage.cache_write_tokens / _MTOK,
        reasoning * usage.reasoning_tokens / _MTOK,
    )
    return Cost(
        input_usd=float(parts[0]),
        output_usd=float(parts[1]),
        cached_usd=float(parts[2]),
        cache_write_usd=float(parts[3]),
        reasoning_usd=float(parts[4]),
        total_usd=float(sum(parts, Decimal(0))),
        price_source=source[:256],
    )


def _rates(rng: random.Random) -> _Rates:
    def rate() -> Decimal:
        return Decimal(rng.randrange(0, 10**7)).scaleb(-rng.randrange(0, 9))

    def maybe() -> Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]] | None:
        return rng.choice([None, rate(), _TIERED])

    return _Rates(rng.choice([rate(), _TIERED]), rate(), maybe(), maybe(), maybe())


def _usage(rng: random.Random) -> Usage:
    def n() -> int:
        return rng.choice([0, 0, rng.randrange(1, 5000), rng.randrange(1, 10**12)])

    return Usage(
        input_tokens=n(),
        output_tokens=n(),
        cached_tokens=n(),
        cache_write_tokens=n(),
        reasoning_tokens=n(),
    )


def test_cost_is_exactly_the_decimal_sum_of_every_part() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        rates, usage = _rates(rng), _usage(rng)
        source = rng.choice(["genai-prices", "override:" + "x" * 300])
        cost, expected = _cost(rates, usage, source), _reference(rates, usage, source)
        # Field by field, floats compared exactly; and the model is a valid Cost.
        assert cost.__dict__ == expected.__dict__
        assert Cost.model_validate(cost.model_dump()) == cost
