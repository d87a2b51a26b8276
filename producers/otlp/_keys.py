"""Ingest keys: random secrets given to clients, stored only as their SHA-256.

A keys file holds one key per line::

    <project> <sha256 hex of the key> [<key id> <created, ISO 8601 UTC>]

(``#`` starts a comment), so reading the file reveals no key. The key id is
the key's first :data:`KEY_ID_CHARS` characters (``tsk_`` and 6 random ones,
36 of the key's 256 bits): enough to tell keys apart in ``tracestream keys
list`` and to name one to revoke, far too little to guess the rest. Lines of
the older two-column form still parse, without id and time.

The key a request presents decides its project. :class:`IngestKeys` is the
receiver's view of a keys file: it re-reads the file when it changes, so a
revoked key stops working without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

__all__ = [
    "KEY_ID_CHARS",
    "IngestKeys",
    "KeyRecord",
    "add_key",
    "hash_key",
    "new_key",
    "parse_keys",
    "read_key_records",
    "revoke_keys",
]

logger = logging.getLogger("tracestream.producers.otlp")

#: How much of a key its id shows: the ``tsk_`` prefix and 6 random characters.
KEY_ID_CHARS: Final = 10

_LINE = re.compile(
    r"^(?P<project>\S{1,256})\s+(?P<digest>[0-9a-f]{64})"
    r"(?:\s+(?P<key_id>tsk_\S{1,64})\s+(?P<created>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ))?$"
)
_PROJECT = re.compile(r"\S{1,256}")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One line of a keys file: who the key is for, never the key."""

    project: str
    digest: str
    #: The key's first characters (``None`` for a line of the older form).
    key_id: str | None = None
    created: datetime | None = None


def hash_key(key: str) -> str:
    """The stored form of an ingest key: SHA-256, hex. Keys are random, so no salt is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random ingest key (256 bits), prefixed so it is recognisable in a secret scanner."""
    return "tsk_" + secrets.token_urlsafe(32)


def read_key_records(text: str) -> list[KeyRecord]:
    """The keys of a keys file's text, in file order.

    Raises:
        ValueError: a line is malformed (its number is given, never its content:
            it may hold a pasted key).
    """
    records: list[KeyRecord] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(
                f"keys file line {number}: expected '<project> <sha256 hex of the key>"
                " [<key id> <created>]'"
            )
        created = match["created"]
        records.append(
            KeyRecord(
                project=match["project"],
                digest=match["digest"],
                key_id=match["key_id"],
                created=datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                if created
                else None,
            )
        )
    return records


def parse_keys(text: str) -> dict[str, str]:
    """``hash -> project`` from a keys file's text (raises ``ValueError`` as
    :func:`read_key_records` does)."""
    return {record.digest: record.project for record in read_key_records(text)}


def add_key(path: Path, project: str, *, now: datetime | None = None) -> str:
    """Create a key for ``project``, append its hash to the keys file, return the key.

    The key is returned once and stored nowhere: whoever runs this hands it over.
    The file is created readable by its owner only.
    """
    if not _PROJECT.fullmatch(project):
        raise ValueError("project must be 1-256 characters without spaces")
    key = new_key()
    created = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(f"{project} {hash_key(key)} {key[:KEY_ID_CHARS]} {created}\n")
    path.chmod(0o600)
    return key


def revoke_keys(path: Path, which: str) -> list[KeyRecord]:
    """Remove the key ``which`` names from the keys file; return what was removed.

    Args:
        which: a key id as ``tracestream keys list`` shows it, the start (12
            hex digits or more) of a key's SHA-256 (for lines of the older
            form, which have no id), or the key itself.

    The file is replaced in one rename, so a receiver reading it meanwhile sees
    the old or the new file, never half of one; comments and other lines stay
    as they were.

    Raises:
        ValueError: nothing matches, or a key id matches more than one key
            (nothing is removed then).
    """
    text = path.read_text(encoding="utf-8")
    records = read_key_records(text)
    digest_of_key = hash_key(which)
    by_digest = len(which) >= 12 and re.fullmatch(r"[0-9a-f]+", which) is not None
    matches = [
        r
        for r in records
        if r.key_id == which
        or r.digest == digest_of_key
        or (by_digest and r.digest.startswith(which))
    ]
    if not matches:
        raise ValueError("no key with that id in the keys file")
    if len({r.digest for r in matches}) > 1:
        raise ValueError(f"{len(matches)} keys match; name one by more of its sha256")
    digest = matches[0].digest
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not (match := _LINE.match(line.split("#", 1)[0].strip())) or match["digest"] != digest
    ]
    _replace(path, "".join(kept))
    return matches


def _replace(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class IngestKeys(Mapping[str, str]):
    """``hash_key(key) -> project`` from a keys file, re-read when the file changes.

    A lookup looks at the file's identity (inode, size, modification time) at
    most once per ``check_interval_s`` and re-reads it when that changed, so
    ``tracestream keys revoke`` takes effect within that interval without a
    restart, for a few microseconds per request. A file that no longer parses,
    or has gone, keeps the keys last read (and is logged): a half-edited file
    must neither lock every client out nor let anyone in.

    Args:
        path: the keys file (it must exist and parse when this is made).
        extra: keys given besides the file (``--ingest-key``), never reloaded.
        check_interval_s: how often the file's identity is looked at.

    Raises:
        OSError, ValueError: the file cannot be read or parsed at start.

    Thread-safe: the receiver may look keys up from a worker thread.
    """

    def __init__(
        self, path: Path, *, extra: Mapping[str, str] | None = None, check_interval_s: float = 1.0
    ) -> None:
        self.path = path
        self._extra = dict(extra or {})
        self._check_interval_s = check_interval_s
        self._lock = threading.Lock()
        self._identity = self._stat()
        self._keys = {**parse_keys(path.read_text(encoding="utf-8")), **self._extra}
        self._checked = time.monotonic()

    def _stat(self) -> tuple[int, int, int]:
        stat = self.path.stat()
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _current(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._checked < self._check_interval_s:
            return self._keys
        with self._lock:
            if now - self._checked < self._check_interval_s:
                return self._keys
            self._checked = now
            try:
                identity = self._stat()
                if identity != self._identity:
                    keys = parse_keys(self.path.read_text(encoding="utf-8"))
                    self._keys, self._identity = {**keys, **self._extra}, identity
                    logger.info("tracestream otlp: %d ingest keys after a change of %s",
                                len(self._keys), self.path)  # fmt: skip
            except (OSError, ValueError) as exc:
                logger.warning("tracestream otlp: keeping the previous ingest keys: %s: %s",
                               self.path, exc)  # fmt: skip
            return self._keys

    def __getitem__(self, digest: str) -> str:
        return self._current()[digest]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())
