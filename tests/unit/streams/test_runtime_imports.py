"""The pure core imports no Kafka client; the runtimes import Faust only when it is asked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[3]


def _clients_after(statement: str) -> str:
    """Which of faust/aiokafka a fresh interpreter has loaded after ``statement``."""
    code = f"import sys; {statement}; print(sorted({{'faust', 'aiokafka'}} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return done.stdout.strip()


def test_the_core_imports_neither_client() -> None:
    assert _clients_after("import tracestream.streams") == "[]"


def test_the_default_runtime_and_tune_gc_do_not_import_faust() -> None:
    statement = "from tracestream.streams.runtime import KafkaWorker, tune_gc"
    assert _clients_after(statement) == "['aiokafka']"


def test_the_faust_runtime_is_there_when_asked_for() -> None:
    statement = "from tracestream.streams.runtime import WorkerApp"
    assert _clients_after(statement) == "['aiokafka', 'faust']"
