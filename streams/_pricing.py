"""Tokens to USD: each usage type priced on its own, from genai-prices or an override.

How our :class:`~tracestream.schemas.Usage` maps onto the price table. Our
token kinds are disjoint (``input_tokens`` excludes cached and cache-write
tokens, ``output_tokens`` excludes reasoning tokens); genai-prices counts
hierarchically (its ``input_tokens`` *includes* cache reads and writes, its
``output_tokens`` includes reasoning). So each of our kinds is one leaf:

==================  ==========================  =====================================
our field           genai-prices price key      when the table has no price for it
==================  ==========================  =====================================
input_tokens        ``input_mtok``              (required, else the model is unknown)
cached_tokens       ``cache_read_mtok``         input rate (what genai-prices does)
cache_write_tokens  ``cache_write_mtok``        input rate
output_tokens       ``output_mtok``             (required, else the model is unknown)
reasoning_tokens    ``output_reasoning_mtok``   output rate (providers bill it as output)
==================  ==========================  =====================================

Tiered prices (a "cliff": past a threshold every token pays the tier rate)
are resolved on genai-prices' total input, ``input + cached + cache_write``.
Per-request fees, web-search fees and non-text modalities are not priced: our
usage does not carry them. Money is summed in ``Decimal`` and converted to
``float`` once, so ``total_usd`` equals the sum of the parts to the cent.

The reference: gpt-4o, 800 uncached + 200 cached input and 100 output tokens
costs $0.00325 (genai-prices writes the same usage as ``input_tokens=1000,
cache_read_tokens=200``); 1,000 uncached + 200 cached is $0.00375.
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from genai_prices import data_snapshot
from genai_prices.types import ModelInfo as _TableModel
from genai_prices.types import ModelPrice, TieredPrices
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tracestream.schemas import Cost, ModelInfo, Usage, UtcDatetime, construct

__all__ = ["MissReason", "PriceOverride", "Pricer", "Quote"]

#: Why a generation has no cost: the worker counts these by reason.
MissReason = Literal["no_model", "no_usage", "unknown_model"]

_MTOK = Decimal(1_000_000)


class PriceOverride(BaseModel):
    """A project's own price for models matching ``model``, from ``effective_from`` on.

    Prices are USD per million tokens. ``cached``/``cache_write`` default to the
    input price and ``reasoning`` to the output price, as in the library table.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, description="Shown as override:<name>")
    project: str = Field("*", min_length=1, description="Project name or glob; * for all")
    model: str = Field(min_length=1, description="Model name glob, case-insensitive")
    effective_from: UtcDatetime
    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cached_per_mtok: Decimal | None = Field(None, ge=0)
    cache_write_per_mtok: Decimal | None = Field(None, ge=0)
    reasoning_per_mtok: Decimal | None = Field(None, ge=0)

    @field_validator("model", "project")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Quote(NamedTuple):
    """A cost, or why there is none (exactly one of the two is set)."""

    cost: Cost | None
    miss: MissReason | None


class _Rates(NamedTuple):
    """Per-token-kind rates in USD per million tokens; tiers as (start, rate) ascending."""

    input: Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]]
    output: Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]]
    cached: Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]] | None
    cache_write: Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]] | None
    reasoning: Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]] | None


