"""The worker's /metrics carries the process's own CPU and memory, as Prometheus targets do."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from tracestream._settings import load_settings
from tracestream.cli._worker import build_worker


def test_worker_registry_exports_process_cpu_and_memory() -> None:
    built = build_worker(load_settings(worker_engine="aiokafka"))
    text = generate_latest(built.metrics.registry).decode()
    assert "process_cpu_seconds_total" in text
    assert "process_resident_memory_bytes" in text


def test_a_registry_passed_in_is_left_to_its_owner() -> None:
    registry = CollectorRegistry()
    build_worker(load_settings(worker_engine="aiokafka"), registry=registry)
    assert "process_cpu_seconds_total" not in generate_latest(registry).decode()
