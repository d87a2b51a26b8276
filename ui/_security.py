"""Safe by default: loopback without a key; any other address only with one.

On loopback the explorer answers only requests whose ``Host`` is a loopback
name, so a web page elsewhere cannot reach it by DNS rebinding. Bound to any
other address it refuses to start without an access key, and then every
request must carry it: ``Authorization: Bearer <key>`` (API clients) or the
cookie the ``/login`` form sets (browsers; HttpOnly, SameSite=Strict).
Writes (``POST /api/scores``) also need a JSON body, which a cross-site form
cannot send without a CORS preflight the server never grants.
"""

from __future__ import annotations

import ipaddress
import secrets

from tracestream.schemas import TracestreamError

__all__ = [
    "COOKIE",
    "LOOPBACK_HOSTS",
    "MIN_KEY_CHARS",
    "UiConfigError",
    "check_bind",
    "is_loopback",
    "key_matches",
]

COOKIE = "tracestream_ui_key"
MIN_KEY_CHARS = 16
#: Host header values accepted on a loopback bind (any port).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class UiConfigError(TracestreamError, ValueError):
    """The explorer was asked to start in an unsafe or impossible way."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, access_key: str | None) -> None:
    """Refuse a non-loopback bind without a key, and keys too short to resist guessing.

    Raises:
        UiConfigError: with what to do instead.
    """
    if access_key is not None and len(access_key) < MIN_KEY_CHARS:
        raise UiConfigError(
            f"the access key must be at least {MIN_KEY_CHARS} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    if not is_loopback(host) and access_key is None:
        raise UiConfigError(
            f"binding the explorer to {host} exposes every trace to that network; "
            "give an access key (--access-key-file or TRACESTREAM_UI_ACCESS_KEY) "
            "or bind 127.0.0.1"
        )


def key_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())
