"""``tracestream analyze --report`` and ``export --selection`` on the feedback data set.

The commands run as a user runs them: settings from the environment, the
embedded engine under ``TRACESTREAM_HOME``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tracestream.cli import cli
from tracestream.cli._analyze import _REPORTS
from tracestream.sinks import FEEDBACK_REPORTS, ChdbStorage, apply_migrations, chdb_path

from ._feedback_data import F1, F2, F3, F5, F6, RANGE, insert_feedback_data

pytestmark = pytest.mark.integration

_RANGE_ARGS = ["--from", RANGE[0].strftime("%Y-%m-%d %H:%M:%S"),
               "--to", RANGE[1].strftime("%Y-%m-%d %H:%M:%S")]  # fmt: skip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    storage = ChdbStorage(chdb_path(tmp_path), "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        insert_feedback_data(storage)
    finally:
        storage.close()
    return tmp_path


def _run(home: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"TRACESTREAM_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_choices_are_the_reports() -> None:
    assert _REPORTS == tuple(FEEDBACK_REPORTS)


def test_reports_json_html_selection_and_export(home: Path) -> None:
    html = home / "report.html"
    selection = home / "examples.json"
    out = _run(
        home, "analyze", *_RANGE_ARGS, "--report", "tools", "--report", "workflows",
        "--json", "--html", str(html), "--write-examples", str(selection),
    )  # fmt: skip
    sections = orjson.loads(out)["sections"]
    # --report alone: only the reports (examples added by --write-examples).
    assert list(sections) == ["tools", "workflows", "examples"]
    assert sections["tools"]["tools"][0]["example_trace_ids"] == [F2, F3]
    page = html.read_text()
    # Two charts for tools and workflows, one for examples; the findings' trace ids.
    assert page.count("<svg") == 5 and "Error rate by tool" in page and F2 in page

    exported = _run(home, "export", "--format", "examples", "--selection", str(selection))
    records = [orjson.loads(line) for line in exported.splitlines()]
    # Oldest first (each trace starts a minute after the previous one).
    assert [(r["id"], r["metadata"]["label"]) for r in records] == [
        (F1, "good"), (F2, "bad"), (F3, "bad"), (F5, "bad"), (F6, "good"),
    ]  # fmt: skip
    assert records[0]["input"] == "Where is order 1001?"


def test_terminal_tables_name_trace_ids(home: Path) -> None:
    out = _run(home, "analyze", *_RANGE_ARGS, "--report", "reasoning", "--section", "costs")
    assert "Costs: totals" in out and "Reasoning: long reasoning that ended badly" in out
    assert F2 in out  # the long failure's id, whole, to paste into `tracestream show`
