"""queue_record_batches, the worker's and the receiver's one way to hand records to aiokafka."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from tests.integration.streams._kafka_io import consume
from tracestream.producers import QueuedBatch, murmur2_partition, queue_record_batches
from tracestream.schemas import Topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

Record = tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]] | None]


async def test_batches_per_partition_keep_order_and_name_their_records(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    topic = kafka_topics.events
    records: list[Record] = []
    for i in range(120):
        value = b"%04d" % i + b"." * 300
        if i % 4 == 0:  # the worker's explicit partitions (its changelogs)
            records.append((topic, 2, b"c%d" % (i % 7), value, None))
        elif i % 4 == 1:
            records.append((topic, None, None, value, [("h", b"1")]))  # round-robin
        else:
            records.append((topic, None, b"trace-%d" % (i % 9), value, [("h", b"2")]))
    records.append((topic, 1, b"gone", None, None))  # a tombstone
    # Small batches: a partition's records span several, each acked on its own.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_batch_size=4096)
    await producer.start()
    queued: list[QueuedBatch] = []
    try:
        await queue_record_batches(producer, records, queued)
        await asyncio.gather(*(batch.ack for batch in queued))
    finally:
        await producer.stop()
    members = [i for batch in queued for i in batch.members]
    assert sorted(members) == list(range(len(records)))
    assert len(queued) > 3  # 36 KB over 3 partitions in 4 KiB batches

    stored = await consume(kafka_bootstrap, topic, len(records))
    assert len(stored) == len(records)
    by_value = {r.value: r for r in stored}
    partition_of = {i: by_value[records[i][3]].partition for i in range(len(records))}
    for batch in queued:  # a batch is one partition's
        assert len({partition_of[i] for i in batch.members}) == 1
    for i, (_, partition, key, _, headers) in enumerate(records):
        if partition is not None:
            assert partition_of[i] == partition
        elif key is not None:
            assert partition_of[i] == murmur2_partition(key, 3)
        assert by_value[records[i][3]].headers == tuple(headers or ())
    unkeyed = {partition_of[i] for i, r in enumerate(records) if r[1] is None and r[2] is None}
    assert unkeyed == {0, 1, 2}
    for partition in range(3):  # each partition's records in the order given
        sent = [records[i][3] for i in range(len(records)) if partition_of[i] == partition]
        got = sorted((r for r in stored if r.partition == partition), key=lambda r: r.offset)
        assert [r.value for r in got] == sent


async def test_records_from_the_threshold_on_go_alone_and_a_refusal_is_their_own(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    topic = kafka_topics.events
    records: list[Record] = [
        (topic, None, b"a", b"small-1", None),
        (topic, None, b"b", b"x" * 100_000, None),  # over the producer's request size
        (topic, None, b"c", b"y" * 20_000, None),  # alone, and fits
        (topic, None, b"d", b"small-2", None),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=32 * 1024)
    await producer.start()
    queued: list[QueuedBatch] = []
    try:
        await queue_record_batches(producer, records, queued, alone_from_bytes=16 * 1024)
        outcome = await asyncio.gather(*(b.ack for b in queued), return_exceptions=True)
    finally:
        await producer.stop()
    verdict = {tuple(b.members): o for b, o in zip(queued, outcome, strict=True)}
    assert isinstance(verdict[(1,)], MessageSizeTooLargeError)
    assert not isinstance(verdict[(2,)], BaseException)
    assert sorted(i for b in queued for i in b.members) == [0, 1, 2, 3]
    stored = await consume(kafka_bootstrap, topic, 3)
    assert sorted(r.value for r in stored) == sorted([b"small-1", b"y" * 20_000, b"small-2"])
