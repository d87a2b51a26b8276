"""Safe by default: loopback without a key; any other address only with one.

On loopback the explorer answers only requests whose ``Host`` is a loopback
name, so a web page elsewhere cannot reach it by DNS rebinding. Bound to any
other address it refuses to start without an access key, and then every
request must carry it: ``Authorization: Bearer <key>`` (API clients) or the
cookie the ``/login`` form sets (browsers; HttpOnly, SameSite=Strict).
Writes (``POST /api/scores``) also need a JSON body, which a cross-site form
cannot send without a CORS preflight the server never grants.

Keys may be scoped to projects (:class:`AccessKeys`, from a JSON file
``{"<key>": ["shop", "billing"], "<admin key>": "*"}``): a scoped key sees
only its projects' traces, sessions, charts and anomalies, and a trace of
another project answers 404, as if it did not exist.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tracestream.schemas import TracestreamError

__all__ = [
    "ALL_PROJECTS",
    "COOKIE",
    "LOOPBACK_HOSTS",
    "MIN_KEY_CHARS",
    "AccessKeys",
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


#: The scope of a key that may read every project.
ALL_PROJECTS = "*"


@dataclass(frozen=True, slots=True)
class AccessKeys:
    """Access keys and the projects each may read (``None``: every project).

    Build with :meth:`single` (one key for everything) or :meth:`from_mapping`
    / :meth:`read` (keys scoped to projects). Pure value; ``projects_for``
    compares in constant time against every key.
    """

    scopes: tuple[tuple[str, frozenset[str] | None], ...]

    @classmethod
    def single(cls, key: str) -> AccessKeys:
        """One key that reads every project."""
        return cls.from_mapping({key: ALL_PROJECTS})

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> AccessKeys:
        """``{key: [project, ...] | "*"}``. Raises UiConfigError for a bad entry."""
        scopes: list[tuple[str, frozenset[str] | None]] = []
        for key, projects in raw.items():
            if not isinstance(key, str) or len(key) < MIN_KEY_CHARS:
                raise UiConfigError(
                    f"an access key must be at least {MIN_KEY_CHARS} characters "
                    "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
                )
            if projects == ALL_PROJECTS:
                scopes.append((key, None))
            elif (
                isinstance(projects, list)
                and projects
                and all(isinstance(p, str) and p for p in projects)
            ):
                scopes.append((key, frozenset(projects)))
            else:
                raise UiConfigError(
                    'each access key maps to a list of project names or "*" (every project)'
                )
        if not scopes:
            raise UiConfigError("no access key given")
        return cls(tuple(scopes))

    @classmethod
    def read(cls, path: Path) -> AccessKeys:
        """Keys from a JSON file. Raises UiConfigError when unreadable or malformed."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UiConfigError(f"cannot read access keys from {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise UiConfigError(f"{path}: expected a JSON object of key -> projects")
        return cls.from_mapping(raw)

    def projects_for(self, given: str | None) -> tuple[bool, frozenset[str] | None]:
        """(known, projects): whether ``given`` is a key, and what it may read."""
        found: tuple[bool, frozenset[str] | None] = (False, None)
        for key, projects in self.scopes:
            if key_matches(given, key) and not found[0]:
                found = (True, projects)
        return found


def check_bind(host: str, access_key: str | AccessKeys | None) -> None:
    """Refuse a non-loopback bind without a key, and keys too short to resist guessing.

    Raises:
        UiConfigError: with what to do instead.
    """
    if isinstance(access_key, str):
        AccessKeys.single(access_key)  # checks the length
    if not is_loopback(host) and access_key is None:
        raise UiConfigError(
            f"binding the explorer to {host} exposes every trace to that network; "
            "give an access key (--access-key-file, --access-keys-file or "
            "TRACESTREAM_UI_ACCESS_KEY) "
            "or bind 127.0.0.1"
        )


def key_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())
