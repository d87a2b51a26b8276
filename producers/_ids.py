"""Identifiers and timestamps for the hot path: OpenTelemetry-compatible ids, UUIDv7.

Everything here is called once or more per span on the application thread, so
it avoids objects it does not need: ids come from one process-wide
``random.Random`` seeded from ``os.urandom`` (reseeded after ``fork`` so child
processes do not repeat their parent's ids), formatted as lower-case hex.
None of these functions block or raise.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

__all__ = [
    "datetime_from_ns",
    "iso_from_ns",
    "new_event_id",
    "new_span_id",
    "new_trace_id",
    "sample_bound",
    "trace_sampled",
]

_rng = random.Random(os.urandom(32))
_getrandbits = _rng.getrandbits


def _reseed() -> None:
    _rng.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MASK_64 = (1 << 64) - 1


def new_trace_id() -> str:
    """A random 128-bit trace id as 32 lower-case hex digits (never all zeros)."""
    value = _getrandbits(128)
    while not value:  # the all-zero id is OpenTelemetry's "invalid"
        value = _getrandbits(128)
    return f"{value:032x}"


def new_span_id() -> str:
    """A random 64-bit span id as 16 lower-case hex digits (never all zeros)."""
    value = _getrandbits(64)
    while not value:
        value = _getrandbits(64)
    return f"{value:016x}"


def new_event_id(time_ns: int) -> str:
    """A UUIDv7 for an event created at ``time_ns`` (Unix epoch, nanoseconds).

    Layout (RFC 9562, method 3): 48 bits of milliseconds, version 7, 12 bits of
    sub-millisecond fraction (so ids sort by time within a millisecond too),
    variant ``10``, 62 random bits.
    """
    ms, rest = divmod(time_ns, 1_000_000)
    rand = _getrandbits(62)
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - %-format is the fastest here
        (ms >> 16) & 0xFFFFFFFF,
        ms & 0xFFFF,
        0x7000 | (rest * 4096 // 1_000_000),
        0x8000 | (rand >> 48),
        rand & 0xFFFFFFFFFFFF,
    )


def datetime_from_ns(time_ns: int) -> datetime:
    """An aware UTC datetime for a Unix time in nanoseconds, exact to the microsecond."""
    return _EPOCH + timedelta(microseconds=time_ns // 1000)


_second_cache: tuple[int, str] = (-1, "")


def iso_from_ns(time_ns: int) -> str:
    """RFC 3339 UTC text for a Unix time in nanoseconds, to the microsecond
    (``2026-11-24T07:30:00.123456Z``). The date part is cached per second:
    this runs several times per span."""
    global _second_cache
    seconds, micros = divmod(time_ns // 1000, 1_000_000)
    cached = _second_cache
    if cached[0] != seconds:
        cached = (seconds, (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S."))
        _second_cache = cached  # one tuple assignment: safe to race
    return f"{cached[1]}{micros:06d}Z"


def sample_bound(rate: float) -> int:
    """The threshold for :func:`trace_sampled` at a sampling ``rate`` in [0, 1]."""
    if rate >= 1.0:
        return 1 << 64
    if rate <= 0.0:
        return 0
    return int(rate * (1 << 64))


def trace_sampled(trace_id: str, bound: int) -> bool:
    """Head-sampling decision from the trace id alone, the same in every service.

    Like OpenTelemetry's ``TraceIdRatioBased``: the lower 64 bits of the trace
    id, read as an integer, are compared with ``rate * 2**64``. Trace ids are
    random, so a rate of 0.1 keeps one trace in ten, and every process that
    sees the same trace id makes the same decision.
    """
    if bound > _MASK_64:
        return True
    try:
        return int(trace_id[16:32], 16) < bound
    except ValueError:
        return True
