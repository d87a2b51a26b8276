"""Deterministic sample records, in the JSON form the worker publishes.

For benchmarks, tests and demos: ``sample_span_records`` builds plain dicts
(no pydantic on the hot path) that validate as
:class:`~tracestream.schemas.SpanRecord`; a test keeps them valid.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["sample_span_records"]

_SERVICES = ("checkout", "search", "support-bot", "ingest")
_MODELS = (("gpt-4o", "openai"), ("claude-sonnet-4", "anthropic"), ("gemini-2.5-pro", "google"))
_TOOLS = ("web_search", "sql_query", "fetch_url", "calculator")
_WORDS = (
    "refund order invoice shipping delay password reset account billing plan upgrade "
    "cancel subscription error timeout latency database index query cache warm cold"
).split()


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sample_span_records(
    count: int,
    *,
    seed: int = 0,
    project: str = "demo",
    start: datetime | None = None,
    spans_per_trace: int = 5,
) -> list[dict[str, Any]]:
    """``count`` spans in traces of ``spans_per_trace``: a root agent and children.

    Pure and deterministic for a given seed. About 300 bytes of text per span.
    """
    rng = random.Random(seed)
    base = start or datetime(2026, 11, 1, tzinfo=UTC)
    records: list[dict[str, Any]] = []
    trace_id = ""
    root = ""
    for i in range(count):
        position = i % spans_per_trace
        if position == 0:
            trace_id = f"{rng.getrandbits(128) | 1:032x}"
            root = f"{rng.getrandbits(64) | 1:016x}"
            t0 = base + timedelta(seconds=i // spans_per_trace)
            service = rng.choice(_SERVICES)
            user = f"user-{rng.randrange(1000)}"
            session = f"session-{rng.randrange(5000)}"
        span_id = root if position == 0 else f"{rng.getrandbits(64) | 1:016x}"
        kind = "agent" if position == 0 else ("generation" if position % 2 else "tool")
        start_time = t0 + timedelta(milliseconds=10 * position)
        duration = rng.lognormvariate(5, 1)
        error = rng.random() < 0.03
        text = " ".join(rng.choices(_WORDS, k=20))
        record: dict[str, Any] = {
            "project": project,
            "service": service,
            "environment": "production",
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": None if position == 0 else root,
            "trace": {"name": f"{service}-flow", "session_id": session, "user_id": user,
                      "tags": ["bench"], "release": "1.0.0"},
            "kind": kind,
            "name": f"{kind}-{position}",
            "status": "error" if error else "ok",
            "start_time": _iso(start_time),
            "end_time": _iso(start_time + timedelta(milliseconds=duration)),
            "duration_ms": round(duration, 3),
            "input": {"messages": [{"role": "user", "content": text}]},
            "output": {"role": "assistant", "content": text[::-1]},
            "attributes": {"region": "eu-west-1", "attempt": 1},
            "event_ids": [],
            "version": 1,
            "processed_at": _iso(start_time + timedelta(seconds=1)),
        }  # fmt: skip
        if kind == "generation":
            model, provider = rng.choice(_MODELS)
            tokens_in, tokens_out = rng.randrange(100, 4000), rng.randrange(10, 800)
            record["model"] = {"name": model, "provider": provider,
                               "parameters": {"temperature": 0.2}}  # fmt: skip
            record["usage"] = {"input_tokens": tokens_in, "output_tokens": tokens_out,
                               "cached_tokens": 0, "cache_write_tokens": 0,
                               "reasoning_tokens": 0}  # fmt: skip
            cost_in, cost_out = tokens_in * 2.5e-6, tokens_out * 1e-5
            record["cost"] = {"input_usd": cost_in, "output_usd": cost_out, "cached_usd": 0.0,
                              "cache_write_usd": 0.0, "reasoning_usd": 0.0,
                              "total_usd": cost_in + cost_out,
                              "price_source": "genai-prices"}  # fmt: skip
        elif kind == "tool":
            record["tool"] = {"name": rng.choice(_TOOLS), "call_id": f"call-{i}",
                              "arguments": {"q": text[:40]}, "result": {"ok": not error}}  # fmt: skip
        if error:
            record["error"] = {"type": "TimeoutError", "message": "upstream timed out",
                               "stack": None}  # fmt: skip
        records.append(record)
    return records
