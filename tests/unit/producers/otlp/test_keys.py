"""Ingest keys are stored hashed, one project per key; the CLI refuses an open binding."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracestream.producers.otlp import (
    IngestKeys,
    InMemorySink,
    KeyRecord,
    ReceiverConfig,
    add_key,
    check_binding,
    create_app,
    hash_key,
    new_key,
    parse_keys,
    read_key_records,
    revoke_keys,
)

from ._asgi import call

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


NOW = datetime(2026, 12, 4, 18, 30, 5, tzinfo=UTC)


def test_a_key_line_carries_its_id_and_creation_time_never_the_key(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"old {hash_key('legacy')}\n")  # the older two-column form still reads
    key = add_key(path, "alpha", now=NOW)
    old, new = read_key_records(path.read_text())
    assert old == KeyRecord("old", hash_key("legacy"))
    assert new == KeyRecord("alpha", hash_key(key), key[:10], NOW)
    assert key not in path.read_text() and key[:11] not in path.read_text()


def test_revoke_by_id_by_key_and_by_digest_keeps_the_rest_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# ops team\nold {hash_key('legacy')}  # from 2025\n")
    alpha, beta = add_key(path, "alpha", now=NOW), add_key(path, "beta", now=NOW)
    assert [r.project for r in revoke_keys(path, alpha[:10])] == ["alpha"]
    assert "# ops team\n" in path.read_text() and "# from 2025" in path.read_text()
    assert revoke_keys(path, beta)[0].project == "beta"  # the key itself
    assert revoke_keys(path, hash_key("legacy")[:12])[0].project == "old"
    assert parse_keys(path.read_text()) == {}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="no key"):
        revoke_keys(path, alpha[:10])


def test_an_ambiguous_id_revokes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(
        f"a {hash_key('x')} tsk_same01 2026-12-04T18:30:05Z\n"
        f"b {hash_key('y')} tsk_same01 2026-12-04T18:30:05Z\n"
    )
    with pytest.raises(ValueError, match="2 keys match"):
        revoke_keys(path, "tsk_same01")
    assert len(parse_keys(path.read_text())) == 2
    with pytest.raises(ValueError, match="no key"):
        revoke_keys(path, "abc")  # too short to be a digest prefix


def test_ingest_keys_follow_the_file_and_keep_the_last_good_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    alpha = add_key(path, "alpha")
    keys = IngestKeys(path, extra={hash_key("flag"): "p"}, check_interval_s=0)
    assert keys.get(hash_key(alpha)) == "alpha" and keys[hash_key("flag")] == "p"
    beta = add_key(path, "beta")
    assert keys.get(hash_key(beta)) == "beta"
    revoke_keys(path, alpha)
    assert keys.get(hash_key(alpha)) is None
    path.write_text("not a keys line\n")  # half-edited: neither lock out nor open up
    assert keys.get(hash_key(beta)) == "beta"
    path.unlink()
    assert keys.get(hash_key(beta)) == "beta"


def test_ingest_keys_look_at_the_file_at_most_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    alpha = add_key(path, "alpha")
    keys = IngestKeys(path, check_interval_s=3600)
    revoke_keys(path, alpha)
    assert keys.get(hash_key(alpha)) == "alpha"  # not looked at again yet


async def test_a_keys_file_with_every_key_revoked_refuses_everyone(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    alpha = add_key(path, "alpha")
    config = ReceiverConfig(project="open", ingest_keys=IngestKeys(path, check_interval_s=0))
    assert config.project_for(f"Bearer {alpha}") == "alpha"
    revoke_keys(path, alpha)
    assert config.keys_required
    assert config.project_for(f"Bearer {alpha}") is None
    assert config.project_for("") is None
    assert ReceiverConfig(project="open").project_for("") == "open"
    answer = await call(create_app(config, InMemorySink()), "/v1/traces", b"",
                        {"content-type": "application/x-protobuf",
                         "authorization": f"Bearer {alpha}"})  # fmt: skip
    assert answer.status == 401
    assert "0 configured" in check_binding("0.0.0.0", config.ingest_keys)


def _keys_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACESTREAM_HOME": str(tmp_path / "home")}
    env.pop("TRACESTREAM_OTLP_KEYS_FILE", None)
    return subprocess.run(
        [TRACESTREAM, "keys", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip


def test_cli_keys_create_list_revoke(tmp_path: Path) -> None:
    created = _keys_cli(tmp_path, "create", "alpha")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[1]
    path = tmp_path / "home" / "otlp-keys.txt"
    assert parse_keys(path.read_text()) == {hash_key(key): "alpha"}
    _keys_cli(tmp_path, "create", "beta")
    listed = _keys_cli(tmp_path, "list").stdout
    assert key not in listed and key[10:16] not in listed
    header, *rows = listed.splitlines()
    assert header.split() == ["PROJECT", "KEY", "ID", "CREATED"]
    assert rows[0].split()[:2] == ["alpha", key[:10]]
    assert [row.split()[0] for row in rows] == ["alpha", "beta"]
    revoked = _keys_cli(tmp_path, "revoke", key[:10])
    assert revoked.returncode == 0 and "alpha" in revoked.stdout
    assert list(parse_keys(path.read_text()).values()) == ["beta"]
    again = _keys_cli(tmp_path, "revoke", key[:10])
    assert again.returncode != 0 and "no key" in again.stderr
