"""The alert rules in deploy/prometheus are valid and behave as their unit tests say."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

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


def test_rules_only_use_worker_metrics_that_exist() -> None:
    registry = CollectorRegistry()
    PipelineMetrics(registry)
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
    # SDK and sink metrics live in producers/ and sinks/; checked there.
    worker_metrics = {
        m for m in used if not m.startswith(("tracestream_sdk_", "tracestream_sink_"))
    }
    assert worker_metrics, "no worker metrics referenced"
    assert worker_metrics - exported == set()
