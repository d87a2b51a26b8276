"""The explorer over a real chDB holding the UI data set, served on a real socket."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.ui._ui_data import insert_ui_data
from tracestream.sinks import ChdbStorage, apply_migrations
from tracestream.ui import Reader, ScoreSender, UiServer, create_app

#: "Now" for the default ranges: the data set is 2026-11-01 10:00-11:00 UTC.
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RANGE = "from=2026-11-01T10:00:00Z&to=2026-11-01T12:00:00Z"
BIG_SPANS = 50


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer to look at, not to follow


_OPENER = urllib.request.build_opener(_NoRedirect)


def call(url: str, *, method: str = "GET", data: bytes | None = None,
         headers: dict[str, str] | None = None) -> Answer:  # fmt: skip
    """One HTTP request; error statuses and redirects are answers too."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=60) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, dict(exc.headers)
    is_json = got.get("content-type", "").startswith("application/json")
    return Answer(status, json.loads(raw) if is_json else raw.decode(), got)


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


def serve(storage: Any, scores: ScoreSender | None = None, **options: Any) -> UiServer:
    app = create_app(Reader(storage), scores=scores, clock=lambda: NOW, **options)
    return UiServer(app)


@pytest.fixture(scope="package")
def ui_url(ui_storage: ChdbStorage) -> Iterator[str]:
    with serve(ui_storage) as server:
        yield server.url
