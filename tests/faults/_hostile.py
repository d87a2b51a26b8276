"""Hostile records for the events topic, drawn with hypothesis, and what each must become.

Why this shape. One worker and one sink run per test (starting them costs
seconds), so hypothesis cannot run the whole test once per example. Instead
:func:`hostile_batch` runs hypothesis's engine in-process, ``@given`` over a
collecting function (``derandomize=True``, generate phase only, no example
database), once per kind of atom (hostile strings, JSON values, blobs, sizes):
the batch is the same on every run of the same code and draws on hypothesis's
own search (boundary values, its unicode heuristics), not on
``strategy.example()`` (which hypothesis warns is for interactive use). A
fixed :data:`PLAN` then builds the records, so every hostile variant (each
wrong type, each bad UTF-8 sequence, each escape, each depth boundary) is
sent at least once, filled with drawn content; ids come from a serial, so
records collide only where a case makes them collide on purpose.

Every record carries a header ``hostile-n`` (its index) and an :class:`Expect`:
``dlq`` with the reasons it may carry, or ``span`` / ``score`` with the event
as the standard library's JSON reader decodes the bytes sent (an oracle that
shares no code with the worker's orjson/msgspec/pydantic path).
"""

from __future__ import annotations

import itertools
import json
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tracestream.schemas import InvalidReason

__all__ = [
    "INDEX_HEADER",
    "MAX_DEPTH",
    "MAX_EVENT_BYTES",
    "Expect",
    "HostileRecord",
    "hostile_batch",
]

#: The worker's limits in the test (settings ``max_event_bytes``, ``max_nesting_depth``):
#: a smaller event limit than the default 1 MiB, so oversized records stay under the
#: broker's own 1 MiB message limit and reach the worker.
MAX_EVENT_BYTES = 64 * 1024
MAX_DEPTH = 32

INDEX_HEADER = "hostile-n"

SQL_LIKE = (
    "'; DROP TABLE spans; --",
    "1' OR '1'='1",
    "\\'; SELECT * FROM system.tables; --",
    "x'); TRUNCATE TABLE tracestream.traces; --",
    "' UNION ALL SELECT name, engine FROM system.tables --",
    "{name:String}",
    "{trace_id:String}",
    "$1",
    "?",
    "%s",
    "%(x)s",
    "\\N",
    "\\",
    "'",
    '"',
    "`",
    "NULL",
    "/* */",
    "-- ",
    "));",
    "{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[",  # brackets in strings: the depth pre-check
)
UNICODE_EDGE = (
    "\x00",
    "a\x00b",
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark
    "\u2028",  # line separator (invalid in JavaScript strings)
    "e\u0301",  # combining accent
    "\U0001f600",
    "\U0001f469\u200d\U0001f4bb",
    "\uffff",
    "\U0010ffff",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u05e2\u05d1\u05e8\u05d9\u05ea",
    "\t\r\n",
    "\x7f\x1b[31m",
)
#: A private-use character standing in for raw bytes spliced into the JSON afterwards.
MARKER = "\ue000"
#: Byte sequences that are not UTF-8: a stray continuation, a cut sequence, an
#: encoded surrogate, an overlong form, a code point past U+10FFFF.
BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82", b"\xf4\x90\x80\x80")
#: JSON escapes of lone surrogates: no JSON reader here may turn them into a string.
LONE_SURROGATES = (b"\\ud800", b"\\udfff", b"\\ud83dx", b"\\ude00\\ud83d")
#: JSON escapes that do decode: NUL, a surrogate pair, a zero-width space, RTL override.
GOOD_ESCAPES = (b"\\u0000", b"\\ud83d\\ude00", b"\\u200b", b"\\u202E", b"\\/")


@dataclass(frozen=True)
class Expect:
    """What must become of one record.

    ``outcome``: ``dlq`` (with one of ``reasons``), or ``span`` / ``score``: stored,
    equal to ``event`` (the sent bytes as ``json.loads`` reads them) after redaction.
    ``duplicate``: an exact resend of an earlier record (stored once, counted once).
    """

    outcome: Literal["dlq", "span", "score"]
    reasons: frozenset[str] = frozenset()
    event: dict[str, Any] = field(default_factory=dict)
    duplicate: bool = False
    case: str = ""


