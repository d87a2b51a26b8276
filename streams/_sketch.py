"""A latency sketch that merges exactly and travels as base64: DDSketch's buckets.

DDSketch (relative accuracy 1 %) maps each value to a logarithmic bucket; the
bucket counts of two sketches with the same accuracy add up to the sketch of
the union, so windows from different partitions (or minutes) merge with no
extra error. :class:`SketchBins` keeps exactly those buckets as plain data
(JSON-able, cheap to update in a changelogged table: one dict increment per
value); ddsketch itself answers the quantile queries. ddsketch's protobuf codec
needs ``protobuf``, so the wire form is this model's JSON, base64-encoded.

Latencies are never negative: a negative input (clocks of split start/end
events may disagree) is clamped to zero.
"""

from __future__ import annotations

import base64
from functools import cache

from ddsketch import DDSketch
from ddsketch.mapping import LogarithmicMapping
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracestream.schemas import TracestreamError

__all__ = ["SketchBins", "SketchError"]


class SketchError(TracestreamError, ValueError):
    """A serialized sketch is malformed, or two sketches have different accuracy."""


@cache
def _mapping(relative_accuracy: float) -> LogarithmicMapping:
    return LogarithmicMapping(relative_accuracy)


class SketchBins(BaseModel):
    """Bucket counts of a DDSketch over latencies in milliseconds.

    Guarantee: :meth:`quantile` is within ``ra`` (relative) of the exact
    lower-rank quantile of the values added.
    """

    model_config = ConfigDict(extra="forbid")

    ra: float = 0.01
    bins: dict[int, int] = Field(default_factory=dict)
    zero: int = 0
    n: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None

    def add(self, value_ms: float) -> None:
        v = max(0.0, value_ms)
        # Field values written directly: once per span on the worker's hot path,
        # where pydantic's __setattr__ cost more than the sketch itself.
        d = self.__dict__
        mapping = _mapping(d["ra"])
        if v > mapping.min_possible:
            k = mapping.key(v)
            bins = d["bins"]
            bins[k] = bins.get(k, 0) + 1
        else:
            d["zero"] += 1
        d["n"] += 1
        d["sum"] += v
        low, high = d["min"], d["max"]
        d["min"] = v if low is None or v < low else low
        d["max"] = v if high is None or v > high else high

    def merge(self, other: SketchBins) -> None:
        """Add ``other``'s values into this one (exact: bucket counts add)."""
        if other.ra != self.ra:
            raise SketchError(f"cannot merge sketches of accuracy {self.ra} and {other.ra}")
        for k, c in other.bins.items():
            self.bins[k] = self.bins.get(k, 0) + c
        self.zero += other.zero
        self.n += other.n
        self.sum += other.sum
        for bound, pick in (("min", min), ("max", max)):
            theirs = getattr(other, bound)
            if theirs is not None:
                mine = getattr(self, bound)
                setattr(self, bound, theirs if mine is None else pick(mine, theirs))

    def quantiles(self, *qs: float) -> tuple[float | None, ...]:
        """The q-quantiles (None each when empty), from a DDSketch rebuilt from the buckets."""
        if self.n == 0:
            return tuple(None for _ in qs)
        # Rebuilt through ddsketch's public API: each bucket's representative value
        # (``mapping.value``) maps back to that bucket, so adding it with the bucket's
        # count restores the store exactly (held by test_sketch's round-trip test).
        mapping = _mapping(self.ra)
        sketch = DDSketch(relative_accuracy=self.ra)
        for k, c in self.bins.items():
            sketch.add(mapping.value(k), float(c))
        if self.zero:
            sketch.add(0.0, float(self.zero))
        values = (sketch.get_quantile_value(q) for q in qs)
        return tuple(None if v is None else float(v) for v in values)

    def to_base64(self) -> str:
        """The wire form: this model's JSON, base64."""
        return base64.b64encode(self.model_dump_json().encode()).decode("ascii")

    @classmethod
    def from_base64(cls, data: str) -> SketchBins:
        """Inverse of :meth:`to_base64`. Raises :class:`SketchError` on bad input."""
        try:
            return cls.model_validate_json(base64.b64decode(data, validate=True))
        except (ValueError, ValidationError) as exc:
            raise SketchError(f"malformed sketch: {exc}") from exc
