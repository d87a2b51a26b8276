"""Ingest keys: random secrets given to clients, stored only as their SHA-256.

A keys file holds one key per line, ``<project> <sha256 hex of the key>``
(``#`` starts a comment), so reading the file reveals no key. The key a
request presents decides its project.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

__all__ = ["add_key", "hash_key", "new_key", "parse_keys"]

_LINE = re.compile(r"^(?P<project>\S{1,256})\s+(?P<digest>[0-9a-f]{64})$")


def hash_key(key: str) -> str:
    """The stored form of an ingest key: SHA-256, hex. Keys are random, so no salt is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random ingest key (256 bits), prefixed so it is recognisable in a secret scanner."""
    return "tsk_" + secrets.token_urlsafe(32)


def parse_keys(text: str) -> dict[str, str]:
    """``hash -> project`` from a keys file's text.

    Raises:
        ValueError: a line is not ``<project> <64 hex digits>`` (its number is
            given, never its content: it may hold a pasted key).
    """
    keys: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(
                f"keys file line {number}: expected '<project> <sha256 hex of the key>'"
            )
        keys[match["digest"]] = match["project"]
    return keys


def add_key(path: Path, project: str) -> str:
    """Create a key for ``project``, append its hash to the keys file, return the key.

    The key is returned once and stored nowhere: whoever runs this hands it over.
    """
    if not re.fullmatch(r"\S{1,256}", project):
        raise ValueError("project must be 1-256 characters without spaces")
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(f"{project} {hash_key(key)}\n")
    path.chmod(0o600)
    return key
