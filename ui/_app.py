"""The web application: the read API, the score endpoint and the pages.

Starlette (on uvicorn): a small, well-kept ASGI toolkit with no opinions we
would fight, whose only hard dependency (anyio) we already have; pydantic
(already ours) validates the one body we accept. The pages are static files
(plain ES modules, hand-written CSS, SVG charts): nothing to build, nothing
fetched from elsewhere at run time.

Read endpoints are plain functions: Starlette runs them in its thread pool,
which is what the blocking storage calls need. The score endpoint is async
(it awaits Kafka's acknowledgement).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tracestream.sinks import StorageError, StorageUnavailable

from ._feedback import ScoreSender, ScoreUnavailable, build_score_event, parse_score_request
from ._openapi import openapi_document
from ._params import (
    BadRequest,
    ListQuery,
    is_span_id,
    is_trace_id,
    parse_list_query,
    parse_range,
    parse_trace_query,
    search_tokens,
)
from ._read import Reader
from ._security import COOKIE, LOOPBACK_HOSTS, AccessKeys
from ._static import read_static_files, static_response

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
_TENANT = {"project": "", "service": "", "environment": ""}
_PROJECT = {"project": ""}
_ANOMALY = {"project": "", "service": ""}
_LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>tracestream: access key</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><form method="post" action="/login"><h1>tracestream</h1>
<label>Access key <input type="password" name="key" autofocus required></label>
<button type="submit">Open</button>{error}</form></body></html>"""


class JSONResponse(Response):
    """orjson-encoded JSON (already a dependency; 5-10x the stdlib's speed on big traces)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _read_endpoint(
    handler: Callable[[Request], Any],
) -> Callable[[Request], Awaitable[Response]]:
    """Run a blocking read in the thread pool and map errors to HTTP statuses."""

    async def endpoint(request: Request) -> Response:
        try:
            result = await run_in_threadpool(handler, request)
        except BadRequest as exc:
            return _error(400, str(exc))
        except StorageUnavailable as exc:
            return _error(503, f"storage unavailable: {exc}")
        except StorageError as exc:
            return _error(500, f"storage error: {exc}")
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    return endpoint


class _AccessKey(BaseHTTPMiddleware):
    """Every request but the login form must present a known access key; the
    projects it may read go to ``request.state.projects`` (``None``: all)."""

    def __init__(self, app: Any, keys: AccessKeys) -> None:
        super().__init__(app)
        self._keys = keys

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path in ("/login", "/static/style.css"):
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else request.cookies.get(COOKIE)
        known, projects = self._keys.projects_for(given)
        if known:
            request.state.projects = projects
            return await call_next(request)
        if request.url.path.startswith("/api/"):
            return _error(401, "missing or wrong access key")
        return RedirectResponse("/login", status_code=303)


def _allowed(request: Request) -> frozenset[str] | None:
    """The projects this request may read (``None``: every project)."""
    projects: frozenset[str] | None = getattr(request.state, "projects", None)
    return projects


def _scoped(request: Request, filters: dict[str, Any]) -> dict[str, Any]:
    """``filters`` narrowed to the request's projects (a key scoped to projects)."""
    projects = _allowed(request)
    return filters if projects is None else {**filters, "allowed": sorted(projects)}


