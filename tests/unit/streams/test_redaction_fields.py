"""Every text field of every event kind goes through the redaction policy.

A known value of each built-in detector is planted in every field that carries
text, in each event kind; whatever the mode, the value appears nowhere in the
redacted event's JSON, and the result is still a valid event (names within the
contract's lengths). The integration test (tests/integration/streams/
test_redaction_everywhere.py) plants the same values through the real worker.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from tracestream.schemas import EVENT_ADAPTER, ScoreEvent, SpanEvent, SpanStartEvent
from tracestream.streams import BUILTIN_DETECTORS, RedactionPolicy, Redactor
from tracestream.streams._detectors import builtin_detectors, shortest_match

pytestmark = pytest.mark.unit

KEY = b"test-key-not-secret"
#: One known value per built-in detector, each short enough for a label field.
PLANTED: dict[str, str] = {
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n"
    "-----END RSA PRIVATE KEY-----",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "api_key": "sk-proj-Hq8vT2mZ4kLw9XcB1nR7pYdF3sGaJ6eU0iO5tQyV8bN2xMc",
    "email": "jane.doe@example.com",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "credit_card": "4111 1111 1111 1111",
    "us_ssn": "078-05-1120",
    "phone": "+1 415-555-2671",
    "ipv6": "2001:db8:85a3::8a2e:370:7334",
    "ipv4": "203.0.113.42",
}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT, CHILD, WHOLE = "10f067aa0ba902b7", "20f067aa0ba902b7", "30f067aa0ba902b7"


def needles(value: str) -> list[str]:
    """What must not survive of ``value``: itself, its core (a key's body), and, for
    numbers, its digits and letters without separators (a re-formatted copy)."""
    found = [value]
    if value.startswith("-----BEGIN"):
        found.append(value.split("\n")[1])
    compact = re.sub(r"[^0-9A-Za-z]", "", value)
    if compact != value and len(compact) >= 8:
        found.append(compact)
    return found


def leaks(blob: str | bytes, value: str) -> list[str]:
    """The needles of ``value`` found in ``blob``, as written or JSON-escaped (a key's
    line breaks are ``\\n`` in JSON)."""
    data = blob.encode() if isinstance(blob, str) else blob
    return [n for n in needles(value) if n.encode() in data or orjson.dumps(n)[1:-1] in data]


def planted_events(
    value: str,
    *,
    now: datetime,
    trace_id: str = TRACE_ID,
    serial: int = 0,
    duration_s: float = 1.0,
) -> list[dict[str, Any]]:
    """Events of every kind (span.start, span.end, span, score) with ``value`` in every
    field that carries text, as JSON-ready dicts (times as ISO strings). Both spans end
    a second before ``now`` and last ``duration_s``."""
    text = f"lookup {value} now"
    end_time = now - timedelta(seconds=1)
    start = (end_time - timedelta(seconds=duration_s)).isoformat()
    end = end_time.isoformat()
    envelope: dict[str, Any] = {
        "project": "p",
        "service": "s",
        "trace_id": trace_id,
        "timestamp": end,
        "trace": {
            "name": text,
            "user_id": value,
            "session_id": value,
            "tags": [value, f"tag {value}", "web"],
            "release": text,
        },
    }
    opening: dict[str, Any] = {
        "kind": "tool",
        "name": text,
        "start_time": start,
        "input": {"q": text, "history": [text, {"content": value}]},
        "model": {"name": text, "provider": text, "parameters": {"user": value, "n": 1}},
        "tool": {
            "name": text,
            "call_id": text,
            "arguments": {"who": value},
            "result": [text],
        },
        "attributes": {"user.ip": value, "note": text, "http.status": 200},
    }
    closing: dict[str, Any] = {
        "end_time": end,
        "status": "error",
        "output": text,
        "error": {"type": text, "message": text, "stack": f"Traceback\n  {text}"},
        "outcome": {"label": text, "success": False, "detail": {"why": text}},
        "decisions": [{"name": text, "choice": {"to": value}, "reason": text}],
        "attributes": {"user.ip": value, "note": text},
        "redactions": [{"detector": text, "field": text}],
    }
    ids = iter(range(serial * 10, serial * 10 + 10))

    def event_id() -> str:
        return f"01936f4e-7c2a-7def-8a4b-{next(ids):012x}"

    return [
        {**envelope, "event_id": event_id(), "event_type": "span.start", "span_id": ROOT,
         **opening},
        {**envelope, "event_id": event_id(), "event_type": "span.end", "span_id": ROOT,
         **closing},
        {**envelope, "event_id": event_id(), "event_type": "span", "span_id": WHOLE,
         "parent_span_id": ROOT, **opening, **closing},
        {**envelope, "event_id": event_id(), "event_type": "score", "span_id": WHOLE,
         "name": text, "value": text, "comment": text},
        {**envelope, "event_id": event_id(), "event_type": "score", "name": text,
         "value": 0.5, "comment": value},
    ]  # fmt: skip


NOW = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
POLICIES = {
    "mask": RedactionPolicy(),
    "hash": RedactionPolicy(default_mode="hash", hmac_key=KEY),
    "drop": RedactionPolicy(default_mode="drop", id_mode="drop"),
    "mask, ids hashed": RedactionPolicy(hmac_key=KEY),
}


def test_every_detector_is_planted_and_a_leak_would_be_seen() -> None:
    assert set(PLANTED) == set(BUILTIN_DETECTORS)
    for value in PLANTED.values():
        assert len(leaks(orjson.dumps({"v": f"x {value} y"}), value)) >= 1


@pytest.mark.parametrize("mode", sorted(POLICIES))
@pytest.mark.parametrize("detector", BUILTIN_DETECTORS)
def test_a_planted_value_appears_nowhere_and_the_event_stays_valid(
    detector: str, mode: str
) -> None:
    redactor = Redactor(POLICIES[mode])
    for raw in planted_events(PLANTED[detector], now=NOW):
        event = EVENT_ADAPTER.validate_python(raw)
        redacted, found = redactor.redact_event(event)
        out = redacted.model_dump_json()
        assert not leaks(out, PLANTED[detector]), (raw["event_type"], out)
        # Still a valid event: names non-empty and within the contract's lengths.
        assert EVENT_ADAPTER.validate_json(out) == redacted
        assert found and {r.detector for r in found} == {detector}
        assert not leaks("".join(r.model_dump_json() for r in found), PLANTED[detector])


def test_every_text_field_is_recorded_by_its_path() -> None:
    raw = planted_events(PLANTED["email"], now=NOW)[2]  # a whole span: every span field
    _, found = Redactor().redact_event(EVENT_ADAPTER.validate_python(raw))
    assert {r.field for r in found} == {
        "trace.name", "trace.user_id", "trace.session_id", "trace.tags[0]", "trace.tags[1]",
        "trace.release", "name", "input.q", "input.history[0]", "input.history[1].content",
        "model.name", "model.provider", "model.parameters.user", "tool.name", "tool.call_id",
        "tool.arguments.who", "tool.result[0]", "attributes.user.ip", "attributes.note",
        "output", "error.type", "error.message", "error.stack", "outcome.label",
        "outcome.detail.why", "decisions[0].name", "decisions[0].choice.to",
        "decisions[0].reason", "redactions[0].detector", "redactions[0].field",
    }  # fmt: skip
    score = planted_events(PLANTED["email"], now=NOW)[3]
    _, found = Redactor().redact_event(EVENT_ADAPTER.validate_python(score))
    assert {r.field for r in found} >= {"name", "value", "comment", "trace.user_id"}


def test_ids_are_hashed_by_default_and_equal_ids_hash_equal() -> None:
    redactor = Redactor(RedactionPolicy(hmac_key=KEY))  # mask elsewhere, the default mode
    span, score = (
        EVENT_ADAPTER.validate_python(planted_events(PLANTED["email"], now=NOW)[i]) for i in (2, 4)
    )
    redacted_span, _ = redactor.redact_event(span)
    redacted_score, _ = redactor.redact_event(score)
    assert isinstance(redacted_span, SpanEvent) and isinstance(redacted_score, ScoreEvent)
    user = redacted_span.trace.user_id if redacted_span.trace else None
    assert user is not None and re.fullmatch(r"<EMAIL:[0-9a-f]{16}>", user)
    assert redacted_score.trace is not None and redacted_score.trace.user_id == user
    assert redacted_span.trace is not None and redacted_span.trace.session_id == user
    assert redacted_span.name == "lookup <EMAIL> now"  # other fields: the policy's mode
    # Case-folded before hashing, as everywhere; another key gives another token.
    upper = span.model_copy(update={"trace": span.trace.model_copy(  # type: ignore[union-attr]
        update={"user_id": PLANTED["email"].upper()})})  # fmt: skip
    assert redactor.redact_event(upper)[0].trace.user_id == user  # type: ignore[union-attr]
    other = Redactor(RedactionPolicy(hmac_key=b"another key")).redact_event(span)[0]
    assert other.trace is not None and other.trace.user_id not in (None, user)


def test_ids_are_masked_when_no_key_is_set() -> None:
    policy = RedactionPolicy()
    assert policy.effective_id_mode == "mask"
    span = EVENT_ADAPTER.validate_python(planted_events(PLANTED["phone"], now=NOW)[2])
    redacted, _ = Redactor(policy).redact_event(span)
    assert redacted.trace is not None
    assert (redacted.trace.user_id, redacted.trace.session_id) == ("<PHONE>", "<PHONE>")
    assert RedactionPolicy(hmac_key=KEY).effective_id_mode == "hash"
    assert RedactionPolicy(hmac_key=KEY, id_mode="mask").effective_id_mode == "mask"


def test_drop_keeps_required_names_and_removes_the_rest() -> None:
    redactor = Redactor(RedactionPolicy(default_mode="drop", id_mode="drop"))
    events = planted_events(PLANTED["email"], now=NOW)
    span, _ = redactor.redact_event(EVENT_ADAPTER.validate_python(events[2]))
    assert isinstance(span, SpanEvent) and span.trace is not None
    assert span.name == "<EMAIL>"  # required and a grouping key: the placeholder
    assert span.tool is not None and span.tool.name == "<EMAIL>" and span.tool.call_id is None
    assert span.model is not None and span.model.name == "<EMAIL>"
    assert span.model.provider is None
    assert span.error is not None and (span.error.type, span.error.message) == ("<EMAIL>", "")
    assert span.trace.user_id is None and span.trace.name is None
    assert span.trace.tags == ("web",)  # dropped tags leave the tuple
    score, _ = redactor.redact_event(EVENT_ADAPTER.validate_python(events[3]))
    assert isinstance(score, ScoreEvent)
    assert (score.name, score.value, score.comment) == ("<EMAIL>", "<EMAIL>", None)


@pytest.mark.parametrize("mode", ["mask", "hash"])
def test_names_stay_within_the_contract_lengths(mode: str) -> None:
    ips = " ".join(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(60))  # 7-11 chars each
    name = ("x " + ips)[:512]
    label = ("x " + ips)[:256]
    raw = planted_events("203.0.113.42", now=NOW)[2]
    raw["name"], raw["trace"]["user_id"], raw["trace"]["tags"] = name, label, [label]
    raw["tool"]["name"] = label
    policy = RedactionPolicy(default_mode=mode, hmac_key=KEY)  # type: ignore[arg-type]
    span = EVENT_ADAPTER.validate_python(raw)
    redacted, _ = Redactor(policy).redact_event(span)
    assert isinstance(redacted, SpanEvent) and redacted.trace is not None
    assert "<IPV4" in redacted.name and len(redacted.name) <= 512
    assert redacted.tool is not None and 0 < len(redacted.tool.name) <= 256
    assert 0 < len(redacted.trace.user_id or "") <= 256
    assert all(0 < len(t) <= 256 for t in redacted.trace.tags)
    assert EVENT_ADAPTER.validate_json(redacted.model_dump_json()) == redacted


def test_a_clean_event_is_returned_as_is_and_its_trace_info_remembered() -> None:
    raw = planted_events("nothing to see", now=NOW)[0]
    event = EVENT_ADAPTER.validate_python(raw)
    assert isinstance(event, SpanStartEvent)
    redactor = Redactor()
    for _ in range(2):
        redacted, found = redactor.redact_event(event)
        assert redacted is event and found == ()
    # A trace info that did hold something is never remembered as clean.
    dirty = EVENT_ADAPTER.validate_python(planted_events(PLANTED["email"], now=NOW)[0])
    for _ in range(2):
        again, found = redactor.redact_event(dirty)
        assert again.trace is not None and again.trace.user_id == "<EMAIL>" and found


def test_short_values_of_short_detectors_are_found_in_any_field() -> None:
    redactor = Redactor(RedactionPolicy(deny_list=("Bob",), extra_patterns={"ticket": "T-[0-9]"}))
    value, found = redactor.redact_value({"who": "Bob", "t": "T-7", "ip": "a::b"}, "input")
    assert value == {"who": "<DENY_LIST>", "t": "<TICKET>", "ip": "<IPV6>"}
    assert len(found) == 3


def test_shortest_match_bounds_every_built_in_finding() -> None:
    from tests.unit.streams._corpus import load

    redactor = Redactor()
    shortest = {d.name: shortest_match(d) for d in builtin_detectors()}
    texts = [str(row["text"]) for row in load()] + list(PLANTED.values())
    texts += ["1::", "a::b", "fe::1", "a@b.cd", "1.2.3.4"]
    seen: dict[str, int] = {}
    for text in texts:
        for f in redactor.scan(text):
            seen[f.detector] = min(seen.get(f.detector, 1 << 30), f.end - f.start)
    assert set(seen) == set(BUILTIN_DETECTORS)
    assert all(seen[name] >= shortest[name] for name in seen), (seen, shortest)
