"""The bare install is the SDK: it must work with none of the [pipeline] packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.unit

PIPELINE_ONLY = (
    "faust", "mode", "rocksdict", "chdb", "clickhouse_connect", "pyarrow", "prometheus_client",
    "ddsketch", "genai_prices", "phonenumbers", "rich",
)  # fmt: skip

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = set(sys.argv[1].split(","))

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())

    import tracestream
    from tracestream.producers import InMemoryTransport
    from tracestream.schemas import EventParser

    transport = InMemoryTransport()
    tracer = tracestream.configure(transport=transport, project="p", service="svc")
    with tracer.trace("t", input="hello") as root:
        with tracer.generation(model="gpt-4o", input=[{"role": "user", "content": "hi"}]) as g:
            g.record_usage(input_tokens=3, output_tokens=1)
    tracer.shutdown(1.0)
    events = [EventParser().parse(value) for _, value in transport.records]
    assert len(events) == 2, events
    loaded = sorted(m for m in BLOCKED if m in sys.modules)
    assert not loaded, loaded
    print("ok")
    """
)


def test_sdk_runs_without_pipeline_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(PIPELINE_ONLY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