def create_app(
    reader: Reader,
    *,
    scores: ScoreSender | None,
    access_key: str | None = None,
    access_keys: AccessKeys | None = None,
    loopback: bool = True,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The explorer's ASGI application.

    Args:
        reader: the read API over the storage.
        scores: where scores go; ``None`` answers score posts with 503 (no Kafka).
        access_key: one key for every project, required on every request.
        access_keys: keys scoped to projects (instead of ``access_key``).
        loopback: bound to loopback: only loopback ``Host`` headers are served.
        clock: "now" for default time ranges (tests pin it).
    """

    keys = AccessKeys.single(access_key) if access_key is not None else access_keys
    files = read_static_files(STATIC_DIR)

    def now() -> datetime:
        return clock()

    def visible(request: Request, trace_id: str) -> bool:
        """Whether the request's key may read this trace (404 otherwise, as if absent)."""
        projects = _allowed(request)
        if projects is None:
            return True
        tenant = reader.trace_tenant(trace_id)
        return tenant is not None and tenant[0] in projects

    def traces(request: Request) -> Any:
        query = parse_trace_query(_params(request), now())
        return reader.traces(replace(query, filters=_scoped(request, query.filters)))

    def facets(request: Request) -> Any:
        start, end = parse_range(_params(request), now())
        return reader.facets(start, end, _scoped(request, {}))

    def trace(request: Request) -> Any:
        trace_id = request.path_params["trace_id"]
        if not is_trace_id(trace_id):
            raise BadRequest("trace_id: 32 lower-case hex digits")
        shape = request.query_params.get("spans", "rows")
        if shape not in ("rows", "columns"):
            raise BadRequest(f"spans: {shape!r} is not rows or columns")
        found = None
        if visible(request, trace_id):
            found = reader.trace(trace_id, span_columns=shape == "columns")
        return _error(404, f"no trace {trace_id}") if found is None else found

    def span(request: Request) -> Any:
        trace_id, span_id = request.path_params["trace_id"], request.path_params["span_id"]
        if not is_trace_id(trace_id) or not is_span_id(span_id):
            raise BadRequest("trace_id: 32 hex digits; span_id: 16 hex digits")
        found = reader.span(trace_id, span_id) if visible(request, trace_id) else None
        return _error(404, f"no span {span_id} in trace {trace_id}") if found is None else found

    def sessions(request: Request) -> Any:
        query = parse_list_query(_params(request), now(), _PROJECT)
        return reader.sessions(replace(query, filters=_scoped(request, query.filters)))

    def session(request: Request) -> Any:
        params = _params(request)
        by = params.get("by", "session")
        if by not in ("session", "user"):
            raise BadRequest("by: session or user")
        query = parse_list_query(params, now(), _PROJECT, default_limit=200)
        query = replace(query, filters=_scoped(request, query.filters))
        return reader.session(request.path_params["session_id"], query, by_user=by == "user")

    def search(request: Request) -> Any:
        params = _params(request)
        words = search_tokens(params.get("q") or "")
        if not words:
            raise BadRequest("q: give at least one word")
        query = parse_list_query(params, now(), _TENANT)
        return reader.search_spans(words, replace(query, filters=_scoped(request, query.filters)))

    def overview(request: Request) -> Any:
        query = parse_list_query(_params(request), now(), _TENANT)
        return reader.overview(replace(query, filters=_scoped(request, query.filters)))

    def anomalies(request: Request) -> Any:
        query = parse_list_query(_params(request), now(), _ANOMALY, default_limit=200)
        filters = _scoped(request, query.filters)
        return reader.anomalies(ListQuery(query.start, query.end, filters, query.limit))

    async def add_score(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "send the score as application/json")
        try:
            score = parse_score_request(orjson.loads(await request.body()))
        except (ValueError, orjson.JSONDecodeError) as exc:
            return _error(400, f"invalid score: {exc}")
        try:
            tenant = await run_in_threadpool(reader.trace_tenant, score.trace_id)
        except StorageError as exc:
            return _error(503, f"storage unavailable: {exc}")
        projects = _allowed(request)
        if tenant is None or (projects is not None and tenant[0] not in projects):
            return _error(404, f"no trace {score.trace_id}")
        if scores is None:
            return _error(503, "scores are disabled: the explorer has no Kafka to send them to")
        try:
            event = build_score_event(score, project=tenant[0], environment=tenant[1], now=now())
        except ValueError as exc:
            return _error(400, f"invalid score: {exc}")
        try:
            await scores.send(event)
        except ScoreUnavailable as exc:
            return _error(503, str(exc))
        return JSONResponse(
            {"event_id": event.event_id, "trace_id": event.trace_id, "span_id": event.span_id},
            status_code=202,
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def index(request: Request) -> Response:
        return static_response(files, "index.html", request)

    async def static(request: Request) -> Response:
        return static_response(files, request.path_params["name"], request)

    async def login_form(request: Request) -> Response:
        return HTMLResponse(_LOGIN_PAGE.format(error=""))

    async def login(request: Request) -> Response:
        # Parsed here: Starlette's form parser needs python-multipart, a
        # dependency for one field.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = form.get("key", [None])[0]
        if keys is None or given is None or not keys.projects_for(given)[0]:
            return HTMLResponse(
                _LOGIN_PAGE.format(error="<p class='login-error'>Wrong key.</p>"), status_code=401
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Mapping[str, Any]]:
        try:
            yield {}
        finally:
            if scores is not None:
                await scores.close()

    routes = [
        Route("/", index),
        Route("/api/openapi.json", openapi),
        Route("/api/traces", _read_endpoint(traces)),
        Route("/api/facets", _read_endpoint(facets)),
        Route("/api/traces/{trace_id}", _read_endpoint(trace)),
        Route("/api/traces/{trace_id}/spans/{span_id}", _read_endpoint(span)),
        Route("/api/sessions", _read_endpoint(sessions)),
        Route("/api/sessions/{session_id}", _read_endpoint(session)),
        Route("/api/search", _read_endpoint(search)),
        Route("/api/overview", _read_endpoint(overview)),
        Route("/api/anomalies", _read_endpoint(anomalies)),
        Route("/api/scores", add_score, methods=["POST"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/static/{name:path}", static),
    ]
    middleware = []
    if loopback:
        # Starlette compares the Host header without its port.
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_HOSTS)))
    if keys is not None:
        middleware.append(Middleware(_AccessKey, keys=keys))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
