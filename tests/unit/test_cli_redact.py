"""``tracestream redact`` over JSON lines and plain text; ``tracestream bench redact``."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from tracestream.cli import cli

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _no_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("TRACESTREAM_CONFIG", raising=False)
    monkeypatch.chdir(str(tmp_path))


def test_json_lines_get_findings_on_original_offsets() -> None:
    text = "write to jane@example.com from 10.0.0.7"
    lines = [orjson.dumps({"text": text}), orjson.dumps({"text": "nothing here"})]
    result = CliRunner().invoke(cli, ["redact"], input=b"\n".join(lines) + b"\n")
    assert result.exit_code == 0, result.output
    first, second = (orjson.loads(line) for line in result.output.splitlines())
    assert first["text"] == "write to <EMAIL> from <IPV4>"
    assert [(f["detector"], text[f["start"] : f["end"]]) for f in first["findings"]] == [
        ("email", "jane@example.com"),
        ("ipv4", "10.0.0.7"),
    ]
    assert second == {"text": "nothing here", "findings": []}


def test_plain_text_is_redacted_line_by_line() -> None:
    result = CliRunner().invoke(cli, ["redact"], input="call +1 415-555-2671\n{not json\nplain\n")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["call <PHONE>", "{not json", "plain"]


def test_hash_mode_without_key_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACESTREAM_REDACT_DEFAULT_MODE", "hash")
    result = CliRunner().invoke(cli, ["redact"], input="x\n")
    assert result.exit_code != 0
    assert "HMAC key" in str(result.exception)


def test_hash_mode_with_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    key = f"{tmp_path}/key"
    with open(key, "w") as fh:
        fh.write("s3cret\n")
    monkeypatch.setenv("TRACESTREAM_REDACT_MODES", '{"email": "hash"}')
    monkeypatch.setenv("TRACESTREAM_REDACT_HMAC_KEY_FILE", key)
    result = CliRunner().invoke(cli, ["redact"], input="a@example.com\na@example.com\n")
    assert result.exit_code == 0, result.output
    one, two = result.output.splitlines()
    assert one == two and one.startswith("<EMAIL:")


def test_bench_redact_json() -> None:
    result = CliRunner().invoke(
        cli, ["bench", "redact", "--json", "--size-mb", "0.05", "--repeats", "1"]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert report["benchmark"] == "redact" and report["mb_per_s_median"] > 0
