"""What the conversion reads of one OTLP span, whichever encoding it came in.

Protobuf requests fill it from the ``Span`` message
(:func:`~tracestream.producers.otlp._convert.convert_request`), OTLP/JSON
requests straight from the parsed JSON
(:func:`~tracestream.producers.otlp._json_spans.read_json_spans`), so both
encodings share one conversion and a JSON span never becomes a protobuf
object on the way (that cost ~70 us per LLM-sized span).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue

from ._genai import OtelEvent

__all__ = ["SpanInput"]


@dataclass(frozen=True, slots=True)
class SpanInput:
    """One span's fields, attributes decoded to JSON values; names as in OTLP's proto."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    trace_state: str
    name: str
    kind: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, JsonValue]
    events: list[OtelEvent]
    #: Each link as ``otel.links`` keeps it (hex ids, attributes, its trace state).
    links: list[dict[str, JsonValue]]
    status_code: int
    status_message: str
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int
