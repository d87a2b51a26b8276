"""Ingest keys are stored hashed, one project per key; the CLI refuses an open binding."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tracestream.producers.otlp import add_key, hash_key, new_key, parse_keys

pytestmark = pytest.mark.unit

TRACESTREAM = str(Path(sys.executable).with_name("tracestream"))


def test_parse_keys_file() -> None:
    text = f"# team keys\nalpha {hash_key('a')}\n\nbeta {hash_key('b')}  # rotated 2026-12\n"
    assert parse_keys(text) == {hash_key("a"): "alpha", hash_key("b"): "beta"}


@pytest.mark.parametrize("line", ["alpha", "alpha tsk_plainkey", f"alpha {'A' * 64}", "a b c"])
def test_a_bad_line_is_named_by_number_without_its_content(line: str) -> None:
    with pytest.raises(ValueError, match="line 2") as caught:
        parse_keys(f"ok {hash_key('x')}\n{line}\n")
    assert "tsk_plainkey" not in str(caught.value)


def test_add_key_stores_only_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    key = add_key(path, "alpha")
    assert key.startswith("tsk_") and len(key) > 40
    text = path.read_text()
    assert key not in text
    assert parse_keys(text) == {hash_key(key): "alpha"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    add_key(path, "beta")
    assert sorted(parse_keys(path.read_text()).values()) == ["alpha", "beta"]
    assert new_key() != new_key()


def test_cli_refuses_a_non_loopback_address_without_keys(tmp_path: Path) -> None:
    env = {**os.environ, "TRACESTREAM_HOME": str(tmp_path), "TRACESTREAM_OTLP_INGEST_KEYS": ""}
    done = subprocess.run(
        [TRACESTREAM, "otlp", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "without ingest keys" in done.stderr


def test_cli_add_key_prints_it_once_and_stores_its_hash(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    done = subprocess.run(
        [TRACESTREAM, "otlp", "--keys-file", str(keys), "--add-key", "alpha"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=True,
    )  # fmt: skip
    key = done.stdout.strip().splitlines()[-1]
    assert parse_keys(keys.read_text()) == {hash_key(key): "alpha"}
