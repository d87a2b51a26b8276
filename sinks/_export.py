"""``tracestream export``: chosen traces as training data and example suites.

Two formats, one JSON object per line:

- ``chat`` (fine-tuning / distillation, OpenAI chat format): one line per
  trace. The system and user messages come from the trace's first generation
  input; then, in time order, each generation's output becomes an
  ``assistant`` message and each tool span an assistant ``tool_calls`` entry
  followed by its ``tool`` result message::

      {"messages": [{"role": "system", ...}, {"role": "user", ...},
                    {"role": "assistant", "content": null, "tool_calls": [...]},
                    {"role": "tool", "tool_call_id": ..., "content": "..."},
                    {"role": "assistant", "content": "..."}],
       "metadata": {"trace_id": ..., "project": ..., "models": [...], "scores": {...}}}

- ``examples`` (an example suite): ``{"id", "input", "expected_output",
  "metadata"}`` from the trace's input and output. The traces can be the
  selection the examples report wrote (``tracestream analyze --report
  examples --write-examples FILE``): its trace ids and each case's label
  (good or bad, in ``metadata.label``).

The data read is what the tables hold: the worker redacted it before the
sink wrote it, so exports carry the redacted text. Selection is by time,
project, status, model, tags and mean score per score name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ._readonly import run_readonly
from ._sql import result_from_arrow
from ._storage import Storage

__all__ = ["ExportFilter", "chat_records", "example_records", "select_traces"]


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which traces to export (all conditions must hold).

    Attributes:
        start, end: trace start in ``[start, end)``.
        project: only this project.
        statuses: trace status in these (empty: any).
        models: the trace used one of these models (empty: any).
        tags: the trace carries all of these tags.
        min_scores: score name -> the trace's mean score of that name must be >= value.
        trace_ids: only these traces (empty: any), e.g. an examples selection.
        limit: at most this many traces, oldest first.
    """

    start: datetime
    end: datetime
    project: str | None = None
    statuses: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_scores: tuple[tuple[str, float], ...] = ()
    limit: int = 10_000
    trace_ids: tuple[str, ...] = ()


