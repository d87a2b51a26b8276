"""Safe by default: no ingest keys means loopback only."""

from __future__ import annotations

import pytest

from tracestream.producers.otlp import InsecureBinding, check_binding, hash_key, is_loopback

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_runs_without_keys_and_says_so(host: str) -> None:
    assert is_loopback(host)
    assert "no ingest keys" in check_binding(host, {})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "example.internal"])
def test_any_other_address_refuses_to_start_without_keys(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InsecureBinding, match="without ingest keys"):
        check_binding(host, {})


def test_any_address_with_keys() -> None:
    notice = check_binding("0.0.0.0", {hash_key("secret-key"): "p"})
    assert "ingest keys required" in notice and "secret-key" not in notice


def test_keys_are_stored_hashed() -> None:
    assert hash_key("k") != "k" and len(hash_key("k")) == 64
