"""The explorer over a real chDB holding the UI data set, served on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.ui._client import BIG_SPANS, serve
from tests.integration.ui._ui_data import insert_ui_data
from tracestream.sinks import ChdbStorage, apply_migrations


@pytest.fixture(scope="package")
def ui_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStorage]:
    storage = ChdbStorage(tmp_path_factory.mktemp("ui") / "chdb", "tracestream")
    storage.open()
    try:
        apply_migrations(storage)
        insert_ui_data(storage, big_spans=BIG_SPANS)
        yield storage
    finally:
        storage.close()


@pytest.fixture(scope="package")
def ui_url(ui_storage: ChdbStorage) -> Iterator[str]:
    with serve(ui_storage) as server:
        yield server.url
