"""A real Prometheus scrapes a running worker and fires the anomaly alert.

The worker runs with 2-second windows; spans go through the real broker: six
steady windows (the baseline) then one slow window. The worker closes the slow
window (idle flush), scores it, sets ``tracestream_anomaly_active``; Prometheus
(``/usr/bin/prometheus``, Debian's package) scrapes every second, evaluates the
repository's own rule file every second, and ``/api/v1/alerts`` must show
``TracestreamAnomalyDetected`` pending or firing for the latency metric.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.streams._kafka_io import consume, produce
from tests.integration.streams.test_worker_dlq import worker_env
from tracestream._worker_process import WorkerProcess, free_port, metric_value
from tracestream.schemas import Topics

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.prometheus]

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
WINDOW_S = 2
BASELINE_WINDOWS = 6
SPANS_PER_WINDOW = 12


def _prometheus_binary() -> str:
    path = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if path is None:
        pytest.fail(
            "the Prometheus server is not installed, so the alert end-to-end test cannot run. "
            "Fix: apt-get install -y prometheus (CI's bootstrap installs it)."
        )
    return path


def _get(url: str, timeout_s: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.loads(response.read())


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """(config path, port) of a Prometheus started on a free port; the test writes the
    scrape targets into the config before calling ``/-/reload``."""
    binary = _prometheus_binary()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n")
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}: {_tail(tmp_path)}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1).close()
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"prometheus not ready in 30s: {_tail(tmp_path)}")
                time.sleep(0.2)
        yield config, port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _reload(port: int) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/-/reload", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def _tail(tmp_path: Path) -> str:
    return (tmp_path / "prometheus.log").read_text(errors="replace")[-2000:]


def _spans(start: datetime) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """Whole-span events: steady windows of ~100 ms tool calls, then one of ~3 s."""
    rng = random.Random(3)
    out: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    for w in range(BASELINE_WINDOWS + 1):
        slow = w == BASELINE_WINDOWS
        for i in range(SPANS_PER_WINDOW):
            n = w * SPANS_PER_WINDOW + i
            end = start + timedelta(seconds=w * WINDOW_S + (i + 0.5) * WINDOW_S / SPANS_PER_WINDOW)
            latency_ms = (3000.0 if slow else 100.0) + rng.uniform(-10, 10)
            event = {
                "event_id": f"01936f4e-7c2a-7def-8a4b-{n:012x}",
                "event_type": "span",
                "project": "e2e",
                "service": "checkout",
                "trace_id": f"{rng.getrandbits(128) | 1:032x}",
                "span_id": f"{rng.getrandbits(64) | 1:016x}",
                "timestamp": end.isoformat(),
                "kind": "tool",
                "name": "search",
                "start_time": (end - timedelta(milliseconds=latency_ms)).isoformat(),
                "end_time": end.isoformat(),
                "status": "ok",
            }
            # One Kafka key: one partition, so the worker sees the windows in order
            # (a span for an already closed window would be dropped as late).
            out.append((b"e2e", orjson.dumps(event), []))
    return out


async def test_latency_anomaly_fires_the_prometheus_alert(
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: Topics,
    prometheus: tuple[Path, int],
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    config, prom_port = prometheus
    env = {
        **worker_env(kafka_bootstrap, topic_prefix),
        "TRACESTREAM_WINDOW_S": str(WINDOW_S),
        "TRACESTREAM_ALLOWED_LATENESS_S": "0",
        "TRACESTREAM_ANOMALY_MIN_BASELINE": "3",
        "TRACESTREAM_ANOMALY_MIN_COUNT": "5",
        "TRACESTREAM_WORKER_TICK_INTERVAL_MS": "200",
    }
    with WorkerProcess(env, tmp_path / "worker") as worker:
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {RULES}/*.yml\n"
            "scrape_configs:\n  - job_name: tracestream-worker\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{worker.web_port}']\n"
        )
        await asyncio.to_thread(_reload, prom_port)

        now = datetime.now(UTC)
        epoch = int(now.timestamp()) // WINDOW_S * WINDOW_S
        start = datetime.fromtimestamp(epoch, UTC) - timedelta(
            seconds=WINDOW_S * (BASELINE_WINDOWS + 3)
        )
        await produce(kafka_bootstrap, kafka_topics.events, _spans(start))

        alert: dict[str, Any] | None = None
        deadline = time.monotonic() + 60
        while alert is None and time.monotonic() < deadline:
            url = f"http://127.0.0.1:{prom_port}/api/v1/alerts"
            alerts = (await asyncio.to_thread(_get, url))["data"]["alerts"]
            alert = next(
                (
                    a
                    for a in alerts
                    if a["labels"].get("alertname") == "TracestreamAnomalyDetected"
                    and a["labels"].get("metric") == "latency_p95_ms"
                ),
                None,
            )
            if alert is None:
                await asyncio.sleep(0.5)
        text = await asyncio.to_thread(worker.metrics)
    assert alert is not None, (
        "no TracestreamAnomalyDetected alert within 60s; worker windows closed: "
        f"{metric_value(text, 'tracestream_metric_windows_total')}, anomalies: "
        f"{metric_value(text, 'tracestream_anomalies_total')}"
    )
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["service"] == "checkout"
    assert metric_value(text, "tracestream_metric_windows_total") >= BASELINE_WINDOWS + 1
    # The same story on the topics the sinks read.
    windows = [
        orjson.loads(r.value)
        for r in await consume(kafka_bootstrap, kafka_topics.metrics, BASELINE_WINDOWS + 1)
    ]
    assert [w["count"] for w in windows] == [SPANS_PER_WINDOW] * (BASELINE_WINDOWS + 1)
    assert windows[-1]["latency_p95_ms"] > 2900 > windows[0]["latency_p95_ms"]
    anomalies = [
        orjson.loads(r.value)
        for r in await consume(kafka_bootstrap, kafka_topics.anomalies, 1, timeout_s=10)
    ]
    assert [(a["metric"], a["direction"]) for a in anomalies] == [("latency_p95_ms", "high")]
    assert anomalies[0]["window_start"] == windows[-1]["window_start"]
    assert time.monotonic() - started < 110
