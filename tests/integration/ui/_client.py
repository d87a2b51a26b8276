"""Helpers of the explorer's tests: a real HTTP call and a server over a storage."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def serve(storage: Any, scores: ScoreSender | None = None, **options: Any) -> UiServer:
    app = create_app(Reader(storage), scores=scores, clock=lambda: NOW, **options)
    return UiServer(app)
