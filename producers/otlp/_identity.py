"""Deterministic event identity for spans received over OTLP.

OTLP delivery is at-least-once: an exporter that timed out re-sends the same
batch. Each span therefore gets an ``event_id`` computed from what identifies
it (project, trace id, span id) rather than a random one, so the retry produces
byte-identical events: the worker's assembly counts an ``event_id`` once and
the ClickHouse tables (ReplacingMergeTree keyed by trace and span id) merge the
copies.

The id is still a UUIDv7 (RFC 9562) as the contract requires: its time bits
come from the span's start time, so ids keep sorting by time, and its 62 "random"
bits are a BLAKE2b hash of the identity.
"""

from __future__ import annotations

from hashlib import blake2b

__all__ = ["span_event_id"]

_MAX_MS = (1 << 48) - 1


def span_event_id(project: str, trace_id: str, span_id: str, start_time_ns: int) -> str:
    """The UUIDv7 ``event_id`` of the ``span`` event for one OTLP span. Pure; never raises.

    Args:
        project: the tenant the span is stored under (two tenants' ids never collide).
        trace_id: 32 lower-case hex digits.
        span_id: 16 lower-case hex digits.
        start_time_ns: the span's start, Unix epoch nanoseconds (clamped to UUIDv7's range).
    """
    ms, rest = divmod(max(start_time_ns, 0), 1_000_000)
    ms = min(ms, _MAX_MS)
    digest = blake2b(
        f"{project}\x00{trace_id}\x00{span_id}".encode(), digest_size=8, person=b"ts-otlp-span"
    ).digest()
    rand = int.from_bytes(digest, "big") >> 2  # 62 bits
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - the same layout as producers' ids
        (ms >> 16) & 0xFFFFFFFF,
        ms & 0xFFFF,
        0x7000 | (rest * 4096 // 1_000_000),
        0x8000 | (rand >> 48),
        rand & 0xFFFFFFFFFFFF,
    )
