"""Run every worker test under each worker runtime (``worker_engine`` setting).

The worker tests start ``tracestream worker`` as a child process that inherits
this process's environment, so setting ``TRACESTREAM_WORKER_ENGINE`` selects
the runtime. Test directories that start workers re-export the fixture from
their ``conftest.py``; their assertions are the same for both engines.
"""

from __future__ import annotations

import pytest

__all__ = ["worker_engine"]

ENGINES = ("faust", "aiokafka")


@pytest.fixture(params=ENGINES, autouse=True)
def worker_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine of this run of the test; set for the worker children it starts."""
    engine: str = request.param
    monkeypatch.setenv("TRACESTREAM_WORKER_ENGINE", engine)
    return engine
