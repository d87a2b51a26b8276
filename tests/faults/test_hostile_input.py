"""Hostile records straight onto the events topic: each ends in the DLQ or stored as sent.

About two hundred records (``_hostile.py``: drawn with hypothesis, each hostile
variant at least once) go raw onto the events topic of the shared broker while
the real ``tracestream worker`` runs: invalid UTF-8 and JSON, wrong types,
oversized and deeply nested payloads, NUL, lone surrogates as JSON escapes,
RTL and zero-width characters, SQL-looking text in every string field, one
span id in two traces, one event id in two traces, a record sent twice. The
real sink then stores the output topics in a fresh chDB database.

Each record must end in one of two places:

- the events DLQ, with its key, value and headers byte for byte as sent and a
  ``__tracestream.errors.reason`` header among the reasons its kind allows;
- stored: its span (or score) row reads back byte for byte equal to what was
  sent as the standard library's JSON reader decodes it, after the redactor's
  own output where redaction changed the event (the test builds the redactor
  from the same settings the worker reads). JSON values are stored as JSON
  text; they must decode to the same values of the same types.

The worker must keep running: its process is alive after the storm and a
normal trace sent after it is stored. The test prints sent, stored,
dead-lettered, dropped-and-counted and lost, and asserts lost = 0.

Runs on the default aiokafka runtime only: this fault is about what the
shared pure core (validation, redaction, assembly) and the sink make of the
bytes, which both runtimes hand over as they are; the autouse
``worker_engine`` fixture is overridden here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from tests.integration.streams._kafka_io import produce
from tracestream._redaction_settings import redaction_policy
from tracestream._settings import load_settings
from tracestream._worker_process import WorkerProcess, metric_value
from tracestream.schemas import EventParser, Topics
from tracestream.sinks import ChdbStorage
from tracestream.streams import Redactor

from ._flow import store, trace_events, wait_published, worker_env
from ._hostile import INDEX_HEADER, MAX_DEPTH, MAX_EVENT_BYTES, HostileRecord, hostile_batch

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

REASON = "__tracestream.errors.reason"


@pytest.fixture(autouse=True)
def worker_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The aiokafka runtime only (see the module docstring)."""
    monkeypatch.setenv("TRACESTREAM_WORKER_ENGINE", "aiokafka")
    return "aiokafka"


