"""Event ids of OTLP spans: deterministic, valid UUIDv7, time-ordered by span start."""

from __future__ import annotations

import re
import uuid

import pytest

from tracestream.producers.otlp import span_event_id

pytestmark = pytest.mark.unit

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
T, S = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b7"


def test_same_span_same_id_and_valid_uuid7() -> None:
    a = span_event_id("p", T, S, 1_764_000_000_123_456_789)
    assert a == span_event_id("p", T, S, 1_764_000_000_123_456_789)
    assert UUID7.match(a)
    parsed = uuid.UUID(a)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1_764_000_000_123  # the span's start in milliseconds


@pytest.mark.parametrize(
    ("project", "trace_id", "span_id"),
    [("q", T, S), ("p", "6" + T[1:], S), ("p", T, "2" + S[1:])],
)
def test_any_identity_change_changes_the_id(project: str, trace_id: str, span_id: str) -> None:
    assert span_event_id(project, trace_id, span_id, 1) != span_event_id("p", T, S, 1)


def test_ids_sort_by_start_time() -> None:
    starts = [1_000_000_000, 1_000_000_500, 1_000_400_000, 2_000_000_000]
    ids = [span_event_id("p", T, f"{i + 1:016x}", ns) for i, ns in enumerate(starts)]
    assert ids == sorted(ids)


@pytest.mark.parametrize("start_ns", [0, -5, 2**64 - 1])
def test_extreme_start_times_still_give_uuid7(start_ns: int) -> None:
    assert UUID7.match(span_event_id("p", T, S, start_ns))
