"""Safe by default: loopback without a key, anything else only with one."""

from __future__ import annotations

import pytest

from tracestream.ui import UiConfigError, check_bind, is_loopback

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
