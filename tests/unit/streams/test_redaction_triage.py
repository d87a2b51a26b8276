"""The per-string triage: it may only leave out a detector that would have found nothing.

Soundness is checked directly: wherever a detector, run on its own, yields a
span, the triage must have picked it. Plus the walk's copy-on-change rules.
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Any

import pytest

from benchmarks.redact import typical_prompt_text
from tests.unit.streams._corpus import load
from tests.unit.streams.test_secrets import SAMPLES
from tracestream.streams import RedactionPolicy, Redactor
from tracestream.streams._detectors import builtin_detectors, builtin_triage

pytestmark = pytest.mark.unit

DETECTORS = builtin_detectors()
TRIAGE = builtin_triage(DETECTORS)
R = Redactor()

# Values each needing its detector, in shapes the triage must not miss: an IBAN
# whose only digit run is its check digits, a phone number starting with "+" or
# "(", an IPv6 address without "::", a bearer token with dots, a webhook URL.
MUST_RUN = {
    "iban": ["GB82WEST12345698765432", "pay to GB82 WEST 1234 5698 7654 32 today"],
    "credit_card": ["card 4111-1111-1111-1111", "5555555555554444"],
    "us_ssn": ["SSN 123-45-6789", "ssn: 123 45 6789", "SSN 123456789"],
    "phone": ["call +44 20 7946 0958", "phone (415) 555-2671", "tel 415.555.2671"],
    "ipv4": ["host 10.1.2.3 up", "8.8.8.8"],
    "ipv6": ["fe80:0:0:0:202:b3ff:fe1e:8329", "addr 2001:db8::8a2e:370:7334"],
    "email": ["ops@example.com", "mail a.b+c@x.io"],
    "jwt": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"],
    "private_key": ["-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"],
    "api_key": [
        "Authorization: Bearer ya29.a0AfH6SMBx9kLmNoPqRsTuVwXyZaBcDeFgHiJk",
        "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/aBcDeFgHiJkLmNoPqRsTuVwX",
    ],
}


def _assert_sound(text: str) -> None:
    picked = {d.name for d in TRIAGE(text)}
    for detector in DETECTORS:
        if any(end > start for start, end in detector.find(text)):
            assert detector.name in picked, (detector.name, text)


@pytest.mark.parametrize(("name", "text"), [(n, t) for n, ts in MUST_RUN.items() for t in ts])
def test_triage_keeps_the_detector_a_value_needs(name: str, text: str) -> None:
    padding = "plain words " * 12  # long texts take another path through the triage
    for variant in (text, f"{text} {padding}", f"{padding} {text}"):
        assert name in {d.name for d in TRIAGE(variant)}, variant
        assert name in {f.detector for f in R.scan(variant)}, variant
        _assert_sound(variant)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_triage_keeps_api_key_for_every_rule(name: str) -> None:
    sample = SAMPLES[name][0]
    for text in (sample, f"{sample};", f"use {sample} now"):
        assert "api_key" in {d.name for d in TRIAGE(text)}, text
        _assert_sound(text)


@pytest.mark.parametrize(
    "text",
    ["plain words only", "order 12345", "3 hits", "version 1.2.3", "a-b_c", "name: value"],
)
def test_triage_skips_what_cannot_match(text: str) -> None:
    assert TRIAGE(text) == []
    assert R.scan(text) == []


def test_triage_is_sound_over_the_corpus_and_bench_text() -> None:
    texts = [str(row["text"]) for row in load()] + typical_prompt_text(300_000)
    for text in texts:
        _assert_sound(text)


def test_triage_is_sound_on_fragments() -> None:
    # Cuts through values at arbitrary places: the conditions must hold on any string.
    rng = random.Random(4)
    rows = [str(row["text"]) for row in load()]
    for _ in range(3000):
        text = rng.choice(rows)
        start = rng.randrange(len(text))
        _assert_sound(text[start : start + rng.randint(1, 80)])


def test_extra_patterns_and_deny_list_always_run() -> None:
    policy = RedactionPolicy(extra_patterns={"ticket": r"TCK[A-Z]{4}"}, deny_list=("acme",))
    redactor = Redactor(policy)
    # no digit, "@", colon or prefix: no built-in detector runs, the others still do
    text, findings = redactor.redact_text("see TCKABCD from Acme")
    assert text == "see <TICKET> from <DENY_LIST>"
    assert [f.detector for f in findings] == ["ticket", "deny_list"]


def test_unchanged_containers_are_returned_as_is() -> None:
    value: dict[str, Any] = {"a": ["no pii here", {"b": "order 12345"}], "n": 3}
    new, redactions = R.redact_value(value, "input")
    assert new is value
    assert redactions == []


def test_changed_containers_are_copies_and_the_input_is_kept() -> None:
    inner = {"keep": "nothing", "mail": "write to ops@example.com"}
    value: dict[str, Any] = {"a": [inner, "plain"], "b": {"c": "plain"}}
    new, redactions = R.redact_value(value, "input")
    assert new == {
        "a": [{"keep": "nothing", "mail": "write to <EMAIL>"}, "plain"],
        "b": {"c": "plain"},
    }
    assert inner["mail"] == "write to ops@example.com"
    assert isinstance(new, dict)
    assert new["b"] is value["b"]  # untouched branches are shared, not rebuilt
    assert [(r.detector, r.field, r.count) for r in redactions] == [("email", "input.a[0].mail", 1)]


def test_attribute_globs_select_keys() -> None:
    redactor = Redactor(RedactionPolicy(attribute_keys=("user.*",)))
    attributes = {"user.email": "a@example.com", "other": "b@example.com"}
    for _ in range(2):  # the second time from the memo
        new, redactions = redactor.redact_value(
            {k: v for k, v in attributes.items() if redactor._attribute_selected(k)}, "attributes"
        )
        assert new == {"user.email": "<EMAIL>"}
        assert [r.field for r in redactions] == ["attributes.user.email"]


def test_clean_memo_holds_only_strings_with_nothing_redacted() -> None:
    redactor = Redactor()
    value = ["plain words only, version 1.2.3", "write to ops@example.com", "order 12345"]
    for _ in range(3):  # the second and third walks answer clean strings from the memo
        new, redactions = redactor.redact_value(value, "input")
        assert new == ["plain words only, version 1.2.3", "write to <EMAIL>", "order 12345"]
        assert [(r.detector, r.field, r.count) for r in redactions] == [("email", "input[1]", 1)]
    assert redactor._clean == {"plain words only, version 1.2.3", "order 12345"}


def test_numeric_runs_and_the_long_run_condition_agree_on_random_text() -> None:
    # numeric_runs matches a block at a time, possessively; the triage's condition a
    # character at a time: both must see the same runs, e.g. ten digits without a space.
    from tracestream.streams import _detectors

    char_level = re.compile(f"{_detectors._RUN_START}{_detectors._RUN_NEXT}*")
    rng = random.Random(7)
    texts = ["call 4155552671", "+44 20 7946 0958", "(415) 555-2671", "1.2.3.4", "ab 12 (3"]
    texts += ["".join(rng.choice("0123456789 ().-+ab") for _ in range(rng.randint(1, 40))) for _ in range(5000)]  # fmt: skip
    # padded past the length where the triage lists runs instead of searching
    texts += [f"{text} {'words ' * 30}" for text in texts[:1000]]
    for text in texts:
        spans = [m.span() for m in char_level.finditer(text)]
        assert [m.span() for m in _detectors._RUN.finditer(text)] == spans, text
        runs = _detectors.numeric_runs(text)  # (none without a digit)
        longest = max((end - start for start, end in runs), default=0)
        picked = {d.name for d in TRIAGE(text)}
        assert ("ipv4" in picked) == (longest >= 7), text
        assert ("phone" in picked) == (longest >= 10), text


def test_decisions_outcome_and_error_of_an_end_event() -> None:
    from datetime import UTC, datetime

    from tracestream.schemas import Decision, ErrorInfo, Outcome, SpanEndEvent

    now = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    clean = Decision(name="route", choice="self-service", reason="account question")
    event = SpanEndEvent(
        **_end_envelope(now),
        decisions=(
            clean,
            Decision(
                name="notify", choice={"to": "ops@example.com"}, reason="mail ops@example.com"
            ),
            Decision(name="n", choice=3, reason=None),
        ),
        outcome=Outcome(label="done", detail=["call +1 415-555-2671"]),
        error=ErrorInfo(type="E", message="card 4111 1111 1111 1111", stack=""),
    )
    for redactor in (Redactor(), Redactor()):
        for _ in range(2):  # the second time with clean strings from the memo
            redacted, found = redactor.redact_event(event)
            assert redacted.decisions[0] is clean
            assert redacted.decisions[1].choice == {"to": "<EMAIL>"}
            assert redacted.decisions[1].reason == "mail <EMAIL>"
            assert redacted.decisions[2] == event.decisions[2]
            assert redacted.outcome is not None and redacted.outcome.detail == ["call <PHONE>"]
            assert redacted.error == ErrorInfo(type="E", message="card <CREDIT_CARD>", stack=None)
            assert [(r.detector, r.field, r.count) for r in found] == [
                ("credit_card", "error.message", 1),
                ("phone", "outcome.detail[0]", 1),
                ("email", "decisions[1].choice.to", 1),
                ("email", "decisions[1].reason", 1),
            ]
            assert redacted.redactions == tuple(found)


def test_redacted_memo_gives_the_same_answer_and_holds_no_found_value() -> None:
    policy = RedactionPolicy(modes={"email": "hash"}, hmac_key=b"k")
    redactor = Redactor(policy)
    card = "4111 1111 1111 1111"
    value = [f"card {card} and a@example.com", {"again": f"card {card} and a@example.com"}]
    first = redactor.redact_value(value, "input")
    for _ in range(2):
        assert redactor.redact_value(value, "input") == first
    assert [(r.detector, r.field) for r in first[1]] == [
        ("credit_card", "input[0]"),
        ("email", "input[0]"),
        ("credit_card", "input[1].again"),
        ("email", "input[1].again"),
    ]
    assert len(redactor._redacted_memo) == 1
    stored = repr(redactor._redacted_memo)
    assert card not in stored and "a@example.com" not in stored
    assert card.encode() not in b"".join(redactor._redacted_memo)


def test_event_subclasses_are_redacted_like_their_base() -> None:
    from datetime import UTC, datetime

    from tracestream.schemas import SpanEndEvent

    class MyEnd(SpanEndEvent):
        pass

    now = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    event = MyEnd(
        **_end_envelope(now),
        output="mail ops@example.com",
    )
    redacted, found = Redactor().redact_event(event)
    assert type(redacted) is MyEnd
    assert redacted.output == "mail <EMAIL>"
    assert redacted.redactions == found
    assert [(r.detector, r.field) for r in found] == [("email", "output")]


def test_memos_are_bounded_and_refill(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracestream.streams import _redaction

    monkeypatch.setattr(_redaction, "_MEMO_CHARS", 200)
    redactor = Redactor()
    for n in range(50):
        clean, found = f"plain text number {n:05d} here", f"write {n} to ops{n}@example.com"
        new, redactions = redactor.redact_value([clean, found, "x" * 9000], "input")
        assert new == [clean, f"write {n} to <EMAIL>", "x" * 9000]
        assert [(r.detector, r.field) for r in redactions] == [("email", "input[1]")]
        assert sum(map(len, redactor._clean)) <= 200
        assert len(redactor._redacted_memo) <= 200 // len(found) + 1
    assert "x" * 9000 not in redactor._clean  # longer than any memo entry may be


def _end_envelope(now: datetime) -> dict[str, Any]:
    """The fields every span.end event of these tests shares."""
    return {
        "event_id": "01936f3e-8f5a-7cc2-9d5e-0a1b2c3d4e5f",
        "project": "p",
        "service": "s",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "timestamp": now,
        "event_type": "span.end",
        "span_id": "00f067aa0ba902b7",
        "end_time": now,
    }
