"""The SDK's public surface changes only on purpose."""

from __future__ import annotations

import pytest

import tracestream
import tracestream.producers as producers

pytestmark = pytest.mark.unit

EXPECTED = [
    "InMemoryTransport",
    "JsonlTransport",
    "KafkaTransport",
    "Mask",
    "QueuedBatch",
    "Span",
    "TRUNCATED_KEY",
    "Tracer",
    "TracerStats",
    "Transport",
    "TransportStats",
    "current_span",
    "get_tracer",
    "murmur2_partition",
    "queue_record_batches",
    "set_tracer",
    "traced",
    "with_context",
]


def test_exported_members() -> None:
    assert sorted(producers.__all__) == sorted(EXPECTED)
    assert list(producers.__all__) == sorted(producers.__all__, key=lambda n: (not n.isupper(), n))
    for name in producers.__all__:
        assert hasattr(producers, name), name


def test_public_objects_live_in_private_modules() -> None:
    for name in producers.__all__:
        obj = getattr(producers, name)
        if name != "Mask" and (isinstance(obj, type) or callable(obj)):
            assert obj.__module__.startswith("tracestream.producers._"), (name, obj.__module__)


def test_configure_is_on_the_top_level_package() -> None:
    assert "configure" in tracestream.__all__
