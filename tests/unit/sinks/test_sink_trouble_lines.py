"""The sink's storage-trouble log: a line per change of state (and of cause), not per retry."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from tracestream.sinks import (
    ChdbStorage,
    Sink,
    SinkConfig,
    SinkMetrics,
    StorageQueryError,
    StorageUnavailable,
)

pytestmark = pytest.mark.unit


def _sink(tmp_path_factory: pytest.TempPathFactory) -> Sink:
    # Never opened: the log decisions touch neither storage nor Kafka.
    storage = ChdbStorage(tmp_path_factory.mktemp("unused"))
    return Sink(storage, SinkConfig(), SinkMetrics(CollectorRegistry()))


def test_one_line_per_cause_not_per_retry(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _sink(tmp_path_factory)
    parts = StorageUnavailable("Code: 252 ...", code=252, code_name="TOO_MANY_PARTS")
    space = StorageUnavailable("Code: 243 ...", code=243, code_name="NOT_ENOUGH_SPACE")
    refused = StorageUnavailable("connection refused")
    missing = StorageQueryError("Code: 60 ...", code=60, code_name="UNKNOWN_TABLE")
    caplog.set_level(logging.WARNING, logger="tracestream.sink")
    for exc in [parts] * 20 + [space] * 20 + [parts] * 5 + [refused] * 5 + [missing] * 3:
        sink._note_storage_failure("spans", exc, 1_000)
    sink._say_storage_back()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5, lines
    assert "StorageUnavailable code 252 TOO_MANY_PARTS" in lines[0]
    assert "now StorageUnavailable code 243 NOT_ENOUGH_SPACE" in lines[1]
    # 252 again is a cause already reported: no line; a refused connection has no code.
    assert "now StorageUnavailable on spans: connection refused" in lines[2]
    assert "non-retriable StorageQueryError code 60 UNKNOWN_TABLE" in lines[3]
    assert caplog.records[3].levelno == logging.ERROR
    assert "storage accepts inserts again" in lines[4] and "53 retries" in lines[4]
