"""The alert rules in deploy/prometheus are valid and behave as their unit tests say."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client import CollectorRegistry

from tracestream.producers._metrics import register_metrics
from tracestream.sinks._metrics import SinkMetrics
from tracestream.streams._metrics import PipelineMetrics

pytestmark = pytest.mark.prometheus

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed, so the alert rules cannot be tested. "
            "Fix: apt-get install -y prometheus (Debian's package ships /usr/bin/promtool)."
        )
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120, check=False
    )


def test_config_and_rules_are_valid() -> None:
    result = _run("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    tests = sorted(str(p.relative_to(DEPLOY)) for p in (DEPLOY / "tests").glob("*.yml"))
    assert tests, "no promtool tests in deploy/prometheus/tests"
    result = _run("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    rules = (DEPLOY / "rules" / "tracestream.rules.yml").read_text()
    alerts = set(re.findall(r"- alert: (\w+)", rules))
    tested = set()
    for path in (DEPLOY / "tests").glob("*.yml"):
        tested |= set(re.findall(r"alertname: (\w+)", path.read_text()))
    assert alerts - tested == set()


class _SdkStats:
    sent = buffered = buffered_bytes = sampled_out = 0
    dropped_by_reason: ClassVar[dict[str, int]] = {"queue_full": 1}


def test_rules_only_use_metrics_that_exist() -> None:
    """Every metric the rules read is exported by the worker, the SDK or the sink."""
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    SinkMetrics(registry)
    register_metrics(registry, _SdkStats, "svc")
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count"),
    }
    exported = {
        family.name + suffix
        for family in registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    rules = (DEPLOY / "rules" / "tracestream.rules.yml").read_text()
    used = set(re.findall(r"\b(tracestream_\w+)", rules))
    assert {m for m in used if m.startswith("tracestream_sdk_")}, "no SDK metric referenced"
    assert {m for m in used if m.startswith("tracestream_sink_")}, "no sink metric referenced"
    assert used - exported == set()