class Pricer:
    """Prices generations. Pure, synchronous, microseconds per call after warm-up.

    Args:
        overrides: project-level prices; among those matching the project and
            model and effective at the call's ``at``, the newest wins.
        cache_size: entries of the (provider, model) and (project, model) LRUs.

    Not thread-safe (the LRUs are plain dicts); one per worker task.
    """

    def __init__(self, overrides: Sequence[PriceOverride] = (), *, cache_size: int = 4096) -> None:
        # Newest first, so the first one effective at `at` is the winner.
        self._overrides = sorted(overrides, key=lambda o: o.effective_from, reverse=True)
        self._cache_size = cache_size
        self._models: OrderedDict[tuple[str, str], _TableModel | None] = OrderedDict()
        self._matching: OrderedDict[tuple[str, str], tuple[PriceOverride, ...]] = OrderedDict()
        self._minute_rates: dict[tuple[str | None, str, int], _Rates | None] = {}

    def price(
        self, model: ModelInfo | None, usage: Usage | None, at: datetime, *, project: str = ""
    ) -> Cost | None:
        """The cost of one generation, or None when it cannot be priced (see :meth:`quote`)."""
        return self.quote(model, usage, at, project=project).cost

    def quote(
        self, model: ModelInfo | None, usage: Usage | None, at: datetime, *, project: str = ""
    ) -> Quote:
        """The cost of one generation at time ``at`` (UTC-aware), or the reason it has none.

        Never raises for unknown models or providers: those are a miss
        (``unknown_model``), never a guess at a similar model's price.
        """
        if model is None:
            return Quote(None, "no_model")
        if usage is None:
            return Quote(None, "no_usage")
        name = model.name.lower()
        for override in self._overrides_for(project.lower(), name):
            if override.effective_from <= at:
                return Quote(
                    _cost(_override_rates(override), usage, f"override:{override.name}"), None
                )
        rates = self._rates(model.provider, name, at)
        if rates is None:
            return Quote(None, "unknown_model")
        return Quote(_cost(rates, usage, "genai-prices"), None)

    def _rates(self, provider: str | None, name: str, at: datetime) -> _Rates | None:
        # The table's prices change at dates and, for some models, times of day
        # given to the minute: one lookup per model and minute, not per call.
        minute = int(at.timestamp()) // 60
        key = (provider, name, minute)
        cache = self._minute_rates
        if key in cache:
            return cache[key]
        info = self._model(provider, name)
        rates = None if info is None else _library_rates(info.get_prices(at))
        if len(cache) >= self._cache_size:
            cache.clear()
        cache[key] = rates
        return rates

    def _model(self, provider: str | None, name: str) -> _TableModel | None:
        key = ((provider or "").lower(), name)
        cache = self._models
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        try:
            _, info = data_snapshot.get_snapshot().find_provider_model(name, None, provider, None)
        except LookupError:
            info = None  # cached too: a storm of one unknown model stays cheap
        cache[key] = info
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return info

    def _overrides_for(self, project: str, name: str) -> tuple[PriceOverride, ...]:
        if not self._overrides:
            return ()
        key = (project, name)
        cache = self._matching
        found = cache.get(key)
        if found is None:
            found = tuple(
                o
                for o in self._overrides
                if fnmatch.fnmatchcase(project, o.project) and fnmatch.fnmatchcase(name, o.model)
            )
            cache[key] = found
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
        return found


def _override_rates(o: PriceOverride) -> _Rates:
    return _Rates(
        o.input_per_mtok,
        o.output_per_mtok,
        o.cached_per_mtok,
        o.cache_write_per_mtok,
        o.reasoning_per_mtok,
    )


def _library_rates(prices: ModelPrice) -> _Rates | None:
    # A table row without an input or output token price (image or audio
    # models, per-request pricing) cannot price our usage: a miss, not zero.
    inp = _rate(getattr(prices, "input_mtok", None))
    out = _rate(getattr(prices, "output_mtok", None))
    if inp is None or out is None:
        return None
    return _Rates(
        inp,
        out,
        _rate(getattr(prices, "cache_read_mtok", None)),
        _rate(getattr(prices, "cache_write_mtok", None)),
        _rate(getattr(prices, "output_reasoning_mtok", None)),
    )


def _rate(value: object) -> Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]] | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, TieredPrices):
        return value.base, tuple((t.start, t.price) for t in value.tiers)
    return None


def _resolve(
    rate: Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]], total_input: int
) -> Decimal:
    if isinstance(rate, Decimal):
        return rate
    base, tiers = rate
    # genai-prices' cliff rule: the highest tier whose start the total input exceeds.
    for start, tier_rate in reversed(tiers):
        if total_input > start:
            return tier_rate
    return base


def _cost(rates: _Rates, usage: Usage, source: str) -> Cost:
    inputs, outputs = usage.input_tokens, usage.output_tokens
    cached_n, write_n, reasoning_n = (
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )
    total_input = inputs + cached_n + write_n
    inp = _resolve(rates.input, total_input)
    out = _resolve(rates.output, total_input)
    input_usd = inp * inputs / _MTOK
    output_usd = out * outputs / _MTOK
    total = input_usd + output_usd
    # Most generations have no cache or reasoning tokens: a zero part adds
    # nothing to the exact Decimal sum, so it is skipped, not computed.
    cached_usd = write_usd = reasoning_usd = 0.0
    if cached_n:
        rate = inp if rates.cached is None else _resolve(rates.cached, total_input)
        part = rate * cached_n / _MTOK
        cached_usd = float(part)
        total += part
    if write_n:
        rate = inp if rates.cache_write is None else _resolve(rates.cache_write, total_input)
        part = rate * write_n / _MTOK
        write_usd = float(part)
        total += part
    if reasoning_n:
        rate = out if rates.reasoning is None else _resolve(rates.reasoning, total_input)
        part = rate * reasoning_n / _MTOK
        reasoning_usd = float(part)
        total += part
    # Non-negative rates times non-negative counts, and a non-empty source cut
    # to the label's length: valid by construction, and validating cost as
    # much as the arithmetic.
    return construct(
        Cost,
        input_usd=float(input_usd),
        output_usd=float(output_usd),
        cached_usd=cached_usd,
        cache_write_usd=write_usd,
        reasoning_usd=reasoning_usd,
        total_usd=float(total),
        price_source=source[:256],
    )
