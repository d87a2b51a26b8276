"""The real worker against the real broker: bad input lands in the DLQ byte for byte."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.kafka_fixture import KAFKA_TOPIC_PARTITIONS
from tracestream._worker_process import WorkerProcess, metric_value
from tracestream.schemas import Topics

from ._kafka_io import consume, produce

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SCORE = {
    "event_id": "01936f4e-7c2a-7def-8a4b-0123456789ab",
    "event_type": "score",
    "project": "p",
    "service": "s",
    "trace_id": TRACE,
    "timestamp": "2026-11-24T07:30:00.123456Z",
    "name": "helpful",
    "value": 0.5,
}
BAD = [
    (b"not json at all", "not_json"),
    (b"\xff\xfe\x00garbage", "not_utf8"),
    (orjson.dumps({**SCORE, "schema_version": 99}), "unknown_schema_version"),
    (orjson.dumps({**SCORE, "value": {"nested": 1}}), "schema"),
    (b"[]", "not_object"),
]


def worker_env(bootstrap: str, prefix: str) -> dict[str, str]:
    return {
        "TRACESTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "TRACESTREAM_TOPIC_PREFIX": prefix,
        "TRACESTREAM_TOPIC_PARTITIONS": str(KAFKA_TOPIC_PARTITIONS),
        "TRACESTREAM_WORKER_STORE": "memory://",
        "TRACESTREAM_WORKER_BATCH_WITHIN_MS": "50",
    }


async def test_bad_records_land_in_dlq_with_headers(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    topics = kafka_topics
    records = [
        (TRACE.encode(), value, [("content-type", b"application/json"), ("n", str(i).encode())])
        for i, (value, _) in enumerate(BAD)
    ]
    records.insert(2, (TRACE.encode(), orjson.dumps(SCORE), []))
    await produce(kafka_bootstrap, topics.events, records)

    with WorkerProcess(worker_env(kafka_bootstrap, topic_prefix), tmp_path) as worker:
        dlq = await consume(kafka_bootstrap, topics.events_dlq, len(BAD))
        scores = await consume(kafka_bootstrap, topics.scores, 1)
        text = worker.metrics()

    assert len(dlq) == len(BAD)
    by_n = {dict(r.headers)["n"]: r for r in dlq}
    for i, (value, reason) in enumerate(BAD):
        record = by_n[str(i).encode()]
        assert record.value == value  # byte for byte
        assert record.key == TRACE.encode()
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/json"
        assert headers["__tracestream.errors.reason"] == reason.encode()
        assert headers["__tracestream.errors.topic"] == topics.events.encode()
        assert headers["__tracestream.errors.partition"].isdigit()
        assert headers["__tracestream.errors.offset"].isdigit()
        assert headers["__tracestream.errors.exception.class"] == b"InvalidEvent"
        assert headers["__tracestream.errors.exception.message"]
        assert headers["__tracestream.errors.timestamp"].isdigit()
    assert len(scores) == 1
    assert orjson.loads(scores[0].value)["trace_id"] == TRACE
    assert metric_value(text, "tracestream_events_invalid_total") == len(BAD)
    assert metric_value(text, "tracestream_events_in_total") == len(BAD) + 1
