"""Turn a request's query string into typed values and bound SQL. Pure; no I/O.

Everything a caller sends is checked here (types, ranges, names) before any
SQL exists, and an invalid request raises :class:`BadRequest` with a message
that names the parameter. The SQL comes from :mod:`._sql`: fragments picked by
name, values bound as ClickHouse query parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tracestream.schemas import TracestreamError

from . import _sql

__all__ = [
    "BadRequest",
    "ListQuery",
    "TraceQuery",
    "ch_time",
    "conditions",
    "is_span_id",
    "is_trace_id",
    "parse_list_query",
    "parse_range",
    "parse_trace_query",
    "range_params",
    "render",
    "search_query",
    "search_tokens",
    "tokens_condition",
    "traces_sql",
]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
# The text index splits on every character that is not an ASCII letter or
# digit (splitByNonAlpha), so a search word is cut the same way.
_TOKEN_SPLIT = re.compile(r"[^A-Za-z0-9\x80-\U0010ffff]+")
MAX_SEARCH_TOKENS = 8
MAX_PAGE = 500
STATUSES = frozenset({"ok", "error", "unset", "incomplete", "timeout"})


class BadRequest(TracestreamError, ValueError):
    """A request parameter is missing, malformed or out of range (HTTP 400)."""


def ch_time(value: datetime) -> str:
    """A UTC datetime as the text ClickHouse parses for ``DateTime64(6)`` parameters."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_time(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_duration(name: str, text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w`` as a timedelta."""
    match = _DURATION_RE.match(text)
    if not match:
        raise BadRequest(f"{name}: {text!r} is not a duration like 15m, 24h or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def parse_range(
    params: Mapping[str, str], now: datetime, default_since: str = "24h"
) -> tuple[datetime, datetime]:
    """The half-open UTC range from ``from``/``to`` (ISO 8601) or ``since`` (a duration).

    ``to`` defaults to ``now``; ``from`` to ``to - since`` (``since`` defaults
    to ``default_since``). Raises BadRequest for a bad or empty range.
    """
    end = _parse_time("to", params["to"]) if params.get("to") else now.astimezone(UTC)
    if params.get("from"):
        if params.get("since"):
            raise BadRequest("give either from or since, not both")
        start = _parse_time("from", params["from"])
    else:
        start = end - parse_duration("since", params.get("since") or default_since)
    if start >= end:
        raise BadRequest(f"empty time range: {start.isoformat()} is not before {end.isoformat()}")
    return start, end


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}: {value} is not between {low} and {high}")
    return value


def _float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise BadRequest(f"{name}: {text!r} must be a finite number >= 0")
    return value


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise BadRequest(f"{name}: {text!r} is not true or false")


def search_tokens(text: str) -> tuple[str, ...]:
    """The words of a search as the text index holds them (order kept, no repeats).

    Raises BadRequest past :data:`MAX_SEARCH_TOKENS` words: each is one index
    lookup, and a search that long is a paste, not a query.
    """
    words = tuple(dict.fromkeys(w for w in _TOKEN_SPLIT.split(text) if w))
    if len(words) > MAX_SEARCH_TOKENS:
        raise BadRequest(f"q: at most {MAX_SEARCH_TOKENS} words, got {len(words)}")
    return words


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A time range, exact-match filters and a page: what every list endpoint takes."""

    start: datetime
    end: datetime
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class TraceQuery(ListQuery):
    """The Traces page's query: :class:`ListQuery` plus search and order."""

    search: tuple[str, ...] = ()
    sort: str = "start_time"
    order: str = "desc"


def parse_list_query(
    params: Mapping[str, str],
    now: datetime,
    allowed: Mapping[str, str],
    *,
    default_limit: int = 50,
) -> ListQuery:
    """Parse range, page and the string filters named in ``allowed`` (others are refused)."""
    start, end = parse_range(params, now)
    filters: dict[str, Any] = {}
    for name in allowed:
        text = params.get(name)
        if text:
            filters[name] = text
    return ListQuery(
        start=start,
        end=end,
        filters=filters,
        limit=_int(params, "limit", default_limit, 1, MAX_PAGE),
        offset=_int(params, "offset", 0, 0, 1_000_000),
    )


