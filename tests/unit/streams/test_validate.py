"""Validate -> DLQ: bad records become dead letters, byte for byte, with the reason."""

from __future__ import annotations

import orjson
import pytest

from tracestream.streams._validate import (
    DLQ_HEADER_PREFIX,
    DLQ_REASONS,
    DeadLetter,
    SourceRecord,
    Validator,
    dead_letter,
)

pytestmark = pytest.mark.unit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
GOOD = {
    "event_id": "01936f4e-7c2a-7def-8a4b-0123456789ab",
    "event_type": "span",
    "project": "p",
    "service": "s",
    "trace_id": TRACE,
    "span_id": "00f067aa0ba902b7",
    "timestamp": "2026-11-24T07:30:00.123456Z",
    "kind": "tool",
    "name": "lookup",
    "start_time": "2026-11-24T07:30:00Z",
    "end_time": "2026-11-24T07:30:01Z",
}


def _record(value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()) -> SourceRecord:
    return SourceRecord(
        topic="x.tracestream.events",
        partition=3,
        offset=42,
        key=TRACE.encode(),
        value=value,
        headers=headers,
        timestamp_ms=1,
    )


@pytest.fixture
def validator() -> Validator:
    return Validator(max_event_bytes=4096, max_depth=8)


def test_valid_event_parses(validator: Validator) -> None:
    result = validator.validate(_record(orjson.dumps(GOOD)), now_ms=5)
    assert not isinstance(result, DeadLetter)
    assert result.trace_id == TRACE


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not utf8", "not_utf8"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (b"x" * 5000, "too_large"),
        (orjson.dumps({"a": [[[[[[[[[[1]]]]]]]]]]}), "too_deep"),
        (orjson.dumps({**GOOD, "schema_version": 9}), "unknown_schema_version"),
        (orjson.dumps({**GOOD, "event_type": "log"}), "unknown_event_type"),
        (orjson.dumps({**GOOD, "span_id": 7}), "schema"),
        (None, "empty"),
    ],
)
def test_invalid_records_become_dead_letters(
    validator: Validator, value: bytes | None, reason: str
) -> None:
    original_headers = (("content-type", b"application/json"), ("x-custom", b"\x00\x01"))
    record = _record(value, original_headers)
    result = validator.validate(record, now_ms=1_700_000_000_000)
    assert isinstance(result, DeadLetter)
    assert result.reason == reason
    assert reason in DLQ_REASONS
    assert result.value == value  # byte for byte
    assert result.key == TRACE.encode()
    assert result.headers[:2] == original_headers
    errors = dict(result.headers[2:])
    p = DLQ_HEADER_PREFIX
    assert errors[p + "reason"] == reason.encode()
    assert errors[p + "topic"] == b"x.tracestream.events"
    assert errors[p + "partition"] == b"3"
    assert errors[p + "offset"] == b"42"
    assert errors[p + "exception.class"] == b"InvalidEvent"
    assert errors[p + "exception.message"]
    assert errors[p + "timestamp"] == b"1700000000000"


def test_replayed_dead_letter_gets_fresh_error_headers_only() -> None:
    first = dead_letter(_record(b"{"), "not_json", ValueError("one"), now_ms=1)
    again = dead_letter(
        _record(first.value, first.headers), "processing_error", RuntimeError("two"), now_ms=2
    )
    names = [name for name, _ in again.headers]
    assert len(names) == len(set(names))
    assert dict(again.headers)[DLQ_HEADER_PREFIX + "reason"] == b"processing_error"
    assert dict(again.headers)[DLQ_HEADER_PREFIX + "exception.class"] == b"RuntimeError"


def test_long_exception_message_is_truncated() -> None:
    letter = dead_letter(_record(b"{"), "schema", ValueError("x" * 100_000), now_ms=1)
    assert len(dict(letter.headers)[DLQ_HEADER_PREFIX + "exception.message"]) == 8192
