"""The read API's answers: typed queries in, JSON-ready dicts out.

:class:`Reader` holds a :class:`~tracestream.sinks.Storage` (the query
server's client, a chDB directory or a server) and runs the statements of
:mod:`._sql` read-only (``readonly = 2`` on every query; the query server
enforces it again on its side). Methods block on the engine: the web layer
calls them from worker threads.

JSON conventions: times are ISO 8601 UTC strings with microseconds and a
``Z``; payload columns stored as JSON text (inputs, outputs, tool arguments
and results, parameters) are decoded back into JSON values; span times in a
trace are also given as milliseconds from the trace's first span
(``start_ms``, ``end_ms``), the waterfall's axis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tracestream.sinks import Storage, result_from_arrow

from . import _sql
from ._params import (
    ListQuery,
    TraceQuery,
    ch_time,
    conditions,
    range_params,
    render,
    tokens_condition,
    traces_sql,
)
from ._tree import layout_columns

__all__ = [
    "MAX_TRACE_SPANS",
    "Reader",
    "bucket_seconds",
    "fill_series",
    "iso",
    "page_of_newest",
]

#: Spans read for one trace at most. The worker caps traces at
#: ``max_spans_per_trace`` (10,000 by default); this is a guard above it.
MAX_TRACE_SPANS = 50_000
_READONLY = {"readonly": 2}
_JSON_COLUMNS = frozenset(
    {
        "input",
        "output",
        "model_parameters",
        "tool_arguments",
        "tool_result",
        "decisions",
        "redactions",
        "outcome_detail",
    }
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def iso(value: datetime) -> str:
    """A datetime as ``2026-11-01T10:00:00.000000Z`` (UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decode_json(text: Any) -> Any:
    """JSON text back to a value; text that is not JSON (or cut short) stays text."""
    if not isinstance(text, str) or text == "":
        return None if text == "" else text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _preview(text: Any, limit: int = 200) -> str:
    """A one-line preview of a stored JSON payload (cut in SQL, so maybe not valid JSON)."""
    value = _decode_json(text)
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO strings; everything else as the engine gave it."""
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in row.items()}


def bucket_seconds(start: datetime, end: datetime, buckets: int = 60) -> int:
    """A round bucket width giving about ``buckets`` points over the range."""
    raw = (end - start).total_seconds() / max(1, buckets)
    for step in _BUCKETS:
        if raw <= step:
            return step
    return int(-(-raw // 86400) * 86400)


def fill_series(
    rows: Iterable[Mapping[str, Any]], start: datetime, end: datetime, bucket_s: int
) -> list[dict[str, Any]]:
    """One point per bucket from the range's first bucket to its last, zeros where empty.

    Buckets are aligned as ClickHouse's ``toStartOfInterval`` aligns them (on
    multiples of the width since the epoch).
    """
    by_bucket = {iso(r["bucket"]): dict(r) for r in rows}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = int((start - epoch).total_seconds()) // bucket_s * bucket_s
    points = []
    at = epoch + timedelta(seconds=first)
    while at < end:
        key = iso(at)
        row = by_bucket.get(key)
        if row is None:
            point: dict[str, Any] = {
                "bucket": key,
                "traces": 0,
                "p50_ms": None,
                "p95_ms": None,
                "errors": 0,
                "cost_usd": 0.0,
            }
        else:
            point = _plain(row)
        # No traces, no rate (None, not 0: the chart leaves a gap there).
        point["error_rate"] = (
            round(point["errors"] / point["traces"], 6) if point["traces"] else None
        )
        points.append(point)
        at += timedelta(seconds=bucket_s)
    return points


class Reader:
    """The read API over one storage. Thread-safe as the storage is.

    Every method blocks on the engine and raises the storage's errors
    (``StorageUnavailable``: try again; ``StorageRejected``: a bug in a
    statement, reported as a server error).
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        table = self._storage.query_arrow(sql, params, settings=_READONLY)
        return result_from_arrow(table).dicts()

    # -- traces -------------------------------------------------------------

    def traces(self, query: TraceQuery) -> dict[str, Any]:
        """One page of the Traces list: ``{"items", "limit", "offset", "has_more"}``.

        Exactly what ``FINAL`` would list, mostly without paying for it: the
        statement runs without FINAL for ``k`` = twice the rows the page needs
        (offset, page and one more). Every row a FINAL read would list is
        among them unless at least ``k`` rows rank above it; so the candidates
        that are their trace's newest version (TRACE_REEMITS says which traces
        have newer ones) are, in order, exactly FINAL's rows down to the last
        of them. When there are enough of those, or the result was not cut at
        ``k``, the page is read off them; otherwise (superseded versions
        crowded the top) the FINAL statement answers.
        """
        k = 2 * (query.offset + query.limit + 1)
        sql, params = traces_sql(query, final=False, rows=k, skip=0)
        candidates = self._rows(sql, params)
        newest = self._reemitted(candidates) if candidates else {}
        page = page_of_newest(candidates, newest, offset=query.offset, limit=query.limit, k=k)
        if page is None:
            sql, params = traces_sql(query, final=True, rows=query.limit + 1, skip=query.offset)
            page = self._rows(sql, params)
        items = []
        for row in page[: query.limit]:
            item = _plain(row)
            del item["version"]
            item["input_preview"] = _preview(item.pop("input_preview"))
            items.append(item)
        return {
            "items": items,
            "limit": query.limit,
            "offset": query.offset,
            "has_more": len(page) > query.limit,
            "from": iso(query.start),
            "to": iso(query.end),
        }

    def _reemitted(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
        """(project, day, trace id) -> newest version, for those traces of ``rows``
        that have a version above 1 (the others have only version 1)."""
        days = [r["start_time"].astimezone(UTC).date() for r in rows]
        lo = datetime.combine(min(days), datetime.min.time(), UTC)
        hi = datetime.combine(max(days), datetime.min.time(), UTC) + timedelta(days=1)
        params = {
            "projects": sorted({r["project"] for r in rows}),
            "ids": sorted({r["trace_id"] for r in rows}),
            "lo": ch_time(lo),
            "hi": ch_time(hi),
        }
        return {
            (r["project"], r["day"], r["trace_id"]): int(r["version"])
            for r in self._rows(_sql.TRACE_REEMITS, params)
        }

    def facets(
        self, start: datetime, end: datetime, filters: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What the filter menus offer in the range (within ``filters``, e.g. allowed)."""
        sql = render(_sql.FACETS, conditions=conditions(filters or {}, _sql.FILTERS))
        rows = self._rows(sql, {**range_params(start, end), **(filters or {})})
        return rows[0] if rows else {}

    def trace(self, trace_id: str, *, span_columns: bool = False) -> dict[str, Any] | None:
        """One trace: aggregates, spans in tree order (no payloads), scores, anomalies.

        ``None`` when neither a trace row nor any span has that id. The spans
        come as ``spans``, one object per span; with ``span_columns`` as
        ``span_columns`` instead, one list per field in the same order: what
        the Trace page asks for, a third of the bytes of a 10,000-span trace
        and no per-span objects to build on either side (issue 13: drawn
        within 1 s).
        """
        found = self._rows(_sql.TRACE, {"trace_id": trace_id})
        head = found[0] if found else None
        params: dict[str, Any] = {"trace_id": trace_id, "max_spans": MAX_TRACE_SPANS}
        bounds = ""
        if head is not None:
            bounds = _sql.TRACE_SPANS_BOUNDS
            end = head["end_time"] or head["start_time"]
            params.update(
                project=head["project"],
                start=ch_time(head["start_time"]),
                end=ch_time(end),
            )
        # The one big result, kept in columns: pyarrow converts each in C.
        table = self._storage.query_arrow(
            render(_sql.TRACE_SPANS, bounds=bounds), params, settings=_READONLY
        )
        count = table.num_rows
        if head is None and not count:
            return None
        if count:
            origin_us = int(pc.min(table.column("start_us")).as_py())
            origin = _EPOCH + timedelta(microseconds=origin_us)
            # An unfinished span counts as ending where it started.
            ends = pc.coalesce(table.column("end_us"), table.column("start_us"))
            last_us = int(pc.max(ends).as_py())
        else:
            assert head is not None
            origin = head["start_time"]
            origin_us = last_us = (origin - _EPOCH) // timedelta(microseconds=1)
        laid = _laid_columns(table, origin_us)
        project = head["project"] if head else None
        anomalies: list[dict[str, Any]] = []
        if project is None and count:
            project = self._project_of(trace_id)[0]
        if project is not None and count:
            anomalies = [
                _plain(a)
                for a in self._rows(
                    _sql.TRACE_ANOMALIES,
                    {
                        "project": project,
                        "start": ch_time(origin),
                        "end": ch_time(_EPOCH + timedelta(microseconds=last_us)),
                    },
                )
            ]
            _mark_anomalies(laid, anomalies, origin_us)
        scores = [_score(r) for r in self._rows(_sql.TRACE_SCORES, {"trace_id": trace_id})]
        spans: dict[str, Any] = (
            {"span_columns": laid} if span_columns else {"spans": _rows_of(laid)}
        )
        return {
            "trace": _plain(head) if head is not None else None,
            "trace_id": trace_id,
            "start_time": iso(origin),
            **spans,
            "truncated": count >= MAX_TRACE_SPANS,
            "scores": scores,
            "anomalies": anomalies,
        }

    def span(self, trace_id: str, span_id: str) -> dict[str, Any] | None:
        """Everything stored about one span, payloads decoded, with its scores."""
        rows = self._rows(_sql.SPAN_DETAIL, {"trace_id": trace_id, "span_id": span_id})
        if not rows:
            return None
        span = _plain(rows[0])
        for name in _JSON_COLUMNS:
            if name in span:
                span[name] = _decode_json(span[name])
        span["attributes"] = {
            k: _decode_json(v) for k, v in sorted((span.get("attributes") or {}).items())
        }
        scores = [
            _score(r)
            for r in self._rows(_sql.TRACE_SCORES, {"trace_id": trace_id})
            if r["span_id"] == span_id
        ]
        return {"span": span, "scores": scores}

    def _project_of(self, trace_id: str) -> tuple[str, str] | tuple[None, None]:
        rows = self._rows(_sql.TRACE_PROJECT, {"trace_id": trace_id})
        return (rows[0]["project"], rows[0]["environment"]) if rows else (None, None)

    def trace_tenant(self, trace_id: str) -> tuple[str, str] | None:
        """(project, environment) of a stored trace, or None when nothing of it is stored."""
        found = self._rows(_sql.TRACE, {"trace_id": trace_id})
        if found:
            return str(found[0]["project"]), str(found[0]["environment"])
        project, environment = self._project_of(trace_id)
        return None if project is None or environment is None else (project, environment)

    # -- search and tail -----------------------------------------------------------

    def search_spans(self, words: tuple[str, ...], query: ListQuery) -> dict[str, Any]:
        """Spans holding every word in their input, output or error, newest first,
        each with a one-line snippet around the first word."""
        if not words:
            return {"items": []}
        tokens, bound = tokens_condition(words)
        sql = render(
            _sql.SEARCH_SPANS,
            span_conditions=conditions(query.filters, _sql.SPAN_FILTERS),
            tokens=tokens,
        )
        params = {
            **range_params(query.start, query.end),
            **query.filters,
            **bound,
            "limit": query.limit,
        }
        items = []
        for row in self._rows(sql, params):
            found = _plain(row)
            texts = {f: found.pop(f) for f in ("input", "output", "error_message")}
            found["field"], found["snippet"] = snippet(texts, words)
            items.append(found)
        return {"items": items}

    def tail(
        self,
        *,
        start: datetime,
        after: datetime,
        after_id: str = "",
        after_version: int = 0,
        filters: Mapping[str, Any],
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Traces emitted after the cursor ``(after, after_id, after_version)``,
        oldest first, each with its ``emitted_at`` and ``version`` (the next
        cursor is the last one's)."""
        params = {
            "start": ch_time(start),
            "after": ch_time(after),
            "after_id": after_id,
            "after_version": after_version,
            "limit": limit,
            **{k: ("true" if v else "false") if isinstance(v, bool) else v
               for k, v in filters.items()},
        }  # fmt: skip
        sql = render(_sql.TAIL, conditions=conditions(filters, _sql.FILTERS))
        out = []
        for row in self._rows(sql, params):
            emitted = row["emitted_at"]
            item = _plain(row)
            item["input_preview"] = _preview(item.pop("input_preview"))
            item["emitted_at"] = emitted
            out.append(item)
        return out

    # -- sessions -------------------------------------------------------------

    def sessions(self, query: ListQuery) -> dict[str, Any]:
        """Sessions active in the range, newest first: ``{"items", "has_more"}``."""
        params = {
            **range_params(query.start, query.end),
            **query.filters,
            "limit": query.limit + 1,
            "offset": query.offset,
        }
        sql = render(_sql.SESSIONS, conditions=conditions(query.filters, _sql.FILTERS))
        rows = self._rows(sql, params)
        return {
            "items": [_plain(r) for r in rows[: query.limit]],
            "limit": query.limit,
            "offset": query.offset,
            "has_more": len(rows) > query.limit,
        }

    def session(self, key: str, query: ListQuery, *, by_user: bool = False) -> dict[str, Any]:
        """The turns of one session (or one user's traces), oldest first, as a thread."""
        params = {
            **range_params(query.start, query.end),
            **query.filters,
            "key": key,
            "limit": query.limit,
        }
        sql = render(
            _sql.SESSION_TRACES,
            field="user_id" if by_user else "session_id",
            conditions=conditions(query.filters, _sql.FILTERS),
        )
        turns = []
        for row in self._rows(sql, params):
            turn = _plain(row)
            turn["input"] = _decode_json(turn["input"])
            turn["output"] = _decode_json(turn["output"])
            turns.append(turn)
        return {"key": key, "by": "user" if by_user else "session", "turns": turns}

    # -- overview and anomalies ------------------------------------------------

    def overview(self, query: ListQuery) -> dict[str, Any]:
        """Charts' data over the range: series per bucket, costs, failing tools, anomalies."""
        bucket_s = bucket_seconds(query.start, query.end)
        base = {**range_params(query.start, query.end), **query.filters}
        trace_conditions = conditions(query.filters, _sql.FILTERS)
        span_conditions = conditions(query.filters, _sql.SPAN_FILTERS)
        series = self._rows(
            render(_sql.OVERVIEW_SERIES, conditions=trace_conditions),
            {**base, "bucket_s": bucket_s},
        )
        parts = self._rows(render(_sql.OVERVIEW_BREAKDOWNS, span_conditions=span_conditions), base)
        by_model, by_service, tools = breakdowns(parts)
        anomalies = self.anomalies(ListQuery(query.start, query.end, query.filters, limit=200))
        return {
            "from": iso(query.start),
            "to": iso(query.end),
            "bucket_s": bucket_s,
            "series": fill_series(series, query.start, query.end, bucket_s),
            "cost_by_model": by_model,
            "cost_by_service": by_service,
            "failing_tools": tools,
            "anomalies": anomalies["items"],
        }

    def anomalies(self, query: ListQuery) -> dict[str, Any]:
        """Anomaly windows opened in the range, newest first."""
        params = {**range_params(query.start, query.end), **query.filters, "limit": query.limit}
        sql = render(_sql.ANOMALIES, conditions=conditions(query.filters, _sql.ANOMALY_FILTERS))
        return {"items": [_plain(r) for r in self._rows(sql, params)]}


def snippet(texts: Mapping[str, Any], words: tuple[str, ...], width: int = 60) -> tuple[str, str]:
    """(field, one-line snippet) around the first whole-word match of any word.

    Fields are looked at in order (input, output, error_message); a word
    matches as the text index matched it: between non-alphanumeric characters.
    """
    pattern = re.compile(
        r"(?<![A-Za-z0-9\x80-\U0010ffff])(?:"
        + "|".join(re.escape(w) for w in words)
        + r")(?![A-Za-z0-9\x80-\U0010ffff])"
    )
    for field, raw in texts.items():
        value = _decode_json(raw)
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text = " ".join(text.split())
        match = pattern.search(text)
        if match:
            begin, end = max(0, match.start() - width), min(len(text), match.end() + width)
            cut = text[begin:end]
            return field, ("…" if begin else "") + cut + ("…" if end < len(text) else "")
    return "", ""


def breakdowns(
    rows: Iterable[Mapping[str, Any]], top: int = 20, top_tools: int = 10
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Split OVERVIEW_BREAKDOWNS into (by model, by service, failing tools), ranked.

    Models and services by spend (then name), top 20; tools that failed at
    least once by errors (then name), top 10.
    """
    by_level: dict[str, list[Mapping[str, Any]]] = {"model": [], "service": [], "tool": []}
    for row in rows:
        if row["key"] is not None:  # the spans outside a breakdown (no model, not a tool)
            by_level[row["level"]].append(row)
    models = [
        {"model": r["key"], "generations": r["calls"], "input_tokens": r["input_tokens"],
         "output_tokens": r["output_tokens"], "unpriced": r["unpriced"],
         "cost_usd": r["cost_usd"]}
        for r in sorted(by_level["model"], key=lambda r: (-r["cost_usd"], r["key"]))[:top]
    ]  # fmt: skip
    services = [
        {"service": r["key"], "span_count": r["calls"], "errors": r["errors"],
         "cost_usd": r["cost_usd"]}
        for r in sorted(by_level["service"], key=lambda r: (-r["cost_usd"], r["key"]))[:top]
    ]  # fmt: skip
    failing = sorted(
        (r for r in by_level["tool"] if r["errors"] > 0), key=lambda r: (-r["errors"], r["key"])
    )[:top_tools]
    tools = [
        {"tool": r["key"], "calls": r["calls"], "errors": r["errors"],
         "error_rate": round(r["errors"] / r["calls"], 6), "error_type": r["error_type"]}
        for r in failing
    ]  # fmt: skip
    return models, services, tools


def _key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """A trace row's key as the table dedups it: (project, UTC day of its start, id)."""
    return (row["project"], row["start_time"].astimezone(UTC).date().isoformat(), row["trace_id"])


def page_of_newest(
    candidates: Iterable[Mapping[str, Any]],
    newest: Mapping[tuple[str, str, str], int],
    *,
    offset: int,
    limit: int,
    k: int,
) -> list[dict[str, Any]] | None:
    """Rows ``offset`` to ``offset + limit`` (one more than the page) of the newest
    versions among ``candidates`` (the first ``k`` rows without FINAL), or ``None``
    when superseded rows took so many places that FINAL must answer.

    ``newest`` holds the newest version of the keys that have one above 1; a
    key it lacks has only version 1. Each key counts once, as in FINAL.
    """
    valid: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    count = 0
    for row in candidates:
        count += 1
        key = _key(row)
        if key not in seen and row["version"] == newest.get(key, 1):
            seen.add(key)
            valid.append(dict(row))
    want = offset + limit + 1
    if count < k or len(valid) >= want:
        return valid[offset:want]
    return None


def _laid_columns(table: Any, origin_us: int) -> dict[str, list[Any]]:
    """The spans' columns in tree order with their layout; times as ms from ``origin_us``.

    ``table`` is TRACE_SPANS' pyarrow table; its ``start_us``/``end_us`` come
    out as ``start_ms``/``end_ms``. Each column is converted and reordered by
    pyarrow in C, and the layout builds no object per span: the Python part
    of a 10,000-span trace went from 31 ms to ~9 ms, and the garbage
    collections its per-span dicts set off went with it (issue 13).
    """
    # (us - origin) / 1000 in float64, as Python divides: same values, no loop.
    times = {
        f"{name}_ms": pc.divide(
            pc.cast(pc.subtract(table.column(f"{name}_us"), origin_us), pa.float64()), 1000.0
        )
        for name in ("start", "end")
    }
    table = table.drop_columns(["start_us", "end_us"])
    parents = table.column("parent_span_id")
    table = table.set_column(
        table.schema.get_field_index("parent_span_id"),
        "parent_span_id",
        pc.if_else(pc.equal(parents, ""), pa.scalar(None, pa.string()), parents),
    )
    for name, column in times.items():
        table = table.append_column(name, column)
    layout = layout_columns(
        table.column("span_id").to_pylist(),
        table.column("parent_span_id").to_pylist(),
        times["start_ms"].to_pylist(),
        times["end_ms"].to_pylist(),
    )
    order = layout.order
    columns: dict[str, list[Any]] = table.take(order).to_pydict()
    for name in ("depth", "subtree_size", "child_count", "orphan", "critical"):
        values: list[Any] = getattr(layout, name)
        columns[name] = [values[i] for i in order]
    columns["anomaly"] = [False] * len(order)
    return columns


def _rows_of(columns: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """One object per span from the spans' columns (the API's default shape)."""
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _mark_anomalies(
    laid: dict[str, list[Any]], anomalies: list[dict[str, Any]], origin_us: int
) -> None:
    """Flag the spans that fell into an anomaly window of their own operation.

    An anomaly is keyed like a metric window (service, model, kind, name); a
    span matches when it has that key and started inside the window.
    """

    def offset_ms(text: str) -> float:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return ((at - _EPOCH) // timedelta(microseconds=1) - origin_us) / 1000.0

    windows = [
        (
            (a["service"], a["model"], a["kind"], a["name"]),
            offset_ms(a["window_start"]),
            offset_ms(a["window_end"]),
        )
        for a in anomalies
    ]
    if not windows:
        return
    keys = zip(laid["service"], laid["model"], laid["kind"], laid["name"], strict=True)
    laid["anomaly"] = [
        any(k == key and ws <= start < we for k, ws, we in windows)
        for key, start in zip(keys, laid["start_ms"], strict=True)
    ]


def _score(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored score with its value in the type it was given (number, bool or label)."""
    out = _plain(row)
    kind = out.pop("data_type")
    value, label = out.pop("value"), out.pop("string_value")
    out["span_id"] = out["span_id"] or None
    out["comment"] = out["comment"] or None
    out["data_type"] = kind
    if kind == "boolean":
        out["value"] = bool(value)
    elif kind == "categorical":
        out["value"] = label
    else:
        out["value"] = value
    return out