def _parse(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def select_traces(storage: Storage, flt: ExportFilter) -> list[dict[str, Any]]:
    """The chosen traces with their scores (mean per name), oldest first. Blocks."""
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    params: dict[str, Any] = {
        "start": flt.start.strftime(fmt),
        "end": flt.end.strftime(fmt),
        "limit": flt.limit,
    }
    conds = ["start_time >= {start:DateTime64(6)}", "start_time < {end:DateTime64(6)}"]
    if flt.project is not None:
        conds.append("project = {project:String}")
        params["project"] = flt.project
    if flt.statuses:
        conds.append("status IN {statuses:Array(String)}")
        params["statuses"] = list(flt.statuses)
    if flt.models:
        conds.append("hasAny(models, {models:Array(String)})")
        params["models"] = list(flt.models)
    if flt.tags:
        conds.append("hasAll(tags, {tags:Array(String)})")
        params["tags"] = list(flt.tags)
    if flt.trace_ids:
        conds.append("trace_id IN {trace_ids:Array(String)}")
        params["trace_ids"] = list(flt.trace_ids)
    for i, (name, minimum) in enumerate(flt.min_scores):
        conds.append(
            f"trace_id IN (SELECT trace_id FROM scores FINAL WHERE name = {{sn{i}:String}}"
            f" GROUP BY trace_id HAVING avg(value) >= {{sv{i}:Float64}})"
        )
        params[f"sn{i}"], params[f"sv{i}"] = name, minimum
    sql = f"""
        SELECT t.trace_id AS trace_id, t.project AS project, t.name AS name,
               t.status AS status, t.models AS models, t.tags AS tags,
               t.duration_ms AS duration_ms, t.cost_usd AS cost_usd,
               t.input AS input, t.output AS output, t.start_time AS start_time,
               s.names AS score_names, s.means AS score_means
        FROM (SELECT * FROM traces FINAL WHERE {" AND ".join(conds)}) AS t
        LEFT JOIN
        (
            SELECT trace_id, groupArray(name) AS names, groupArray(mean) AS means
            FROM (SELECT trace_id, name, avg(value) AS mean FROM scores FINAL
                  WHERE value IS NOT NULL GROUP BY trace_id, name ORDER BY name)
            GROUP BY trace_id
        ) AS s ON s.trace_id = t.trace_id
        ORDER BY t.start_time, t.trace_id
        LIMIT {{limit:UInt32}}
    """
    rows = result_from_arrow(run_readonly(storage, sql, params)).dicts()
    for row in rows:
        names, means = row.pop("score_names") or [], row.pop("score_means") or []
        row["scores"] = {n: round(m, 6) for n, m in zip(names, means, strict=True)}
        row["input"], row["output"] = _parse(row["input"]), _parse(row["output"])
    return rows


def _messages(value: Any) -> list[dict[str, Any]]:
    """A generation input as chat messages."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return [dict(m) for m in value]
    if value is None:
        return []
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return [{"role": "user", "content": text}]


def _assistant(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and value.get("role") == "assistant":
        return dict(value)
    if isinstance(value, str) or value is None:
        return {"role": "assistant", "content": value}
    return {"role": "assistant", "content": orjson.dumps(value).decode()}


def chat_records(storage: Storage, traces: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One chat-format record per trace that has at least one generation. Blocks."""
    if not traces:
        return
    sql = """
        SELECT trace_id, span_id, kind, input, output, tool_name, tool_call_id,
               tool_arguments, tool_result
        FROM spans FINAL
        WHERE trace_id IN {ids:Array(String)} AND kind IN ('generation', 'tool')
        ORDER BY trace_id, start_time, span_id
    """
    ids = [t["trace_id"] for t in traces]
    spans: dict[str, list[dict[str, Any]]] = {}
    for row in result_from_arrow(run_readonly(storage, sql, {"ids": ids})).dicts():
        spans.setdefault(row["trace_id"], []).append(row)
    for trace in traces:
        messages: list[dict[str, Any]] = []
        for span in spans.get(trace["trace_id"], []):
            if span["kind"] == "generation":
                if not messages:
                    messages = _messages(_parse(span["input"]))
                messages.append(_assistant(_parse(span["output"])))
                continue
            call_id = span["tool_call_id"] or f"call_{span['span_id']}"
            arguments = span["tool_arguments"] or "{}"
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": span["tool_name"], "arguments": arguments},
                        }
                    ],
                }
            )
            messages.append(
                {"role": "tool", "tool_call_id": call_id, "content": span["tool_result"]}
            )
        if not any(m["role"] == "assistant" and m.get("content") for m in messages):
            continue
        yield {"messages": messages, "metadata": _metadata(trace)}


def example_records(
    traces: list[dict[str, Any]], labels: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """One example per trace: input, expected output and metadata. Pure.

    ``labels`` (trace id -> "good"/"bad", from an examples selection) adds
    ``metadata.label`` to the traces it names.
    """
    for trace in traces:
        metadata = _metadata(trace)
        if labels and trace["trace_id"] in labels:
            metadata["label"] = labels[trace["trace_id"]]
        yield {
            "id": trace["trace_id"],
            "input": trace["input"],
            "expected_output": trace["output"],
            "metadata": metadata,
        }


def _metadata(trace: dict[str, Any]) -> dict[str, Any]:
    return {
        "trace_id": trace["trace_id"],
        "project": trace["project"],
        "name": trace["name"],
        "status": trace["status"],
        "models": list(trace["models"]),
        "tags": list(trace["tags"]),
        "scores": trace["scores"],
        "duration_ms": trace["duration_ms"],
        "cost_usd": trace["cost_usd"],
    }