@dataclass(frozen=True)
class HostileRecord:
    """One record as sent: key, value, headers (the index header first)."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expect: Expect

    @property
    def index(self) -> int:
        return int(self.headers[0][1])


def text(max_size: int) -> st.SearchStrategy[str]:
    """A non-empty string of at most ``max_size`` characters, SQL and unicode edges mixed in."""
    piece = st.one_of(
        st.sampled_from(SQL_LIKE),
        st.sampled_from(UNICODE_EDGE),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
    )
    return st.lists(piece, min_size=1, max_size=4).map(lambda parts: "".join(parts)[:max_size])


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text(200),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text(40), inner, max_size=4),
    max_leaves=12,
)

KINDS = ("workflow", "agent", "step", "generation", "tool", "retrieval", "reasoning", "event")
OFFSETS = ("Z", "+00:00", "+05:30", "-08:00", "+14:00")


class Pool:
    """Atoms drawn by hypothesis, read in turn by the fields of the cases.

    A span has some twenty string fields. Drawn as one hypothesis example per span,
    examples grew so large that hypothesis kept few distinct ones (32 distinct names
    in 176 spans, 9 s); drawn as one example per case holding one atom of each kind,
    it still repeated values (64 distinct labels in 176). Each kind is drawn in a run
    of its own, where every example is distinct, and cases read them in turn.
    """

    def __init__(self, drawn: dict[str, list[Any]]) -> None:
        self._drawn = drawn
        self._next: dict[tuple[str, str], int] = {}

    def __call__(self, name: str, use: str) -> Any:
        """The next atom of kind ``name`` for the field ``use``.

        Each field reads its own sequence (from an offset of its own), so one
        field's values across cases are distinct as long as the kind has enough.
        """
        i = self._next.get((name, use), zlib.crc32(use.encode()))
        self._next[(name, use)] = i + 1
        values = self._drawn[name]
        return values[i % len(values)]

    @classmethod
    def draw(cls) -> Pool:
        """Draw every atom kind of :func:`atoms` with hypothesis, deterministically."""
        drawn: dict[str, list[Any]] = {}
        for name, (strategy, examples) in atoms().items():
            drawn[name] = _draw_all(strategy, examples)
            assert drawn[name], f"hypothesis drew no {name}"
        return cls(drawn)


def _draw_all(strategy: st.SearchStrategy[Any], examples: int) -> list[Any]:
    """What hypothesis draws in ``examples`` runs of a test over ``strategy``."""
    values: list[Any] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        values.append(value)

    collect()
    return values


def atoms() -> dict[str, tuple[st.SearchStrategy[Any], int]]:
    """Each atom kind a case may use, and how many to draw of it.

    The counts of the kinds a case reads many times are primes: a case that reads
    ``n`` labels then starts at a different offset each time round (with 400 labels
    and 20 read per span, a span's name was one of only 20).
    """
    return {
        "label": (text(64), 401),
        "long": (text(300), 101),
        "json": (json_values, 307),
        "flag": (st.booleans(), 2),
        "count": (st.integers(0, 4), 5),
        "kind": (st.sampled_from(KINDS), len(KINDS)),
        "status": (st.sampled_from(("ok", "error", "unset")), 3),
        "offset": (st.sampled_from(OFFSETS), len(OFFSETS)),
        "source": (st.sampled_from(("human", "evaluator", "heuristic", "api")), 4),
        "score": (
            st.one_of(
                st.booleans(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.integers(-(2**53), 2**53),
                text(256),
            ),
            30,
        ),
        "blob": (st.binary(max_size=64), 10),
        "non_object": (json_values.filter(lambda v: not isinstance(v, dict)), 10),
        "unit": (text(16), 20),
        "oversized": (st.integers(MAX_EVENT_BYTES + 1, 200_000), 10),
        "large": (st.integers(20_000, MAX_EVENT_BYTES - 8_000), 10),
        "cut": (st.floats(0.0, 0.999), 10),
    }


def span_fields(draw: Pool) -> dict[str, Any]:
    """The body of a valid ``span`` event with a hostile string in every string field."""
    fields: dict[str, Any] = {
        "project": draw("label", "project"),
        "service": draw("label", "service"),
        "environment": draw("label", "environment"),
        "trace": {
            "name": draw("label", "trace.name"),
            "session_id": draw("label", "trace.session_id"),
            "user_id": draw("label", "trace.user_id"),
            "tags": [draw("label", "trace.tags")[:32] for _ in range(draw("count", "tags") % 4)],
            "release": draw("label", "trace.release")[:32],
        },
        "kind": draw("kind", "kind"),
        "name": draw("label", "name"),
        "status": draw("status", "status"),
        "input": draw("json", "input"),
        "output": draw("json", "output"),
        "attributes": {
            draw("label", "attributes.key")[:40]: draw("json", "attributes.value")
            for _ in range(draw("count", "attributes"))
        },
    }
    if draw("flag", "model"):
        fields["model"] = {
            "name": draw("label", "model.name"),
            "provider": draw("label", "model.provider"),
            "parameters": {draw("label", "model.key")[:20]: draw("json", "model.parameters")},
        }
    if draw("flag", "tool"):
        fields["tool"] = {
            "name": draw("label", "tool.name"),
            "call_id": draw("label", "tool.call_id"),
            "arguments": draw("json", "tool.arguments"),
            "result": draw("json", "tool.result"),
        }
    if draw("flag", "error"):
        fields["error"] = {
            "type": draw("label", "error.type"),
            "message": draw("long", "error.message"),
            "stack": draw("long", "error.stack"),
        }
    if draw("flag", "outcome"):
        fields["outcome"] = {
            "label": draw("label", "outcome.label"),
            "success": draw("flag", "outcome.success"),
            "detail": draw("json", "outcome.detail"),
        }
    fields["_offset"] = draw("offset", "offset")
    return fields


def score_fields(draw: Pool) -> dict[str, Any]:
    """The body of a valid ``score`` event with hostile strings."""
    return {
        "project": draw("label", "score.project"),
        "service": draw("label", "score.service"),
        "name": draw("label", "score.name"),
        "value": draw("score", "score.value"),
        "source": draw("source", "score.source"),
        "comment": draw("long", "score.comment"),
        "trace": {
            "session_id": draw("label", "score.session_id"),
            "tags": [draw("label", "score.tags")[:32]],
        },
        "_offset": draw("offset", "score.offset"),
    }


#: A field set to a value of the wrong type or shape, and the reason it must be refused with.
WRONG: tuple[tuple[str, Any, str], ...] = (
    ("name", 5, "schema"),
    ("name", ["a"], "schema"),
    ("name", {"a": 1}, "schema"),
    ("name", None, "schema"),
    ("name", "", "schema"),
    ("name", "n" * 513, "schema"),
    ("project", 1.5, "schema"),
    ("kind", "banana", "schema"),
    ("status", "unfinished", "schema"),
    ("status", 1, "schema"),
    ("start_time", "yesterday", "schema"),
    ("start_time", "2026-01-01T00:00:00", "schema"),
    ("start_time", [], "schema"),
    ("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736", "schema"),
    ("trace_id", "0" * 32, "schema"),
    ("trace_id", 12345, "schema"),
    ("span_id", "0" * 16, "schema"),
    ("span_id", "' OR 1=1 --'", "schema"),
    ("event_id", "6f1c1f3e-2a4b-4c5d-9e8f-0123456789ab", "schema"),
    ("usage", {"input_tokens": -1}, "schema"),
    ("usage", {"input_tokens": "many"}, "schema"),
    ("usage", {"input_tokens": 1.5}, "schema"),
    ("usage", "lots", "schema"),
    ("attributes", [1, 2], "schema"),
    ("trace", {"tags": 5}, "schema"),
    ("redactions", "none", "schema"),
    ("'; DROP TABLE spans; --", 1, "schema"),
    ("event_type", "span.middle", "unknown_event_type"),
    ("event_type", 5, "unknown_event_type"),
    ("event_type", None, "unknown_event_type"),
    ("schema_version", 2, "unknown_schema_version"),
    ("schema_version", "1", "unknown_schema_version"),
)

#: Values the redactor must find, amid hostile text: their spans are stored as the
#: redactor rewrites them (the test compares with the redactor's own output).
PII = ("alice@example.com", "4111 1111 1111 1111", "+1 415 555 2671", "123-45-6789")

#: Depths of a nested attribute value: the worker counts the event as level 1 and the
#: attributes as level 2, so 30 is the deepest accepted; past 1,022 orjson itself refuses.
DEPTHS = (1, 12, 29, 30, 31, 32, 200, 1_022, 1_023, 3_000)

#: The plan: each hostile variant at least once (hypothesis varies what surrounds it).
PLAN: tuple[tuple[str, Any], ...] = (
    *(("valid_span", None) for _ in range(30)),
    *(("valid_score", None) for _ in range(20)),
    *(("wrong_type", wrong) for wrong in WRONG),
    *(("bad_utf8", bad) for bad in BAD_UTF8),
    *(("escape", escape) for escape in LONE_SURROGATES + GOOD_ESCAPES),
    *(("truncated", None) for _ in range(8)),
    *(("trailing", tail) for tail in (b"x", b"}", b",", b"{}")),
    *(("garbage", None) for _ in range(5)),
    *(("not_object", None) for _ in range(5)),
    ("tombstone", None),
    *(("oversized", None) for _ in range(8)),
    *(("large", None) for _ in range(8)),
    *(("nested", depth) for depth in DEPTHS),
    *(("same_span_id", None) for _ in range(10)),
    *(("same_event_id", None) for _ in range(10)),
    *(("resent", None) for _ in range(10)),
    *(("pii", pii) for pii in PII),
)


def hostile_batch() -> list[HostileRecord]:
    """The records of :data:`PLAN`, their content drawn by hypothesis (deterministically)."""
    return _Materialiser(Pool.draw()).records(PLAN)


class _Materialiser:
    """Turns drawn cases into records, assigning unique ids from a serial."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._serial = itertools.count(1)
        self._run = secrets.randbits(32)  # ids unique across runs on one broker
        self._now = datetime.now(UTC).replace(microsecond=123456)
        self.out: list[HostileRecord] = []

    def records(self, plan: tuple[tuple[str, Any], ...]) -> list[HostileRecord]:
        for name, variant in plan:
            getattr(self, "_" + name)(name, variant, self._pool)
        return self.out

    # --- ids and events ---------------------------------------------------------

    def _ids(self) -> tuple[str, str, str]:
        n = next(self._serial)
        ms = int(self._now.timestamp() * 1000)
        event_id = (
            f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{self._run >> 20:03x}-"
            f"{0x8000 | (self._run & 0x3FFF):04x}-{n:012x}"
        )
        return event_id, f"{self._run:08x}{n:024x}", f"{n:016x}"

    def _span(self, body: dict[str, Any]) -> dict[str, Any]:
        event_id, trace_id, span_id = self._ids()
        fields = dict(body)
        offset = fields.pop("_offset")
        start = self._now - timedelta(milliseconds=40)
        event = {
            "event_id": event_id,
            "event_type": "span",
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": None,
            "timestamp": _iso(self._now, offset),
            "start_time": _iso(start, offset),
            "end_time": _iso(self._now, offset),
            **fields,
        }
        return event

    def _send(
        self, value: bytes | None, expect: Expect, *, key: bytes | None = None
    ) -> HostileRecord:
        index = len(self.out)
        headers = ((INDEX_HEADER, str(index).encode()), ("raw", b"\xff\x00\xfe"))
        record = HostileRecord(key, value, headers, expect)
        self.out.append(record)
        return record

    def _stored(self, name: str, event: dict[str, Any], value: bytes | None = None) -> None:
        data = orjson.dumps(event) if value is None else value
        outcome: Literal["span", "score"] = "score" if event["event_type"] == "score" else "span"
        self._send(
            data,
            Expect(outcome, event=json.loads(data), case=name),
            key=event["trace_id"].encode(),
        )

    def _dlq(self, name: str, value: bytes | None, *reasons: str, key: bytes | None = None) -> None:
        self._send(value, Expect("dlq", frozenset(reasons), case=name), key=key)

    # --- the cases ----------------------------------------------------------------

    def _valid_span(self, name: str, _: Any, d: Pool) -> None:
        self._stored(name, self._span(span_fields(d)))

    def _valid_score(self, name: str, _: Any, d: Pool) -> None:
        fields = score_fields(d)
        offset = fields.pop("_offset")
        event_id, trace_id, span_id = self._ids()
        event = {
            "event_id": event_id,
            "event_type": "score",
            "trace_id": trace_id,
            "span_id": span_id,
            "timestamp": _iso(self._now, offset),
            **fields,
        }
        self._stored(name, event)

    def _wrong_type(self, name: str, wrong: tuple[str, Any, str], d: Pool) -> None:
        field_name, value, reason = wrong
        event = self._span(span_fields(d))
        event[field_name] = value
        self._dlq(f"{name}:{field_name}", orjson.dumps(event), reason, key=b"\xff\xfe key")

    def _bad_utf8(self, name: str, bad: bytes, d: Pool) -> None:
        event = self._span(span_fields(d))
        event["name"] = event["name"][:100] + MARKER
        self._dlq(name, orjson.dumps(event).replace(MARKER.encode(), bad), "not_utf8")

    def _escape(self, name: str, escape: bytes, d: Pool) -> None:
        event = self._span(span_fields(d))
        event["name"] = event["name"][:100] + MARKER
        event["attributes"] = {**event["attributes"], "escaped" + MARKER: "v" + MARKER}
        data = orjson.dumps(event).replace(MARKER.encode(), escape)
        if escape in LONE_SURROGATES:
            self._dlq(f"{name}:lone_surrogate", data, "not_json", "not_utf8")
        else:
            self._stored(name, event, data)

    def _truncated(self, name: str, _: Any, d: Pool) -> None:
        data = orjson.dumps(self._span(span_fields(d)))
        cut = max(1, int(len(data) * d("cut", "cut")))
        # A cut inside a multi-byte character leaves bytes that are not UTF-8.
        self._dlq(name, data[:cut], "not_json", "not_utf8")

    def _trailing(self, name: str, tail: bytes, d: Pool) -> None:
        self._dlq(name, orjson.dumps(self._span(span_fields(d))) + tail, "not_json")

    def _garbage(self, name: str, _: Any, d: Pool) -> None:
        # Random bytes may happen to be JSON (``1``, ``{}``): any reason, but the DLQ.
        self._dlq(name, d("blob", "blob"), *_ALL_REASONS)

    def _not_object(self, name: str, _: Any, d: Pool) -> None:
        self._dlq(name, orjson.dumps(d("non_object", "non_object")), "not_object")

    def _tombstone(self, name: str, _: Any, d: Pool) -> None:
        self._dlq(name, None, "empty", key=b"tombstone")

    def _oversized(self, name: str, _: Any, d: Pool) -> None:
        event = self._span(span_fields(d))
        event["input"] = _fill(d("unit", "unit"), d("oversized", "oversized"))
        self._dlq(name, orjson.dumps(event), "too_large")

    def _large(self, name: str, _: Any, d: Pool) -> None:
        event = self._span(span_fields(d))
        event["output"] = _fill(d("unit", "unit"), d("large", "large"))
        data = orjson.dumps(event)
        if len(data) > MAX_EVENT_BYTES:  # the other fields were large too
            self._dlq(name, data, "too_large")
        else:
            self._stored(name, event)

    def _nested(self, name: str, depth: int, d: Pool) -> None:
        event = self._span(span_fields(d))
        event["attributes"] = {"deep": MARKER}
        # Written by hand: orjson refuses to write past 254 levels.
        opening = "".join('{"k":' if level % 2 else "[" for level in range(depth))
        closing = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
        nest = (opening + '"leaf"' + closing).encode()
        data = orjson.dumps(event).replace(orjson.dumps(MARKER), nest)
        if 2 + depth > MAX_DEPTH:
            self._dlq(f"{name}:{depth}", data, "too_deep", "not_json")
        else:
            self._stored(f"{name}:{depth}", event, data)

    def _same_span_id(self, name: str, _: Any, d: Pool) -> None:
        a, b = self._span(span_fields(d)), self._span(span_fields(d))
        b["span_id"] = a["span_id"]  # one span id, two traces: two spans
        self._stored(name, a)
        self._stored(name, b)

    def _same_event_id(self, name: str, _: Any, d: Pool) -> None:
        a, b = self._span(span_fields(d)), self._span(span_fields(d))
        b["event_id"] = a["event_id"]  # one event id in two traces: both stored
        self._stored(name, a)
        self._stored(name, b)

    def _pii(self, name: str, pii: str, d: Pool) -> None:
        event = self._span(span_fields(d))
        event["name"] = f"{event['name'][:64]} {pii} "
        event["input"] = {"message": f"{d('label', 'pii')} {pii}", "raw": event["input"]}
        self._stored(name, event)

    def _resent(self, name: str, _: Any, d: Pool) -> None:
        event = self._span(span_fields(d))
        data = orjson.dumps(event)
        self._stored(name, event, data)
        key = event["trace_id"].encode()
        self._send(data, Expect("span", event=json.loads(data), duplicate=True, case=name), key=key)


#: Every reason the validator can give (its own list): a random blob may hit any.
_ALL_REASONS: tuple[str, ...] = get_args(InvalidReason)


def _iso(at: datetime, offset: str) -> str:
    if offset == "Z":
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    return (at + delta).replace(tzinfo=None).isoformat(timespec="microseconds") + offset


def _fill(unit: str, n_bytes: int) -> str:
    """``unit`` repeated to about ``n_bytes`` of UTF-8 (as JSON escapes it, roughly)."""
    size = max(1, len(orjson.dumps(unit)) - 2)
    return unit * (n_bytes // size + 1)
