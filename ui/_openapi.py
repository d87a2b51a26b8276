"""The OpenAPI 3.1 description of the read API, served at ``/api/openapi.json``.

Written by hand next to the routes (a test holds the two equal: every route
is described, every described path is routed), so the document says what
each parameter means rather than what a framework could infer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


_RANGE = [
    _q("from", "Start of the range, ISO 8601 (UTC when no offset). Default: to - since."),
    _q("to", "End of the range (exclusive), ISO 8601. Default: now."),
    _q("since", "Length of the range when `from` is not given: 15m, 24h, 7d (default 24h)."),
]
_PAGE = [
    _q("limit", "Rows per page (1-500, default 50).", {"type": "integer"}),
    _q("offset", "Rows to skip.", {"type": "integer"}),
]
_TENANT = [
    _q("project", "Exact project."),
    _q("service", "Exact service."),
    _q("environment", "Exact environment."),
]
_ERROR = {
    "description": "A parameter is invalid; `error` says which.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_UNAVAILABLE = {
    "description": "The storage (or, for scores, Kafka) is unreachable; retry later.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {}}}


def _get(summary: str, parameters: list[dict[str, Any]], ok: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters,
            "responses": {"200": _ok(ok), "400": _ERROR, "503": _UNAVAILABLE},
        }
    }


def openapi_document() -> dict[str, Any]:
    """The document, as a fresh dict."""
    trace_id = _path("trace_id", "32 lower-case hex digits.")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tracestream trace explorer read API",
            "version": "1",
            "description": (
                "Read-only JSON over the tracestream tables (redacted data only). "
                "Times are ISO 8601 UTC with microseconds. Bound to a non-loopback "
                "address the server needs `Authorization: Bearer <access key>`."
            ),
        },
        "paths": {
            "/api/traces": _get(
                "One page of traces that started in the range, filtered and sorted.",
                [
                    *_RANGE,
                    *_PAGE,
                    *_TENANT,
                    _q("status", "ok, error, unset, incomplete or timeout."),
                    _q("model", "Traces that called this model."),
                    _q("user", "Exact user id."),
                    _q("session", "Exact session id."),
                    _q("tag", "Traces carrying this tag."),
                    _q("min_duration_ms", "Minimum duration.", {"type": "number"}),
                    _q("min_cost_usd", "Minimum cost.", {"type": "number"}),
                    _q(
                        "has_errors",
                        "true: traces with an error; false: without.",
                        {"type": "boolean"},
                    ),
                    _q(
                        "q",
                        "Full-text search over redacted span inputs, outputs and error "
                        "messages: every word must occur (whole words, case-sensitive). "
                        "A 32-hex trace id finds that trace.",
                    ),
                    _q(
                        "sort",
                        "start_time (default), name, status, duration_ms, span_count, "
                        "tokens, cost_usd, user_id, session_id.",
                    ),
                    _q("order", "desc (default) or asc."),
                ],
                "`{items, limit, offset, has_more, from, to}`",
            ),
            "/api/facets": _get(
                "Values the filter menus offer in the range.",
                _RANGE,
                "`{projects, services, models, environments, tags}`",
            ),
            "/api/traces/{trace_id}": _get(
                "One trace: aggregates, every span in tree order without payloads "
                "(depth, subtree_size, critical, anomaly, start_ms/end_ms from the "
                "first span), scores and overlapping anomaly windows.",
                [
                    trace_id,
                    _q(
                        "spans",
                        "rows (default): `spans`, one object per span; columns: "
                        "`span_columns` instead, one list per field in the same order "
                        "(the Trace page's form: a third of the bytes).",
                    ),
                ],
                "`{trace, trace_id, start_time, spans | span_columns, truncated, scores, "
                "anomalies}`; 404 when nothing of the trace is stored",
            ),
            "/api/traces/{trace_id}/spans/{span_id}": _get(
                "One span with its payloads decoded (input, output, model parameters, "
                "tool arguments and result, error stack, redactions, attributes) and its "
                "scores.",
                [trace_id, _path("span_id", "16 lower-case hex digits.")],
                "`{span, scores}`; 404 when unknown",
            ),
            "/api/sessions": _get(
                "Sessions active in the range, newest first.",
                [*_RANGE, *_PAGE, _q("project", "Exact project.")],
                "`{items, limit, offset, has_more}`",
            ),
            "/api/sessions/{session_id}": _get(
                "The turns of one session (or, with by=user, one user's traces), oldest "
                "first, with input, output, cost and latency.",
                [
                    _path("session_id", "The session id (or user id with by=user)."),
                    _q("by", "session (default) or user."),
                    *_RANGE,
                    _q("project", "Exact project."),
                    _q("limit", "Turns at most (default 200).", {"type": "integer"}),
                ],
                "`{key, by, turns}`",
            ),
            "/api/search": _get(
                "Spans whose redacted input, output or error message holds every word "
                "(whole words, case-sensitive; the text indexes answer), newest first, "
                "each with the field that matched and a snippet.",
                [
                    _q("q", "The words (required)."),
                    *_RANGE,
                    *_TENANT,
                    _q("limit", "Spans at most (1-500, default 50).", {"type": "integer"}),
                ],
                "`{items}`",
            ),
            "/api/overview": _get(
                "Traces per bucket, latency p50/p95, errors and cost per bucket; cost by "
                "model and by service; top failing tools; anomaly windows.",
                [*_RANGE, *_TENANT],
                "`{from, to, bucket_s, series, cost_by_model, cost_by_service, "
                "failing_tools, anomalies}`",
            ),
            "/api/anomalies": _get(
                "Anomaly windows that opened in the range, newest first.",
                [
                    *_RANGE,
                    _q("project", "Exact project."),
                    _q("service", "Exact service."),
                    _q("limit", "Rows at most (default 200).", {"type": "integer"}),
                ],
                "`{items}`",
            ),
            "/api/scores": {
                "post": {
                    "summary": (
                        "Add a score to a stored trace or span. It is produced to Kafka as a "
                        "`score` event (source human); the worker and sink store it like "
                        "any other event, so it appears in reads a few seconds later."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ScoreRequest"}
                            }
                        },
                    },
                    "responses": {
                        "202": _ok("`{event_id, trace_id, span_id}`: accepted by Kafka"),
                        "400": _ERROR,
                        "404": _ERROR,
                        "415": _ERROR,
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/api/openapi.json": _get("This document.", [], "OpenAPI 3.1"),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
                "ScoreRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["trace_id", "name", "value"],
                    "properties": {
                        "trace_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "span_id": {"type": ["string", "null"], "pattern": "^[0-9a-f]{16}$"},
                        "name": {"type": "string", "minLength": 1, "maxLength": 256},
                        "value": {"type": ["boolean", "number", "string"]},
                        "comment": {"type": ["string", "null"], "maxLength": 65536},
                        "kind": {"enum": ["thumbs", "number", "label", None]},
                    },
                },
            },
            "securitySchemes": {"accessKey": {"type": "http", "scheme": "bearer"}},
        },
    }
