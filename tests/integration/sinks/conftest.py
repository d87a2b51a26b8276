"""chDB fixtures: each test gets its own data directory.

chDB holds one data directory per process at a time, but closing it lets the
same process open another, so tests open and close their own in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tracestream.sinks import ChdbStorage, apply_migrations


@pytest.fixture
def chdb_storage(tmp_path: Path) -> Iterator[ChdbStorage]:
    """A migrated chDB database in a fresh temporary directory; closed afterwards."""
    storage = ChdbStorage(tmp_path / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        yield storage
    finally:
        storage.close()
