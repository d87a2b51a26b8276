"""The msgspec fast path of EventParser: never a different answer from the pydantic path.

Every input goes through ``EventParser()`` (fast path first) and
``EventParser(fast_path=False)`` (pydantic only). The results must be the same:
equal models of identical shape (types, key order, UTC tzinfo, JSON bytes), or
the same InvalidEvent reason and message. Inputs: the demo workload, hand-made
events with every nested model, and a seeded mutation fuzzer aimed at the places
where msgspec and orjson+pydantic are known to differ.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from datetime import datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from benchmarks.core import core_events
from tracestream.schemas import EventParser, InvalidEvent, _parse
from tracestream.schemas._fast_parse import EVENTS, fast_validate

pytestmark = pytest.mark.unit

FAST = EventParser()
SLOW = EventParser(fast_path=False)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
EVENT_ID = "01936f3e-8f5a-7cc2-9d5e-0a1b2c3d4e5f"


def _full_span() -> dict[str, Any]:
    """A ``span`` event with every optional field and nested model filled in."""
    return {
        "schema_version": 1,
        "event_id": EVENT_ID,
        "event_type": "span",
        "project": "acme",
        "service": "bot",
        "environment": "production",
        "trace_id": TRACE,
        "span_id": SPAN,
        "parent_span_id": "1" * 16,
        "timestamp": "2026-11-24T07:30:00.123456Z",
        "trace": {
            "name": "answer",
            "session_id": "s-1",
            "user_id": "u-1",
            "tags": ["beta", "web"],
            "release": "1.2",
        },
        "kind": "tool",
        "name": "lookup",
        "start_time": "2026-11-24T07:30:00Z",
        "end_time": "2026-11-24T07:30:01.5Z",
        "status": "error",
        "input": {"q": [1, 2.5, None, True, {"x": "y"}]},
        "output": "done",
        "model": {"name": "gpt-4o", "provider": "openai", "parameters": {"temperature": 0.2}},
        "tool": {"name": "search", "call_id": "c1", "arguments": {"q": "a"}, "result": [1]},
        "attributes": {"k": "v", "n": 3},
        "usage": {
            "input_tokens": 10,
            "output_tokens": 3,
            "cached_tokens": 1,
            "cache_write_tokens": 2,
            "reasoning_tokens": 4,
        },
        "error": {"type": "Timeout", "message": "slow", "stack": "line 1"},
        "outcome": {"label": "escalated", "success": False, "detail": {"why": "x"}},
        "decisions": [{"name": "route", "choice": "human", "reason": "angry"}],
        "resources": {"cpu_time_s": 0.5, "memory_bytes": 1024},
        "redactions": [{"detector": "email", "field": "input.q", "count": 2}],
    }


def _variants() -> list[dict[str, Any]]:
    full = _full_span()
    opening = {"kind", "name", "start_time", "input", "model", "tool"}
    closing = {"end_time", "status", "output", "usage", "error", "outcome", "decisions"}
    closing |= {"resources", "redactions"}
    start = {k: v for k, v in full.items() if k not in closing} | {"event_type": "span.start"}
    end = {k: v for k, v in full.items() if k not in opening} | {"event_type": "span.end"}
    score = {
        "event_id": EVENT_ID,
        "event_type": "score",
        "project": "acme",
        "service": "eval",
        "trace_id": TRACE,
        "timestamp": "2026-11-24T07:30:00+02:00",
        "span_id": SPAN,
        "name": "helpful",
        "value": 0.5,
        "source": "evaluator",
        "comment": "fine",
    }
    minimal_span = {
        k: v
        for k, v in full.items()
        if k in {"event_id", "event_type", "project", "service", "trace_id", "span_id"}
        or k in {"timestamp", "kind", "name", "start_time", "end_time"}
    }
    return [full, start, end, score, minimal_span]


def _result(parser: EventParser, data: bytes) -> Any:
    try:
        return parser.parse(data)
    except InvalidEvent as exc:
        return ("invalid", exc.reason, exc.detail)
    except Exception as exc:  # noqa: BLE001 - the pydantic path may leak e.g. OverflowError
        return ("raised", type(exc), str(exc))


def _assert_identical(a: Any, b: Any, path: str = "") -> None:
    """Equal, and equal in shape: same types, key order, tzinfo object, float sign."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert list(a.__dict__) == list(b.__dict__), path
        assert a.__pydantic_extra__ == b.__pydantic_extra__, path
        assert a.__pydantic_private__ == b.__pydantic_private__, path
        # The fast path marks every field set (documented in _fast_parse).
        assert b.__pydantic_fields_set__ <= a.__pydantic_fields_set__, path
        for name, value in a.__dict__.items():
            _assert_identical(value, b.__dict__[name], f"{path}.{name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key, value in a.items():
            _assert_identical(value, b[key], f"{path}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, datetime):
        assert a == b and a.tzinfo is b.tzinfo, f"{path}: {a!r} != {b!r}"
    elif isinstance(a, float):
        assert repr(a) == repr(b), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _check(data: bytes) -> bool:
    """Both parsers agree on ``data``; True when the fast path itself accepted it."""
    slow = _result(SLOW, data)
    fast = _result(FAST, data)
    accepted = fast_validate(data) is not None
    if accepted:
        assert isinstance(slow, BaseModel), (data, slow)
    if isinstance(slow, BaseModel):
        assert fast == slow, data
        _assert_identical(fast, slow)
        dumped = slow.__pydantic_serializer__.to_json(slow)
        assert fast.__pydantic_serializer__.to_json(fast) == dumped, data
    else:
        assert fast == slow, data
    return accepted


def test_demo_workload_takes_the_fast_path_with_identical_models() -> None:
    values = [value for _, value in core_events(200)]
    accepted = sum(_check(value) for value in values)
    # Only the rare event with a 19-digit run or a 7-digit fraction falls back.
    assert accepted >= 0.98 * len(values)


@pytest.mark.parametrize("event", _variants(), ids=lambda e: str(e["event_type"]))
def test_every_event_kind_and_nested_model_takes_the_fast_path(event: dict[str, Any]) -> None:
    assert _check(orjson.dumps(event))


def test_a_struct_is_generated_for_every_contract_model() -> None:
    from tracestream.schemas import _common, _events

    models = {
        obj
        for module in (_common, _events)
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == module.__name__
    }
    concrete = models - {_common.WireModel, _events.Envelope}
    concrete -= {m for m in models if m.__name__.startswith("_")}
    assert set(EVENTS.structs) == concrete


# Values that sit on a boundary or where the two libraries are known to differ.
TRICKY: list[Any] = [
    None, True, False, 0, 1, -1, 2, 1.0, -0.0, 0.5, 1e308, 2**63 - 1, 2**63, 2**64 - 1,
    "", "x", "x" * 256, "x" * 257, "x" * 512, "x" * 513, "unfinished", "ok", "error",
    "generation", "llm", "span", "score", "evaluator", "1", "1.5", "NaN", "true",
    "0" * 16, "0" * 32, "a" * 16, "a" * 32, "A" * 32, "a" * 32 + "\n", "a" * 16 + "\n",
    EVENT_ID, EVENT_ID.upper(), EVENT_ID + "\n", [], {}, ["a"], ["a"] * 65, [""], [1],
    {"a": [1, {"b": None}]}, {"name": "x"}, {"label": "x"}, [{"name": "x", "choice": 1}],
    "2026-11-24T07:30:00Z", "2026-11-24T07:30:00", "2026-11-24",
]  # fmt: skip

TIMES = [
    "2026-11-24T07:30:00.1234567Z", "2026-11-24T07:30:00.9999995Z", "2026-11-24t07:30:00z",
    "2026-11-24 07:30:00Z", "2026-11-24T07:30:00+00:00", "2026-11-24T07:30:00-00:00",
    "2026-11-24T23:59:60Z", "2026-11-24T07:30:00+05:30", "2026-11-24T07:30:00+0530",
    "2026-11-24T07:30Z", "2026-11-24T07:30:00+23:59", "2026-11-24T07:30:00+24:00",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-02-29T00:00:00Z",
    "2026-11-24T07:30:00,5Z", "2026-11-24T07:30:00.5Z", "2026-11-24T08:30:00+01:00",
    "1700000000", "2026-11-24T07:30:00.123456789012Z", "2026-11-25T07:30:00Z",
]  # fmt: skip

# Raw JSON snippets spliced in as a field's value: orjson and msgspec disagree on some.
RAW_VALUES = [
    b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b'"\xff"', b'"\xed\xa0\x80"', b'"a\x01"',
    b"123456789012345678901234567890", b"18446744073709551615", b"18446744073709551616",
    b"-9223372036854775809", b"1e400", b"-1e400", b"1e-400", b"NaN", b"Infinity", b"-0",
    b"1.0000000000000000001", b"123456789.123456789", b"0.30000000000000004", b"1E2", b"01",
    b'"\\u0000"', b"[1,]", b"9007199254740993", b"1.7976931348623157e308", b"5e-324",
]  # fmt: skip


def _paths(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found.append((*prefix, key))
            found.extend(_paths(value, (*prefix, key)))
    return found


def _set(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _drop(obj: dict[str, Any], path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        obj = obj[key]
    del obj[path[-1]]


def _mutate(rng: random.Random, base: dict[str, Any]) -> bytes:
    event = orjson.loads(orjson.dumps(base))
    paths = _paths(event)
    for _ in range(rng.choice((1, 1, 2, 3))):
        path = rng.choice(paths)
        action = rng.randrange(9)
        try:
            if action == 0:
                _drop(event, path)
            elif action == 1:
                _set(event, (*path[:-1], rng.choice(("colour", "event_typ", "Name"))), 1)
            elif action in (2, 3, 4):
                _set(event, path, rng.choice(TRICKY))
            elif action == 5:
                field = rng.choice(("timestamp", "start_time", "end_time"))
                _set(event, (field,), rng.choice(TIMES))
            elif action == 6:
                _set(event, ("value",), rng.choice(TRICKY))
            elif action == 7:
                _set(event, path, rng.random() * 10 ** rng.randrange(-5, 25))
            else:
                _set(event, path, rng.randrange(-(2**70), 2**70) >> rng.randrange(70))
        except (KeyError, TypeError):
            pass  # the path went away with an earlier mutation
        paths = _paths(event)
    # The standard library writes integers past 64 bits, which orjson refuses to.
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    if rng.random() < 0.25:
        # Splice a raw snippet in as some field's value, or repeat a key.
        key = rng.choice(paths)[-1].encode()
        marker = b'"' + key + b'":'
        at = data.find(marker)
        if at >= 0 and rng.random() < 0.7:
            snippet = rng.choice(RAW_VALUES)
            data = data[: at + len(marker)] + snippet + b"," + marker + data[at + len(marker) :]
            # the original value now follows the repeated key: the snippet must lose
            if rng.random() < 0.5:
                data = data.replace(b"," + marker, b',"zz":', 1)
        else:
            data = data[:-1] + b"," + marker + orjson.dumps(rng.choice(TRICKY)) + b"}"
    return data


def test_mutation_fuzzer_never_makes_the_paths_disagree() -> None:
    rng = random.Random(20261124)
    bases = _variants() + [orjson.loads(v) for _, v in core_events(12)][:40]
    accepted = 0
    for _ in range(6000):
        accepted += _check(_mutate(rng, rng.choice(bases)))
    # The fuzzer must reach the fast path's accepting side too, not only rejections.
    assert accepted > 300


@pytest.mark.parametrize("raw", RAW_VALUES)
@pytest.mark.parametrize("field", ["input", "name", "value", "timestamp", "cpu_time_s"])
def test_json_the_libraries_read_differently(raw: bytes, field: str) -> None:
    base = _variants()[3] if field == "value" else _full_span()
    data = orjson.dumps(base)
    if field == "cpu_time_s":
        data = data.replace(b'"cpu_time_s":0.5', b'"cpu_time_s":' + raw)
    else:
        marker = b'"' + field.encode() + b'":'
        start = data.index(marker) + len(marker)
        end = start + len(orjson.dumps(orjson.loads(data)[field]))
        data = data[:start] + raw + data[end:]
    _check(data)


@pytest.mark.parametrize("stamp", TIMES)
@pytest.mark.parametrize("field", ["timestamp", "start_time", "end_time"])
def test_timestamp_forms(stamp: str, field: str) -> None:
    _check(orjson.dumps(_full_span() | {field: stamp}))


@pytest.mark.parametrize("field", ["trace_id", "span_id", "parent_span_id", "event_id"])
@pytest.mark.parametrize("suffix", ["", "\n", "\r", " "])
def test_ids_with_a_trailing_newline(field: str, suffix: str) -> None:
    # Python's re "$" matches before a final newline, pydantic's regex does not.
    event = _full_span()
    accepted = _check(orjson.dumps(event | {field: event[field] + suffix}))
    assert accepted == (suffix == "")


def test_score_value_union() -> None:
    score = _variants()[3]
    for value in [1, 0, -3, 2**53 + 1, 1.5, True, False, "good", "", "x" * 257, None, [1]]:
        _check(orjson.dumps(score | {"value": value}))


def test_limits_keep_their_answers() -> None:
    # Over 1,000,000 bytes the fast path is skipped (str_max_length); deep values too.
    big = orjson.dumps(_full_span() | {"output": "x" * 1_000_001})
    assert _result(FAST, big) == _result(SLOW, big)
    nested: Any = "leaf"
    for _ in range(40):
        nested = [nested]
    deep = orjson.dumps(_full_span() | {"input": nested})
    assert _result(FAST, deep)[:2] == ("invalid", "too_deep")
    near = orjson.dumps(_full_span() | {"output": "x" * 999_000})
    assert _check(near)


def test_without_msgspec_the_parser_takes_the_pydantic_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_parse, "_fast_path", lambda: None)
    parser = EventParser()
    assert parser._fast is None
    data = orjson.dumps(_full_span())
    assert parser.parse(data) == SLOW.parse(data)
    with pytest.raises(InvalidEvent, match="schema"):
        parser.parse(orjson.dumps(_full_span() | {"status": "unfinished"}))


def test_the_sdk_install_without_msgspec_still_parses() -> None:
    script = textwrap.dedent(
        """
        import importlib.abc, sys

        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "msgspec":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
        from tracestream.schemas import EventParser
        parser = EventParser()
        assert parser._fast is None
        event = parser.parse(sys.stdin.buffer.read())
        assert "msgspec" not in sys.modules
        print(type(event).__name__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=orjson.dumps(_full_span()),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == b"SpanEvent"


def test_events_of_one_trace_share_one_trace_info() -> None:
    parsed = [fast_validate(v) for _, v in core_events(3)]
    by_trace: dict[str, set[int]] = {}
    for event in parsed:
        assert event is not None
        if event.trace is not None:
            by_trace.setdefault(event.trace_id, set()).add(id(event.trace))
    assert by_trace and all(len(ids) == 1 for ids in by_trace.values())
