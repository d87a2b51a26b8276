"""``tracestream schema``: prints by default, rewrites only a checkout's file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tracestream.schemas
from tracestream.cli._config import schema
from tracestream.schemas import render_event_json_schema

pytestmark = pytest.mark.unit


def test_prints_the_schema_without_writing() -> None:
    result = CliRunner().invoke(schema, [])
    assert result.exit_code == 0
    assert result.output.encode() == render_event_json_schema()


def test_write_refuses_a_file_outside_a_source_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in an installed wheel: site-packages/tracestream/schemas/event.schema.json.
    installed = tmp_path / "site-packages" / "tracestream" / "schemas" / "event.schema.json"
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"{}")
    monkeypatch.setattr(tracestream.schemas, "SCHEMA_FILE", installed)
    result = CliRunner().invoke(schema, ["--write"])
    assert result.exit_code == 1
    assert "not in a source checkout" in result.output
    assert installed.read_bytes() == b"{}"


def test_write_rewrites_a_checkouts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    file = tmp_path / "schemas" / "event.schema.json"
    file.parent.mkdir()
    monkeypatch.setattr(tracestream.schemas, "SCHEMA_FILE", file)
    result = CliRunner().invoke(schema, ["--write"])
    assert result.exit_code == 0, result.output
    assert file.read_bytes() == render_event_json_schema()
