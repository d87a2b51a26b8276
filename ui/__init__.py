"""tracestream.ui: the trace explorer, a read API and web pages over the tracestream tables.

Reads go through :mod:`tracestream.sinks`' storage (the query server's client,
a chDB directory or a ClickHouse server), read-only; scores go out as
``score`` events through Kafka. Installed with the ``[ui]`` extra.
"""

from ._app import STATIC_DIR, create_app
from ._feedback import (
    KafkaScoreSender,
    ScoreRequest,
    ScoreSender,
    ScoreUnavailable,
    build_score_event,
    parse_score_request,
)
from ._openapi import openapi_document
from ._params import BadRequest, ListQuery, TraceQuery, parse_trace_query, search_query
from ._read import Reader
from ._security import AccessKeys, UiConfigError, check_bind, is_loopback
from ._server import UiServer, serve
from ._terminal import render_search, render_span, render_trace, tail_line
from ._tree import TreeLayout, layout_tree

__all__ = [
    "STATIC_DIR",
    "AccessKeys",
    "BadRequest",
    "KafkaScoreSender",
    "ListQuery",
    "Reader",
    "ScoreRequest",
    "ScoreSender",
    "ScoreUnavailable",
    "TraceQuery",
    "TreeLayout",
    "UiConfigError",
    "UiServer",
    "build_score_event",
    "check_bind",
    "create_app",
    "is_loopback",
    "layout_tree",
    "openapi_document",
    "parse_score_request",
    "parse_trace_query",
    "render_search",
    "render_span",
    "render_trace",
    "search_query",
    "serve",
    "tail_line",
]
