"""Redactor: modes, offsets, recursive JSON, field paths, events, policy validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tracestream.schemas import (
    ErrorInfo,
    Redaction,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanStartEvent,
    ToolCall,
)
from tracestream.streams import RedactionConfigError, RedactionPolicy, Redactor

pytestmark = pytest.mark.unit

KEY = b"test-key-not-secret"
TEXT = "mail jane@example.com or call +1 415-555-2671, card 4111 1111 1111 1111."
NOW = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
ENVELOPE: dict[str, Any] = {
    "event_id": "01936f3e-8f5a-7cc2-9d5e-0a1b2c3d4e5f",
    "project": "p",
    "service": "s",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "timestamp": NOW,
}


def test_findings_index_the_original_text() -> None:
    redacted, findings = Redactor().redact_text(TEXT)
    assert [TEXT[f.start : f.end] for f in findings] == [
        "jane@example.com",
        "+1 415-555-2671",
        "4111 1111 1111 1111",
    ]
    assert redacted == "mail <EMAIL> or call <PHONE>, card <CREDIT_CARD>."


def test_hash_mode_is_keyed_stable_and_joinable() -> None:
    redactor = Redactor(RedactionPolicy(default_mode="hash", hmac_key=KEY))
    a, _ = redactor.redact_text("from jane@example.com")
    b, _ = redactor.redact_text("to JANE@example.com, again")
    token = a.removeprefix("from ")
    assert token.startswith("<EMAIL:") and len(token) == len("<EMAIL:>") + 16
    assert token in b  # same value (case-folded) -> same token: joinable
    other, _ = Redactor(RedactionPolicy(default_mode="hash", hmac_key=b"k2")).redact_text(
        "from jane@example.com"
    )
    assert other != a  # keyed: a different key gives a different token
    assert "jane" not in a
    c1, _ = redactor.redact_text("card 4111 1111 1111 1111")
    c2, _ = redactor.redact_text("card 4111-1111-1111-1111")
    assert c1 == c2  # digits are normalised before hashing


def test_hash_mode_without_key_is_refused() -> None:
    with pytest.raises(RedactionConfigError, match="HMAC key"):
        RedactionPolicy(modes={"email": "hash"})


def test_policy_rejects_bad_config() -> None:
    with pytest.raises(RedactionConfigError, match="unknown detectors"):
        RedactionPolicy(detectors=("email", "passport"))
    with pytest.raises(RedactionConfigError, match="not a regex"):
        RedactionPolicy(extra_patterns={"emp": "EMP-[0-9"})
    with pytest.raises(RedactionConfigError, match="must match"):
        RedactionPolicy(extra_patterns={"email": "x"})
    with pytest.raises(RedactionConfigError, match="mode"):
        RedactionPolicy(modes={"email": "shred"})  # type: ignore[dict-item]


def test_drop_mode_removes_the_whole_string() -> None:
    redactor = Redactor(RedactionPolicy(modes={"private_key": "drop"}))
    assert redactor.redact_text("key -----BEGIN PRIVATE KEY-----\nabc") == (
        "",
        redactor.scan("key -----BEGIN PRIVATE KEY-----\nabc"),
    )
    value, red = redactor.redact_value(
        {"a": "-----BEGIN PRIVATE KEY-----\nabc", "b": "mail x@example.com"}, "input"
    )
    assert value == {"a": None, "b": "mail <EMAIL>"}
    assert {(r.detector, r.field) for r in red} == {
        ("private_key", "input.a"),
        ("email", "input.b"),
    }


def test_extra_patterns_and_deny_list() -> None:
    redactor = Redactor(
        RedactionPolicy(
            extra_patterns={"employee_id": r"EMP-[0-9]{6}"}, deny_list=("Project Falcon",)
        )
    )
    text, findings = redactor.redact_text("EMP-123456 works on project falcon, not Falconry.")
    assert text == "<EMPLOYEE_ID> works on <DENY_LIST>, not Falconry."
    assert [f.detector for f in findings] == ["employee_id", "deny_list"]


def test_disabled_detectors_do_not_run() -> None:
    redactor = Redactor(RedactionPolicy(detectors=("email",)))
    assert [f.detector for f in redactor.scan(TEXT)] == ["email"]
    assert redactor.detector_names == ("email",)


def test_redact_value_recurses_with_field_paths() -> None:
    value = {
        "messages": [
            {"role": "user", "content": "I am jane@example.com, call +1 415-555-2671"},
            {"role": "assistant", "content": ["ok", {"note": "10.1.2.3 and 10.1.2.4"}]},
        ],
        "n": 3,
        "flag": True,
        "none": None,
    }
    new, redactions = Redactor().redact_value(value, "input")
    assert new == {
        "messages": [
            {"role": "user", "content": "I am <EMAIL>, call <PHONE>"},
            {"role": "assistant", "content": ["ok", {"note": "<IPV4> and <IPV4>"}]},
        ],
        "n": 3,
        "flag": True,
        "none": None,
    }
    assert sorted((r.detector, r.field, r.count) for r in redactions) == [
        ("email", "input.messages[0].content", 1),
        ("ipv4", "input.messages[1].content[1].note", 2),
        ("phone", "input.messages[0].content", 1),
    ]
    assert value["messages"][0]["content"].startswith("I am jane")  # input untouched


def test_span_event_redacted_everywhere() -> None:
    event = SpanEvent(
        **ENVELOPE,
        event_type="span",
        span_id="00f067aa0ba902b7",
        kind="tool",
        name="crm_lookup",
        start_time=NOW,
        end_time=NOW,
        input={"q": "find jane@example.com"},
        output="found SSN 078-05-1120",
        tool=ToolCall(name="crm", arguments={"email": "jane@example.com"}, result="ok"),
        error=ErrorInfo(type="ValueError", message="bad card 4111111111111111"),
        attributes={"user.ip": "203.0.113.9", "http.status": 200},
        redactions=(Redaction(detector="email", field="earlier"),),
    )
    redacted, found = Redactor().redact_event(event)
    assert redacted.input == {"q": "find <EMAIL>"}
    assert redacted.output == "found SSN <US_SSN>"
    assert redacted.tool is not None and redacted.tool.arguments == {"email": "<EMAIL>"}
    assert redacted.error is not None and redacted.error.message == "bad card <CREDIT_CARD>"
    assert redacted.attributes == {"user.ip": "<IPV4>", "http.status": 200}
    fields = {(r.detector, r.field) for r in found}
    assert fields == {
        ("email", "input.q"),
        ("us_ssn", "output"),
        ("email", "tool.arguments.email"),
        ("credit_card", "error.message"),
        ("ipv4", "attributes.user.ip"),
    }
    assert redacted.redactions[0].field == "earlier"
    assert set(redacted.redactions[1:]) == set(found)
    assert event.output == "found SSN 078-05-1120"  # original untouched


def test_attribute_selection() -> None:
    event = SpanEndEvent(
        **ENVELOPE,
        event_type="span.end",
        span_id="00f067aa0ba902b7",
        end_time=NOW,
        attributes={"client.ip": "203.0.113.9", "server.ip": "198.51.100.7"},
    )
    redactor = Redactor(RedactionPolicy(attribute_keys=("client.*",)))
    redacted, found = redactor.redact_event(event)
    assert redacted.attributes == {"client.ip": "<IPV4>", "server.ip": "198.51.100.7"}
    assert [r.field for r in found] == ["attributes.client.ip"]


def test_start_and_score_events_return_redactions_alongside() -> None:
    start = SpanStartEvent(
        **ENVELOPE,
        event_type="span.start",
        span_id="00f067aa0ba902b7",
        kind="generation",
        name="chat",
        start_time=NOW,
        input=[{"role": "user", "content": "my email is jane@example.com"}],
    )
    redacted, found = Redactor().redact_event(start)
    assert redacted.input == [{"role": "user", "content": "my email is <EMAIL>"}]
    assert found == (Redaction(detector="email", field="input[0].content"),)
    score = ScoreEvent(**ENVELOPE, event_type="score", name="thumbs", value=False,
                       comment="wrong, call me at +44 20 7946 0958")  # fmt: skip
    redacted_score, found = Redactor().redact_event(score)
    assert redacted_score.comment == "wrong, call me at <PHONE>"
    assert found == (Redaction(detector="phone", field="comment"),)


def test_clean_event_is_returned_as_is() -> None:
    score = ScoreEvent(**ENVELOPE, event_type="score", name="ok", value=1.0, comment="fine")
    redacted, found = Redactor().redact_event(score)
    assert redacted is score and found == ()
