"""The SDK's bare install stays light: the receiver is an extra, never imported by it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_importing_the_sdk_imports_no_receiver() -> None:
    code = (
        "import sys, tracestream, tracestream.producers; "
        "heavy = {'tracestream.producers.otlp', 'google.protobuf', 'starlette', 'uvicorn', "
        "'opentelemetry', 'openinference', 'openai', 'anthropic'}; "
        "assert callable(tracestream.instrument); print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[4],
    )
    assert done.stdout.strip() == "[]", done.stdout
