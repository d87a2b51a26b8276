"""A field added to the event contract is written in one place, and the rest follows.

A child Python process loads a copy of the contract with one more line in
``schemas/_events.py`` (``links`` on what a span knows when it starts), and in
the second case a matching line in ``schemas/_records.py`` (``links`` on
SpanRecord). Everything else is the tree as it is. What it shows:

- the fast decoder and the pydantic path both take the field, with its
  constraints (an all-zero id, too many links), and give equal events;
- the exported JSON Schema has it (so ``tracestream schema --check`` flags the
  checked-in file until it is re-exported);
- the trace state's changelog bytes carry it through a round trip;
- with the event line only, the check that SpanRecord carries every event field
  names it; with the record line too, build_span carries it into the record,
  and the check on the spans row mapping names it (its column is a migration
  away: sinks/migrations and sinks/_rows.py, the SQL twin held to that).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[3]

EVENT_ANCHOR = """    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class _SpanClosing(WireModel):"""
EVENT_LINE = (
    '    links: tuple[SpanId, ...] = Field((), max_length=8, description="Spans it follows")\n'
)
RECORD_ANCHOR = "    tool: ToolCall | None = None\n    usage: Usage | None = None\n"
RECORD_LINE = "    links: tuple[SpanId, ...] = ()\n"

CHILD = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, json, sys
    from datetime import UTC, datetime

    PATCHES = json.loads(sys.argv[1])

    class PatchedLoader(importlib.machinery.SourceFileLoader):
        def get_code(self, fullname):
            source = self.get_source(fullname)
            for anchor, line, where in PATCHES[fullname]:
                assert source.count(anchor) == 1, f"anchor not found once in {fullname}"
                if where == "after":
                    source = source.replace(anchor, anchor + line)
                else:
                    head, _, tail = anchor.partition("\\n\\n\\n")
                    source = source.replace(anchor, head + "\\n" + line + "\\n\\n" + tail)
            return compile(source, self.path, "exec", dont_inherit=True)

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name not in PATCHES:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            spec.loader = PatchedLoader(name, spec.origin)
            return spec

    sys.meta_path.insert(0, Finder())

    import orjson
    from tests.unit import _contract
    from tracestream.schemas import (
        SCHEMA_FILE, EventParser, InvalidEvent, SpanEvent, render_event_json_schema,
    )
    from tracestream.schemas._fast_parse import fast_validate
    from tracestream.sinks import sample_span_records
    from tracestream.streams._assembly import Assembler
    from tracestream.streams._pricing import Pricer
    from tracestream.streams._trace_state import TraceState

    assert "links" in SpanEvent.model_fields
    link = "00f067aa0ba902b7"
    event = {
        "event_id": "01936f3e-8f5a-7cc2-9d5e-0a1b2c3d4e5f", "event_type": "span",
        "project": "acme", "service": "bot", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "1111111111111111", "timestamp": "2026-11-24T07:30:01Z",
        "kind": "tool", "name": "lookup", "start_time": "2026-11-24T07:30:00Z",
        "end_time": "2026-11-24T07:30:01Z", "links": [link],
    }
    data = orjson.dumps(event)
    report = {}
    fast = fast_validate(data)
    slow = EventParser(fast_path=False).parse(data)
    report["fast"] = list(fast.links)
    report["fast_equals_pydantic"] = fast == slow and type(fast) is type(slow)
    for name, links in (("all_zero", ["0" * 16]), ("too_many", [link] * 9)):
        bad = orjson.dumps({**event, "links": links})
        try:
            EventParser(fast_path=False).parse(bad)
            reason = None
        except InvalidEvent as exc:
            reason = [exc.reason, "links" in exc.detail]
        report[name] = [fast_validate(bad) is None, reason]
    schema = render_event_json_schema()
    report["schema"] = b'"links"' in schema
    report["schema_file_current"] = SCHEMA_FILE.read_bytes() == schema

    now = datetime(2026, 11, 24, 7, 31, tzinfo=UTC)
    assembler = Assembler(Pricer())
    out = assembler.apply(fast, now, wire=data)
    state = assembler.store[event["trace_id"]]
    restored = TraceState.from_bytes(state.to_bytes())
    again = TraceState.from_bytes(restored.to_bytes())  # written without the kept bytes
    report["state"] = [list(s.spans[event["span_id"]].start.links) for s in (restored, again)]
    record = out.spans[0]
    report["record"] = list(getattr(record, "links", ["(no such field)"]))
    report["uncarried"] = _contract.uncarried_event_fields()
    report["unmapped"] = _contract.unmapped_record_paths(sample_span_records(1, seed=3)[0])
    print(json.dumps(report))
    """
)


def _run(patches: dict[str, list[tuple[str, str, str]]]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(patches)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


EVENT = ("tracestream.schemas._events", [(EVENT_ANCHOR, EVENT_LINE, "inside")])
RECORD = ("tracestream.schemas._records", [(RECORD_ANCHOR, RECORD_LINE, "after")])
LINK = "00f067aa0ba902b7"


def test_a_field_on_the_event_model_reaches_decoder_schema_and_state() -> None:
    report = _run(dict([EVENT]))
    assert report["fast"] == [LINK]
    assert report["fast_equals_pydantic"]
    # Its constraints come along: the fast path refuses, pydantic says why.
    assert report["all_zero"] == [True, ["schema", True]]
    assert report["too_many"] == [True, ["schema", True]]
    assert report["schema"] and not report["schema_file_current"]
    assert report["state"] == [[LINK], [LINK]]
    # The output record is a representation of its own: the check names the field.
    assert report["record"] == ["(no such field)"]
    assert report["uncarried"] == ["links"]
    assert report["unmapped"] == []


def test_with_the_record_line_too_build_span_carries_it_and_the_row_check_names_it() -> None:
    report = _run(dict([EVENT, RECORD]))
    assert report["fast"] == [LINK] and report["state"] == [[LINK], [LINK]]
    assert report["record"] == [LINK]
    assert report["uncarried"] == []
    assert report["unmapped"] == ["links"]


def test_the_tree_as_it_is_passes_the_same_checks() -> None:
    # Without the patches the checks are quiet and the schema file is current.
    from tests.unit import _contract
    from tracestream.schemas import SCHEMA_FILE, render_event_json_schema
    from tracestream.sinks import sample_span_records

    assert _contract.uncarried_event_fields() == []
    assert _contract.unmapped_record_paths(sample_span_records(1, seed=3)[0]) == []
    assert SCHEMA_FILE.read_bytes() == render_event_json_schema()