def parse_trace_query(params: Mapping[str, str], now: datetime) -> TraceQuery:
    """Parse the Traces page's query string (see the OpenAPI description for each name).

    Raises:
        BadRequest: a value has the wrong type or range, an unknown sort or
            order, an unknown status, or too many search words.
    """
    base = parse_list_query(params, now, {})
    filters: dict[str, Any] = {}
    for name in ("project", "service", "environment", "model", "user", "session", "tag"):
        if params.get(name):
            filters[name] = params[name]
    if params.get("status"):
        if params["status"] not in STATUSES:
            raise BadRequest(f"status: {params['status']!r} is not one of {sorted(STATUSES)}")
        filters["status"] = params["status"]
    for name in ("min_duration_ms", "min_cost_usd"):
        if params.get(name):
            filters[name] = _float(name, params[name])
    if params.get("has_errors"):
        filters["has_errors"] = _bool("has_errors", params["has_errors"])
    text = (params.get("q") or "").strip()
    search: tuple[str, ...] = ()
    if _HEX32.match(text.lower()):
        # A pasted trace id finds that trace, whatever its content.
        filters["trace_id"] = text.lower()
    elif text:
        search = search_tokens(text)
    sort = params.get("sort") or "start_time"
    if sort not in _sql.SORTS:
        raise BadRequest(f"sort: {sort!r} is not one of {sorted(_sql.SORTS)}")
    order = (params.get("order") or "desc").lower()
    if order not in _sql.ORDERS:
        raise BadRequest("order: must be asc or desc")
    return TraceQuery(
        start=base.start,
        end=base.end,
        filters=filters,
        limit=base.limit,
        offset=base.offset,
        search=search,
        sort=sort,
        order=order,
    )


def search_query(
    text: str,
    *,
    since: str,
    project: str | None,
    service: str | None,
    limit: int,
    now: datetime,
) -> tuple[tuple[str, ...], ListQuery]:
    """The words and range of a terminal search. Raises BadRequest (no words, bad since)."""
    words = search_tokens(text)
    if not words:
        raise BadRequest("give at least one word to search for")
    start, end = parse_range({"since": since}, now)
    filters = {k: v for k, v in (("project", project), ("service", service)) if v}
    return words, ListQuery(start=start, end=end, filters=filters, limit=limit)


def render(sql: str, **fragments: str) -> str:
    """Fill ``{name}`` placeholders of a statement with fixed fragments.

    ``str.format`` cannot be used: the statements hold ``{name:Type}``
    parameters. Every fragment passed here comes from :mod:`._sql`.
    """
    for name, fragment in fragments.items():
        sql = sql.replace("{" + name + "}", fragment)
    return sql


def conditions(filters: Mapping[str, Any], table: Mapping[str, str]) -> str:
    """``AND``-joined conditions of the filters that ``table`` knows (others ignored)."""
    return "".join(f"\n    AND {table[name]}" for name in filters if name in table)


def is_trace_id(text: str) -> bool:
    """32 lower-case hex digits."""
    return bool(_HEX32.match(text))


def is_span_id(text: str) -> bool:
    """16 lower-case hex digits."""
    return bool(_HEX16.match(text))


def range_params(start: datetime, end: datetime) -> dict[str, Any]:
    """The ``start``/``end`` parameters every ranged statement binds."""
    return {"start": ch_time(start), "end": ch_time(end)}


def tokens_condition(words: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The condition that every word occurs in a span (SEARCH_TOKEN each), and its parameters."""
    sql = " AND ".join(_sql.SEARCH_TOKEN.replace("qN", f"q{i}") for i in range(len(words)))
    return sql, {f"q{i}": word for i, word in enumerate(words)}


def traces_sql(
    query: TraceQuery, *, final: bool, rows: int, skip: int
) -> tuple[str, dict[str, Any]]:
    """The TRACES statement and its parameters: ``rows`` rows after ``skip``, with or
    without FINAL (see Reader.traces)."""
    params: dict[str, Any] = {
        **range_params(query.start, query.end),
        "limit": rows,
        "offset": skip,
    }
    for name, value in query.filters.items():
        params[name] = ("true" if value else "false") if isinstance(value, bool) else value
    search = ""
    if query.search:
        tokens, words = tokens_condition(query.search)
        span_conditions = conditions(
            {k: v for k, v in query.filters.items() if k in ("project", "allowed")},
            _sql.SPAN_FILTERS,
        )
        search = render(_sql.TRACE_SEARCH, span_conditions=span_conditions, tokens=tokens)
        params.update(words)
    sql = render(
        _sql.TRACES,
        final="FINAL" if final else "",
        conditions=conditions(query.filters, _sql.FILTERS),
        search=search,
        sort=_sql.SORTS[query.sort],
        order=_sql.ORDERS[query.order],
    )
    return sql, params
