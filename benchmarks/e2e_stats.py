"""The pure parts of ``tracestream bench e2e``: quantiles, the ramp's verdict, the report.

No I/O here, so a unit test checks them without a broker or an engine.

*Bounded lag*, as the ramp judges it: at the end of a step, everything
produced more than :data:`BEHIND_TARGET_S` seconds ago is stored (the
backlog is at most that many seconds of the step's rate), and the backlog did
not grow by more than one second of input over the step's second half. The
first rule is the p99 freshness target restated as a backlog; the second
catches a pipeline that falls behind slowly while still inside the first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BEHIND_TARGET_S",
    "LANGSMITH_BYTES_PER_TRACE",
    "TARGETS",
    "RampStep",
    "StoredTable",
    "highest_sustained",
    "percentile",
    "storage_report",
    "summarize_freshness",
]

#: Freshness targets of issue 16 on a 2-core machine: printed beside the numbers.
TARGETS = {"freshness_p50_s": 1.0, "freshness_p99_s": 3.0}
#: How far behind (seconds of input) the pipeline may be and still count as keeping up.
BEHIND_TARGET_S = 3.0
#: LangSmith's sizing: ~600 GiB per retained day at 1,000 traces/s.
LANGSMITH_BYTES_PER_TRACE = 600 * 2**30 / (1_000 * 86_400)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linear between closest ranks.

    NaN for no values (a report shows that nothing was measured).
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rounded(value: float, digits: int) -> float | None:
    """``value`` rounded, or None where nothing was measured (JSON has no NaN)."""
    return None if math.isnan(value) else round(value, digits)


def summarize_freshness(
    seconds: Sequence[float], missing: int, poll_s: float, published: Sequence[float] = ()
) -> dict[str, Any]:
    """The freshness block of the report, each quantile beside its target.

    ``published``: seconds from span end to the worker's send of its span
    record, for the same spans: the first leg; the rest is the sink's.
    """
    return {
        "spans_probed": len(seconds) + missing,
        "spans_not_seen": missing,
        "p50_s": _rounded(percentile(seconds, 50), 3),
        "p99_s": _rounded(percentile(seconds, 99), 3),
        "max_s": _rounded(max(seconds, default=math.nan), 3),
        "target_p50_s": TARGETS["freshness_p50_s"],
        "target_p99_s": TARGETS["freshness_p99_s"],
        # A row is timed by the poll that first returned it: up to one interval late.
        "poll_interval_s": poll_s,
        "to_worker_publish_p50_s": _rounded(percentile(published, 50), 3),
        "to_worker_publish_p99_s": _rounded(percentile(published, 99), 3),
    }


@dataclass(frozen=True, slots=True)
class RampStep:
    """One step of the ramp: the rate asked, what was produced, the backlog seen.

    Attributes:
        rate: events/s asked of the producer.
        produced_per_s: events/s the producer achieved over the step.
        stored_per_s: span rows/s the sink stored over the step.
        backlog_mid: spans produced and not yet stored, halfway through the step.
        backlog_end: the same at the step's end.
    """

    rate: int
    produced_per_s: float
    stored_per_s: float
    backlog_mid: int
    backlog_end: int

    @property
    def producer_kept_up(self) -> bool:
        """Whether the producer delivered the rate (else the step measures the producer)."""
        return self.produced_per_s >= 0.95 * self.rate

    @property
    def sustained(self) -> bool:
        """Bounded lag (module docstring): small backlog at the end, not growing."""
        return (
            self.producer_kept_up
            and self.backlog_end <= BEHIND_TARGET_S * self.rate
            and self.backlog_end - self.backlog_mid <= self.rate
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "produced_per_s": round(self.produced_per_s),
            "stored_per_s": round(self.stored_per_s),
            "backlog_mid": self.backlog_mid,
            "backlog_end": self.backlog_end,
            "backlog_end_s": round(self.backlog_end / self.rate, 2),
            "sustained": self.sustained,
        }


def highest_sustained(steps: Sequence[RampStep]) -> int | None:
    """The rate of the last sustained step before the first that was not (None: none was)."""
    best = None
    for step in steps:
        if not step.sustained:
            break
        best = step.rate
    return best


@dataclass(frozen=True, slots=True)
class StoredTable:
    """One table after ``OPTIMIZE ... FINAL``, from ``system.parts`` (active parts)."""

    table: str
    rows: int
    bytes_on_disk: int
    bytes_uncompressed: int


def storage_report(tables: Sequence[StoredTable], spans: int, traces: int) -> dict[str, Any]:
    """Bytes per span (the spans table) and per trace (every table), against LangSmith's.

    ``spans`` and ``traces`` are the distinct rows under ``FINAL``; a table's
    own ``rows`` count is its merged parts.
    """
    by_name = {t.table: t for t in tables}
    total = sum(t.bytes_on_disk for t in tables)
    span_bytes = by_name["spans"].bytes_on_disk if "spans" in by_name else 0
    per_trace = total / traces if traces else math.nan
    return {
        "spans": spans,
        "traces": traces,
        "spans_per_trace": _rounded(spans / traces if traces else math.nan, 2),
        "bytes_per_span": _rounded(span_bytes / spans if spans else math.nan, 1),
        "bytes_per_trace": _rounded(per_trace, 1),
        "langsmith_bytes_per_trace": round(LANGSMITH_BYTES_PER_TRACE),
        "ratio_to_langsmith": _rounded(per_trace / LANGSMITH_BYTES_PER_TRACE, 3),
        "tables": {
            t.table: {
                "rows": t.rows,
                "bytes_on_disk": t.bytes_on_disk,
                "compression": _rounded(
                    t.bytes_uncompressed / t.bytes_on_disk if t.bytes_on_disk else math.nan, 1
                ),
            }
            for t in tables
        },
    }
