"""End-to-end tests run the product as a user starts it: on the default worker engine.

Both engines are held to the same behaviour by tests/integration/streams and
tests/faults (assembly, DLQ, topics, windows, redaction, outages, publish
failures), each run once per engine. The end-to-end tests exercise the paths
around the worker (demo, alerts, wheel, browser), which the engine does not
change; running them twice cost about two minutes of the suite for nothing
the per-engine tests do not already check.
"""

from __future__ import annotations

import pytest

__all__ = ["worker_engine"]


@pytest.fixture(autouse=True)
def worker_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The default engine (``aiokafka``), set for the worker children a test starts."""
    monkeypatch.setenv("TRACESTREAM_WORKER_ENGINE", "aiokafka")
    return "aiokafka"
