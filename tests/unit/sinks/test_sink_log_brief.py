"""The sink's storage-trouble lines quote an error briefly: first line, bounded length."""

from __future__ import annotations

import pytest

from tracestream.sinks._sink import _brief

pytestmark = pytest.mark.unit


def test_a_long_server_error_is_cut_to_its_first_line_and_the_limit() -> None:
    url = "http://ch:8123/?query=" + "INSERT%20INTO%20spans%20" * 100
    error = RuntimeError(f"HTTPDriver for {url} received ClickHouse error\ncode 210\nmore")
    brief = _brief(error)
    assert "\n" not in brief and len(brief) == 300 and brief.endswith("…")
    assert brief.startswith("HTTPDriver for http://ch:8123/")


def test_a_short_error_is_kept_and_an_empty_one_is_named() -> None:
    assert _brief(RuntimeError("connection refused")) == "connection refused"
    assert _brief(TimeoutError()) == "TimeoutError"
