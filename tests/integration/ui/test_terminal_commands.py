"""show, search and tail against the UI data set, through the owner's query server.

The commands find the query server a sink would announce under the home, as
a person's shell would; ``tail`` runs as a real process and stops on SIGINT.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.integration.ui._client import RANGE, call
from tracestream.cli import cli
from tracestream.sinks import ChdbStorage, QueryServer, query_server_file
from tracestream.ui import Reader

pytestmark = pytest.mark.integration

B5, A2 = f"{0xB5:032x}", f"{0xA2:032x}"


@pytest.fixture
def home(
    ui_storage: ChdbStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    monkeypatch.setenv("TRACESTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "160")
    with QueryServer(ui_storage, discovery_path=query_server_file(tmp_path)):
        yield tmp_path


def test_show_prints_the_tree_with_bars_and_the_payloads_with_full(home: Path) -> None:
    result = CliRunner().invoke(cli, ["show", B5, "--width", "30", "--full"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"support-turn  {B5}"
    tree = [line for line in lines if "█" in line]
    assert [line.split()[0] for line in tree] == [
        "support-turn", "kb-search", "plan", "lookup_order", "lookup_order", "answer",
    ]  # fmt: skip
    assert "ConnectionError: orders-db refused the connection" in tree[3]
    assert tree[0].rstrip().endswith(" " + "█" * 30)  # the root spans the whole axis
    assert '"content": "Where is my parcel? Reach me at [EMAIL]."' in result.output
    assert "redacted: email in input[1].content" in result.output
    assert CliRunner().invoke(cli, ["show", "f" * 32]).exit_code == 1
    assert CliRunner().invoke(cli, ["show", "nope"]).exit_code == 2


def test_search_prints_matching_spans_newest_first_with_a_snippet(home: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "timed out", "--since", "1000d"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"2026-11-01 10:01:00.900  {A2}/0000000000000a24  shop/checkout tool sql_query",
        "  error_message: request 456 timed out after 30s",
        f"2026-11-01 10:01:00.000  {A2}/0000000000000a21  shop/checkout agent answer",
        "  error_message: request 123 timed out after 30s",
        "2 spans",
    ]
    assert (
        "no span matches" in CliRunner().invoke(cli, ["search", "Timed", "--since", "1000d"]).output
    )


def test_the_search_endpoint(ui_url: str) -> None:
    answer = call(f"{ui_url}/api/search?q=Monday&{RANGE}")
    assert answer.status == 200
    hits = answer.body["items"]
    # The answer's input holds the tool's result message; the retried tool's
    # own result is in tool_result, which the text indexes do not cover.
    assert [(h["span_id"], h["field"]) for h in hits] == [
        ("00b5000000000006", "input"), ("00b5000000000001", "output"),
    ]  # fmt: skip
    assert hits[0]["snippet"].startswith("… ") and '\\"eta\\": \\"Monday\\"' in hits[0]["snippet"]
    assert hits[1]["snippet"] == "It arrives on Monday."
    assert call(f"{ui_url}/api/search?{RANGE}").status == 400


def test_tail_cursor_neither_repeats_nor_skips(ui_storage: ChdbStorage) -> None:
    # a1 was emitted twice at the same instant (versions 1 and 2): pages of
    # two rows still list every emission exactly once, in order.
    reader = Reader(ui_storage)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    seen: list[tuple[str, int]] = []
    after, after_id, after_version = start, "", 0
    while rows := reader.tail(start=start, after=after, after_id=after_id,
                              after_version=after_version, filters={}, limit=2):  # fmt: skip
        seen += [(r["trace_id"][-2:], r["version"]) for r in rows]
        last = rows[-1]
        after, after_id, after_version = last["emitted_at"], last["trace_id"], last["version"]
    assert seen == [("a1", 1), ("a1", 2), ("a2", 1), ("b5", 1), ("b6", 1), ("a4", 1), ("a3", 1)]
    errors = reader.tail(start=start, after=start, filters={"has_errors": True, "project": "shop"})
    assert [r["trace_id"][-2:] for r in errors] == ["a2", "b5"]


def test_tail_prints_traces_as_they_come_and_stops_cleanly_on_ctrl_c(home: Path) -> None:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tracestream"), "tail", "--since", "1000d",
         "--errors", "--interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TRACESTREAM_HOME": str(home), "COLUMNS": "160"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        time.sleep(1.0)  # at least one empty poll after the backlog
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert [line.split()[2] for line in lines] == ["error", "error"]
    assert A2 in lines[0] and B5 in lines[1]
    assert out == ""  # nothing more arrived; Ctrl-C printed nothing either


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_ui_command_serves_the_owners_data_and_stops_on_ctrl_c(home: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tracestream"), "ui", "--port", str(port),
         "--no-scores"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TRACESTREAM_HOME": str(home)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith(f"tracestream explorer on http://localhost:{port}/")
        assert "query server" in banner
        url = f"http://127.0.0.1:{port}"
        answer = None
        for _ in range(200):  # the banner comes just before uvicorn binds
            try:
                answer = call(f"{url}/api/traces?{RANGE}")
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        assert answer is not None and answer.status == 200
        assert [t["trace_id"][-2:] for t in answer.body["items"]][:2] == ["a3", "a4"]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err


def test_the_ui_command_refuses_to_expose_traces_without_a_key(home: Path) -> None:
    result = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "exposes every trace to that network" in result.output