async def test_hostile_records_end_in_the_dlq_or_stored_as_sent(
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: Topics,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = kafka_topics
    began = time.monotonic()
    records = hostile_batch()
    drawn_s = time.monotonic() - began
    env = {
        **worker_env(kafka_bootstrap, topic_prefix),
        "TRACESTREAM_MAX_EVENT_BYTES": str(MAX_EVENT_BYTES),
        "TRACESTREAM_MAX_NESTING_DEPTH": str(MAX_DEPTH),
    }
    worker = WorkerProcess(env, tmp_path / "worker")
    normal = trace_events(1)
    try:
        await asyncio.to_thread(worker.start, timeout_s=120.0)
        await produce(
            kafka_bootstrap,
            topics.events,
            [(r.key, r.value, list(r.headers)) for r in records],
        )
        await produce(kafka_bootstrap, topics.events, [(k, v, []) for k, v, _ in normal])
        await _wait_consumed(worker, len(records) + len(normal))
        await wait_published(kafka_bootstrap, topics, {span_id for _, _, span_id in normal})
        alive = worker.running()
        metrics = await asyncio.to_thread(worker.metrics)
    finally:
        exit_code = worker.stop()
    storage = await store(kafka_bootstrap, topics, topic_prefix, tmp_path / "chdb")
    try:
        spans = _span_rows(storage)
        scores = _score_rows(storage)
    finally:
        storage.close()
    letters = await _read_all(kafka_bootstrap, topics.events_dlq)
    sink_letters = await _read_all(kafka_bootstrap, topics.sink_dlq)

    monkeypatch.chdir(tmp_path / "worker")  # the settings the worker read, from where it ran
    redactor = Redactor(redaction_policy(load_settings(**_limits())))
    verdict = _Verdict(redactor, EventParser(max_event_bytes=MAX_EVENT_BYTES, max_depth=MAX_DEPTH))
    for record in records:
        verdict.judge(record, spans, scores, letters)
    duplicates = _assembly_count(metrics, "duplicate_events")
    resent = sum(r.expect.duplicate for r in records)

    print(
        f"\nhostile input ({len(records)} records, drawn in {drawn_s:.1f}s, "
        f"{sum(len(r.value or b'') for r in records) / 1e6:.1f} MB): sent {len(records)}, "
        f"stored {verdict.stored}, dead-lettered {verdict.dead}, dropped-and-counted 0 "
        f"({duplicates} resent duplicates counted once), lost {verdict.lost}; "
        f"{verdict.redacted} stored events changed by redaction; "
        f"sink DLQ {len(sink_letters)}; reasons {dict(sorted(verdict.reasons.items()))}; "
        f"worker alive after the storm: {alive}, exit code {exit_code}; "
        f"{time.monotonic() - began:.1f}s in all"
    )
    assert not verdict.failures, "\n".join(verdict.failures[:20])
    assert verdict.lost == 0
    assert alive, worker.log_tail()
    assert exit_code == 0, worker.log_tail()
    assert {span_id for _, _, span_id in normal} <= {k[1] for k in spans}
    assert duplicates == resent
    assert not sink_letters, [dict(r.headers or ()).get(REASON) for r in sink_letters]


def _limits() -> dict[str, Any]:
    return {"max_event_bytes": MAX_EVENT_BYTES, "max_nesting_depth": MAX_DEPTH}


async def _wait_consumed(worker: WorkerProcess, records: int) -> None:
    """Until the worker's pipeline has consumed ``records`` (valid or not)."""
    deadline = time.monotonic() + 120
    seen = 0.0
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(worker.metrics)
        seen = metric_value(text, "tracestream_events_in_total")
        if seen >= records:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the worker consumed {seen} of {records}:\n{worker.log_tail()}")


def _assembly_count(metrics: str, kind: str) -> int:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("tracestream_assembly_events_total{") and f'kind="{kind}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def _read_all(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` (until 1.5 s bring nothing new)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        while batches := await consumer.getmany(timeout_ms=1_500):
            for batch in batches.values():
                out.extend(batch)
    finally:
        await consumer.stop()
    return out


# --- reading the tables back, byte for byte -------------------------------------------

#: String columns read as hex, so no decoding stands between the bytes and the test.
_SPAN_TEXT = (
    "project service environment name trace_name session_id user_id release kind status "
    "model provider tool_name tool_call_id error_type error_message error_stack outcome_label"
).split()
_SPAN_JSON = "input output model_parameters tool_arguments tool_result outcome_detail".split()
_SCORE_TEXT = (
    "project service environment name data_type string_value source comment session_id"
).split()

Row = dict[str, Any]


def _span_rows(storage: ChdbStorage) -> dict[tuple[str, str], Row]:
    columns = [f"hex({c}) AS {c}" for c in _SPAN_TEXT + _SPAN_JSON] + [
        "trace_id",
        "span_id",
        "arrayMap(x -> hex(x), tags) AS tags",
        "arrayMap(x -> hex(x), mapKeys(attributes)) AS attribute_keys",
        "arrayMap(x -> hex(x), mapValues(attributes)) AS attribute_values",
        "toUnixTimestamp64Micro(start_time) AS start_us",
        "toUnixTimestamp64Micro(end_time) AS end_us",
        "event_ids",
    ]
    result = storage.query(f"SELECT {', '.join(columns)} FROM spans FINAL")
    rows = [_unhex(dict(zip(result.column_names, row, strict=True))) for row in result.rows]
    return {(r["trace_id"], r["span_id"]): r for r in rows}


def _score_rows(storage: ChdbStorage) -> dict[tuple[str, str], Row]:
    columns = [f"hex({c}) AS {c}" for c in _SCORE_TEXT] + [
        "trace_id",
        "event_id",
        "span_id",
        "value",
        "arrayMap(x -> hex(x), tags) AS tags",
        "toUnixTimestamp64Micro(timestamp) AS timestamp_us",
    ]
    result = storage.query(f"SELECT {', '.join(columns)} FROM scores FINAL")
    rows = [_unhex(dict(zip(result.column_names, row, strict=True))) for row in result.rows]
    return {(r["trace_id"], r["event_id"]): r for r in rows}


def _unhex(row: Row) -> Row:
    for name in {*_SPAN_TEXT, *_SPAN_JSON, *_SCORE_TEXT}:
        if name in row:
            row[name] = bytes.fromhex(row[name])
    for name in ("tags", "attribute_keys", "attribute_values"):
        if name in row:
            row[name] = [bytes.fromhex(x) for x in row[name]]
    return row


# --- the verdict on each record -------------------------------------------------------


class _Verdict:
    """Where each record ended, and every way it differs from what it had to become."""

    def __init__(self, redactor: Redactor, parser: EventParser) -> None:
        self._redactor = redactor
        self._parser = parser
        self.stored = self.dead = self.lost = self.redacted = 0
        self.reasons: Counter[str] = Counter()
        self.failures: list[str] = []
        self._letters: dict[int, ConsumerRecord[bytes, bytes]] | None = None

    def judge(
        self,
        record: HostileRecord,
        spans: dict[tuple[str, str], Row],
        scores: dict[tuple[str, str], Row],
        letters: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        if self._letters is None:
            self._letters = {}
            for letter in letters:
                headers = dict(letter.headers or ())
                if INDEX_HEADER in headers:
                    self._letters[int(headers[INDEX_HEADER])] = letter
        expect = record.expect
        where = f"record {record.index} ({expect.case})"
        letter = self._letters.get(record.index)
        if letter is not None:
            self.dead += 1
            self._judge_letter(record, letter, where)
            return
        if expect.outcome == "dlq":
            self.lost += 1
            self.failures.append(f"{where}: not in the DLQ, expected {sorted(expect.reasons)}")
            return
        event = self._expected(record)
        if expect.outcome == "span":
            row = spans.get((event["trace_id"], event["span_id"]))
            problems = [] if row is None else _span_differences(event, row)
        else:
            row = scores.get((event["trace_id"], event["event_id"]))
            problems = [] if row is None else _score_differences(event, row)
        if row is None:
            self.lost += 1
            self.failures.append(f"{where}: neither stored nor dead-lettered")
            return
        self.stored += 1
        self.failures += [f"{where}: {p}" for p in problems]

    def _judge_letter(
        self, record: HostileRecord, letter: ConsumerRecord[bytes, bytes], where: str
    ) -> None:
        headers = list(letter.headers or ())
        reason = dict(headers).get(REASON, b"").decode()
        self.reasons[reason] += 1
        if record.expect.outcome != "dlq":
            self.failures.append(f"{where}: a valid event dead-lettered: {dict(headers)}")
        elif reason not in record.expect.reasons:
            self.failures.append(f"{where}: reason {reason!r}, expected {record.expect.reasons}")
        if letter.value != record.value:
            self.failures.append(f"{where}: the dead letter's value differs from what was sent")
        if letter.key != record.key:
            self.failures.append(f"{where}: key {letter.key!r}, sent {record.key!r}")
        if tuple(headers[: len(record.headers)]) != record.headers:
            self.failures.append(f"{where}: headers {headers}, sent {record.headers}")

    def _expected(self, record: HostileRecord) -> dict[str, Any]:
        """The event as sent, or as the redactor rewrites it when it finds something."""
        assert record.value is not None
        redacted, redactions = self._redactor.redact_event(self._parser.parse(record.value))
        if not redactions:
            return record.expect.event
        self.redacted += 1
        found: dict[str, Any] = json.loads(redacted.model_dump_json())
        return found


def _same(a: Any, b: Any) -> bool:
    """The same JSON value: equal strings, booleans, nulls and structure; numbers equal
    as decimals (see :func:`_number`)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return _number(a) == _number(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _number(value: float) -> Decimal:
    """A JSON number as the decimal its shortest text denotes.

    The sink stores JSON values as ClickHouse re-serializes them (``sinks/_raw_sql.py``
    says so): equivalent JSON, not the same text. ``600.0`` reads back ``600`` and
    ``4.941440464366737e16`` reads back ``49414404643667370``: the same decimal
    number (JSON has no integer/float distinction), another Python type.
    """
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _stored_json(text: bytes) -> Any:
    return None if text == b"" else orjson.loads(text)


def _micros(value: str) -> int:
    at = datetime.fromisoformat(value).astimezone(UTC)
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def _span_differences(e: dict[str, Any], row: Row) -> list[str]:
    trace = e.get("trace") or {}
    model = e.get("model") or {}
    tool = e.get("tool") or {}
    error = e.get("error") or {}
    outcome = e.get("outcome") or {}
    text = {
        "project": e["project"],
        "service": e["service"],
        "environment": e.get("environment", "development"),
        "name": e["name"],
        "trace_name": trace.get("name") or "",
        "session_id": trace.get("session_id") or "",
        "user_id": trace.get("user_id") or "",
        "release": trace.get("release") or "",
        "kind": e["kind"],
        "status": e.get("status", "unset"),
        "model": model.get("name") or "",
        "provider": model.get("provider") or "",
        "tool_name": tool.get("name") or "",
        "tool_call_id": tool.get("call_id") or "",
        "error_type": error.get("type") or "",
        "error_message": error.get("message") or "",
        "error_stack": error.get("stack") or "",
        "outcome_label": outcome.get("label") or "",
    }
    values = {
        "input": e.get("input"),
        "output": e.get("output"),
        "model_parameters": model.get("parameters") if model else None,
        "tool_arguments": tool.get("arguments"),
        "tool_result": tool.get("result"),
        "outcome_detail": outcome.get("detail"),
    }
    problems = [
        f"{column}: stored {row[column]!r}, sent {want.encode()!r}"
        for column, want in text.items()
        if row[column] != want.encode()
    ]
    problems += [
        f"{column}: stored {row[column][:200]!r}, sent {want!r:.200}"
        for column, want in values.items()
        if not _same(_stored_json(row[column]), want)
    ]
    tags = [t.encode() for t in trace.get("tags") or ()]
    if row["tags"] != tags:
        problems.append(f"tags: stored {row['tags']!r}, sent {tags!r}")
    attributes = e.get("attributes") or {}
    keys = [k.encode() for k in attributes]
    if row["attribute_keys"] != keys:
        problems.append(f"attribute keys: stored {row['attribute_keys']!r}, sent {keys!r}")
    elif not all(
        # A null attribute value is stored as '' (sinks/_raw_sql.py: null optional
        # values are ''/0/NULL, as in the Python row mapping).
        v == b"" if want is None else _same(orjson.loads(v), want)
        for v, want in zip(row["attribute_values"], attributes.values(), strict=True)
    ):
        problems.append(f"attribute values: stored {row['attribute_values']!r:.300}")
    if (row["start_us"], row["end_us"]) != (_micros(e["start_time"]), _micros(e["end_time"])):
        problems.append(f"times: stored {row['start_us']}, {row['end_us']}")
    if e["event_id"] not in row["event_ids"]:
        problems.append(f"event ids: stored {row['event_ids']}, sent {e['event_id']}")
    return problems


def _score_differences(e: dict[str, Any], row: Row) -> list[str]:
    value = e["value"]
    trace = e.get("trace") or {}
    if isinstance(value, str):
        data_type, number, string = "categorical", None, value
    else:
        data_type = "boolean" if isinstance(value, bool) else "numeric"
        number, string = float(value), ""
    text = {
        "project": e["project"],
        "service": e["service"],
        "environment": e.get("environment", "development"),
        "name": e["name"],
        "data_type": data_type,
        "string_value": string,
        "source": e.get("source", "api"),
        "comment": e.get("comment") or "",
        "session_id": trace.get("session_id") or "",
    }
    problems = [
        f"{column}: stored {row[column]!r}, sent {want.encode()!r}"
        for column, want in text.items()
        if row[column] != want.encode()
    ]
    if row["value"] != number and not (row["value"] is None and number is None):
        problems.append(f"value: stored {row['value']!r}, sent {value!r}")
    tags = [t.encode() for t in trace.get("tags") or ()]
    if row["tags"] != tags:
        problems.append(f"tags: stored {row['tags']!r}, sent {tags!r}")
    if row["span_id"] != (e.get("span_id") or ""):
        problems.append(f"span_id: stored {row['span_id']!r}")
    if row["timestamp_us"] != _micros(e["timestamp"]):
        problems.append(f"timestamp: stored {row['timestamp_us']}")
    return problems
