"""The README's main command works: events go SDK -> Kafka -> worker -> sink -> chDB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

TRACESTREAM = str(Path(sys.executable).with_name("tracestream"))


def test_demo_stores_every_trace_with_redaction_and_cost(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TRACESTREAM_TOPIC_PREFIX": topic_prefix,
        "TRACESTREAM_TOPIC_PARTITIONS": "2",
        "TRACESTREAM_HOME": str(tmp_path / "home"),
        "TRACESTREAM_WORKER_APP_ID": f"{topic_prefix}worker",
        "TRACESTREAM_SINK_GROUP_ID": f"{topic_prefix}sink",
    }
    done = subprocess.run(
        [TRACESTREAM, "demo", "--traces", "6", "--timeout", "120"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "traces stored: 6/6" in out
    assert "events sent" in out and ", 0 dropped" in out
    # What an analyst sees: masked PII, costs per model, the unpriced model flagged.
    assert "<EMAIL>" in out or "<CREDIT_CARD>" in out or "<PHONE>" in out
    assert "@example.com" not in out.split("A stored input")[1]
    assert "Cost and latency by model" in out
    assert (tmp_path / "home" / "demo-worker" / "worker.log").is_file()
