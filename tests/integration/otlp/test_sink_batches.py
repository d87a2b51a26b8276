"""KafkaSink sends whole record batches: placed as ``send`` places them, refused one by one."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from benchmarks.otlp import make_batches
from tests.integration.streams._kafka_io import consume
from tracestream.producers.otlp import KafkaSink, OutRecord, convert_request
from tracestream.producers.otlp._convert import EVENT_HEADERS
from tracestream.schemas import Topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


async def test_records_land_where_the_default_partitioner_puts_them(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    (request,) = make_batches(1, spans_per_batch=64)  # 8 traces of 8 spans
    records = convert_request(request, project="p").records
    sink = KafkaSink(bootstrap_servers=kafka_bootstrap, topics=kafka_topics)
    await sink.start()
    try:
        assert await sink.wait_connected(30)
        assert await sink.produce(records) == [None] * len(records)
    finally:
        await sink.stop()
    stored = await consume(kafka_bootstrap, kafka_topics.events, len(records))
    assert sorted(r.value for r in stored) == sorted(r.value for r in records)
    assert all(dict(r.headers) == dict(EVENT_HEADERS) for r in stored)

    # Where aiokafka's own send (the SDK's path) puts each key: the same partition.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        expected = {}
        for key in {r.key for r in records}:
            sent = await (await producer.send(kafka_topics.events_dlq, b"probe", key=key))
            expected[key] = sent.partition
    finally:
        await producer.stop()
    assert len(set(expected.values())) > 1  # the check can tell partitions apart
    assert {r.key: r.partition for r in stored} == expected


async def test_a_record_too_large_for_kafka_is_refused_alone(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    small = [OutRecord(key=b"k%d" % i, value=b'{"n": %d}' % i, headers=EVENT_HEADERS)
             for i in range(3)]  # fmt: skip
    huge = OutRecord(key=b"big", value=b"x" * 200_000, headers=EVENT_HEADERS)
    sink = KafkaSink(bootstrap_servers=kafka_bootstrap, topics=kafka_topics,
                     max_record_bytes=64 * 1024)  # fmt: skip
    await sink.start()
    try:
        assert await sink.wait_connected(30)
        outcome = await sink.produce([small[0], huge, small[1], small[2]])
    finally:
        await sink.stop()
    assert outcome[0] is None and outcome[2] is None and outcome[3] is None
    assert outcome[1] is not None and "MessageSizeTooLarge" in outcome[1]
    stored = await consume(kafka_bootstrap, kafka_topics.events, 3)
    assert sorted(r.value for r in stored) == sorted(r.value for r in small)
