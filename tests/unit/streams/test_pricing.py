"""Pricing: each usage type once, overrides by date, unknown models never guessed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest

from tracestream.schemas import ModelInfo, Usage
from tracestream.streams._pricing import PriceOverride, Pricer

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
GPT4O = ModelInfo(name="gpt-4o", provider="openai")


def test_notes_reference_gpt4o_cached_read() -> None:
    # genai-prices' input_tokens=1000 includes the 200 cached; ours excludes them.
    lib = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1000, output_tokens=100, cache_read_tokens=200), "gpt-4o"
    )
    assert lib.total_price == Decimal("0.00325")
    cost = Pricer().price(GPT4O, Usage(input_tokens=800, output_tokens=100, cached_tokens=200), AT)
    assert cost is not None
    assert cost.input_usd == pytest.approx(0.002, abs=1e-15)
    assert cost.cached_usd == pytest.approx(0.00025, abs=1e-15)
    assert cost.output_usd == pytest.approx(0.001, abs=1e-15)
    assert cost.total_usd == pytest.approx(0.00325, abs=1e-15)
    assert cost.price_source == "genai-prices"


def test_cached_tokens_are_not_part_of_input() -> None:
    cost = Pricer().price(GPT4O, Usage(input_tokens=1000, output_tokens=100, cached_tokens=200), AT)
    assert cost is not None
    assert cost.total_usd == pytest.approx(0.00375, abs=1e-15)


def test_reasoning_tokens_at_output_rate_and_counted_once() -> None:
    o3 = ModelInfo(name="o3", provider="openai")  # $2 in, $8 out, $0.5 cache read
    cost = Pricer().price(
        o3, Usage(input_tokens=1000, output_tokens=500, reasoning_tokens=1500), AT
    )
    assert cost is not None
    assert cost.output_usd == pytest.approx(0.004, abs=1e-15)
    assert cost.reasoning_usd == pytest.approx(0.012, abs=1e-15)
    assert cost.total_usd == pytest.approx(0.002 + 0.004 + 0.012, abs=1e-15)


def test_cache_write_priced_at_its_own_rate() -> None:
    claude = ModelInfo(name="claude-3-5-sonnet-20241022", provider="anthropic")
    usage = Usage(input_tokens=100, output_tokens=10, cached_tokens=1000, cache_write_tokens=2000)
    cost = Pricer().price(claude, usage, AT)  # $3 in, $15 out, $0.30 read, $3.75 write
    assert cost is not None
    assert cost.input_usd == pytest.approx(0.0003, abs=1e-15)
    assert cost.output_usd == pytest.approx(0.00015, abs=1e-15)
    assert cost.cached_usd == pytest.approx(0.0003, abs=1e-15)
    assert cost.cache_write_usd == pytest.approx(0.0075, abs=1e-15)
    assert cost.total_usd == pytest.approx(0.00825, abs=1e-15)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o"),
        (None, "gpt-4o-mini"),
        ("openai", "o3"),
        ("anthropic", "claude-sonnet-4-5"),
        ("google", "gemini-2.5-pro"),
        (None, "deepseek-chat"),
    ],
)
@pytest.mark.parametrize("scale", [1, 300])  # 300x crosses the 200k-token tiers
def test_total_matches_genai_prices_hierarchical_usage(
    provider: str | None, model: str, scale: int
) -> None:
    ours = Usage(
        input_tokens=600 * scale,
        output_tokens=150 * scale,
        cached_tokens=300 * scale,
        cache_write_tokens=100 * scale if "claude" in model else 0,
        reasoning_tokens=50 * scale,
    )
    theirs = genai_prices.Usage(
        input_tokens=ours.input_tokens + ours.cached_tokens + ours.cache_write_tokens,
        cache_read_tokens=ours.cached_tokens,
        cache_write_tokens=ours.cache_write_tokens,
        output_tokens=ours.output_tokens + ours.reasoning_tokens,
        output_reasoning_tokens=ours.reasoning_tokens,
    )
    lib = genai_prices.calc_price(theirs, model, provider_id=provider, genai_request_timestamp=AT)
    cost = Pricer().price(ModelInfo(name=model, provider=provider), ours, AT)
    assert cost is not None
    assert cost.total_usd == pytest.approx(float(lib.total_price), rel=1e-12)
    parts = (
        cost.input_usd
        + cost.output_usd
        + cost.cached_usd
        + cost.cache_write_usd
        + cost.reasoning_usd
    )
    assert cost.total_usd == pytest.approx(parts, rel=1e-12)


def test_unknown_model_is_a_miss_not_a_guess() -> None:
    pricer = Pricer()
    usage = Usage(input_tokens=10)
    assert pricer.quote(ModelInfo(name="my-finetune-7b"), usage, AT) == (None, "unknown_model")
    assert pricer.quote(ModelInfo(name="gpt-4o", provider="my-proxy"), usage, AT).miss == (
        "unknown_model"
    )
    assert pricer.quote(None, usage, AT) == (None, "no_model")
    assert pricer.quote(GPT4O, None, AT) == (None, "no_usage")
    assert pricer.price(ModelInfo(name="my-finetune-7b"), usage, AT) is None


def test_provider_and_model_are_case_insensitive() -> None:
    usage = Usage(input_tokens=1_000_000)
    cost = Pricer().price(ModelInfo(name="GPT-4o", provider="OpenAI"), usage, AT)
    assert cost is not None
    assert cost.total_usd == 2.5


def _override(name: str, when: datetime, inp: str, **kw: str) -> PriceOverride:
    return PriceOverride.model_validate(
        {
            "name": name,
            "model": "my-*",
            "effective_from": when,
            "input_per_mtok": inp,
            "output_per_mtok": "2",
            **kw,
        }
    )


def test_newest_override_effective_at_the_time_wins() -> None:
    old = _override("v1", datetime(2026, 1, 1, tzinfo=UTC), "1")
    new = _override("v2", datetime(2026, 6, 1, tzinfo=UTC), "3", project="acme")
    future = _override("v3", datetime(2027, 1, 1, tzinfo=UTC), "9")
    pricer = Pricer([future, old, new])
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cached_tokens=1_000_000)
    model = ModelInfo(name="My-Model")

    cost = pricer.price(model, usage, AT, project="acme")
    assert cost is not None
    assert (cost.input_usd, cost.output_usd, cost.cached_usd) == (3.0, 2.0, 3.0)
    assert cost.price_source == "override:v2"

    other = pricer.price(model, usage, AT, project="other")
    assert other is not None
    assert other.price_source == "override:v1"

    before = pricer.price(model, usage, datetime(2025, 12, 31, tzinfo=UTC), project="acme")
    assert before is None  # no override yet and the library does not know it

    later = pricer.price(model, usage, datetime(2027, 2, 1, tzinfo=UTC), project="acme")
    assert later is not None
    assert later.price_source == "override:v3"


def test_override_rates_per_usage_type() -> None:
    o = _override("x", datetime(2026, 1, 1, tzinfo=UTC), "4", cached_per_mtok="1",
                  cache_write_per_mtok="5", reasoning_per_mtok="20")  # fmt: skip
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cached_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        reasoning_tokens=1_000_000,
    )
    cost = Pricer([o]).price(ModelInfo(name="my-model"), usage, AT)
    assert cost is not None
    assert (cost.input_usd, cost.output_usd, cost.cached_usd) == (4.0, 2.0, 1.0)
    assert (cost.cache_write_usd, cost.reasoning_usd, cost.total_usd) == (5.0, 20.0, 32.0)


def test_override_can_replace_a_library_price() -> None:
    o = PriceOverride(
        name="negotiated", model="gpt-4o", effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        input_per_mtok=Decimal(1), output_per_mtok=Decimal(4),
    )  # fmt: skip
    cost = Pricer([o]).price(GPT4O, Usage(input_tokens=1_000_000), AT)
    assert cost is not None
    assert cost.total_usd == 1.0


def test_lookup_cache_is_bounded() -> None:
    pricer = Pricer(cache_size=2)
    for name in ("gpt-4o", "o3", "gpt-4o-mini", "nope"):
        pricer.price(ModelInfo(name=name), Usage(input_tokens=1), AT)
    assert len(pricer._models) == 2
