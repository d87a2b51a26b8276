"""Safe by default: loopback without a key, anything else only with one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracestream.ui import AccessKeys, UiConfigError, check_bind, is_loopback

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1", "[::1]"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com", ""])
def test_any_other_address_needs_a_key(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(UiConfigError, match="access key"):
        check_bind(host, None)
    check_bind(host, "k" * 16)


def test_short_keys_are_refused_everywhere() -> None:
    with pytest.raises(UiConfigError, match="at least 16"):
        check_bind("127.0.0.1", "short")
    with pytest.raises(UiConfigError, match="at least 16"):
        check_bind("0.0.0.0", "short")


def test_access_keys_scoped_to_projects(tmp_path: Path) -> None:
    keys = AccessKeys.from_mapping({"s" * 16: ["shop", "billing"], "a" * 16: "*"})
    assert keys.projects_for("s" * 16) == (True, frozenset({"shop", "billing"}))
    assert keys.projects_for("a" * 16) == (True, None)
    assert keys.projects_for("x" * 16) == (False, None)
    assert keys.projects_for(None) == (False, None)
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"k" * 16: ["shop"]}), encoding="utf-8")
    assert AccessKeys.read(path).projects_for("k" * 16) == (True, frozenset({"shop"}))
    check_bind("0.0.0.0", AccessKeys.read(path))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"short": "*"}, "at least 16"),
        ({"k" * 16: []}, "list of project names"),
        ({"k" * 16: "shop"}, "list of project names"),
        ({"k" * 16: [""]}, "list of project names"),
        ({}, "no access key"),
    ],
)
def test_bad_key_files_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(UiConfigError, match=message):
        AccessKeys.from_mapping(raw)
