"""The aiokafka runtime's store: one changelog record per changed key, per partition."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiokafka.partitioner import DefaultPartitioner

from tracestream.producers import murmur2_partition
from tracestream.streams.runtime._changelog_store import PartitionedStore, default_partition

pytestmark = pytest.mark.unit


@dataclass
class _S:
    v: str

    def to_bytes(self) -> bytes:
        return self.v.encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> _S:
        return cls(data.decode())


def _store(where: dict[str, int]) -> PartitionedStore[_S]:
    return PartitionedStore(_S.from_bytes, lambda k: where.get(k, 9))


def test_flush_collapses_writes_and_places_keys() -> None:
    store = _store({"a": 1, "b": 2})
    store["a"] = _S("1")
    store["a"] = _S("2")
    store["b"] = _S("x")
    store["c"] = _S("y")
    assert sorted(store.flush()) == [(1, b"a", b"2"), (2, b"b", b"x"), (9, b"c", b"y")]
    assert store.flush() == []
    del store["b"]
    assert store.flush() == [(2, b"b", None)]  # a tombstone in the key's partition
    assert "b" not in store and len(store) == 2


def test_new_then_deleted_in_one_batch_writes_nothing_new() -> None:
    store = _store({})
    store["a"] = _S("1")
    store.flush()
    store["t"] = _S("1")
    del store["t"]
    assert store.flush() == [(9, b"t", None)]


def test_load_and_drop_partitions() -> None:
    store = _store({})
    store.load(b"a", b"1", 0)
    store.load(b"b", b"2", 1)
    store.load(b"c", b"3", 1)
    store.load(b"c", None, 1)  # tombstone
    assert dict(store) == {"a": _S("1"), "b": _S("2")}
    assert store.flush() == []  # restored state is not dirty
    assert store.drop_partitions({1}) == 1
    assert dict(store) == {"a": _S("1")}
    store["a"] = _S("4")
    assert store.flush() == [(0, b"a", b"4")]  # a restored key keeps its partition


def test_default_partition_matches_kafka_default_partitioner() -> None:
    # murmur2 as in Kafka's DefaultPartitioner: stable, within range.
    assert {default_partition(f"k{i}", 6) for i in range(100)} == set(range(6))
    assert default_partition("trace", 6) == default_partition("trace", 6)
    # The same placement as the producer's own partitioner, which ``send`` uses: the
    # batch sender (producers.queue_record_batches) places records itself with the
    # same function and must agree with it.
    partitioner = DefaultPartitioner()
    for n in (1, 3, 6, 12):
        parts = list(range(n))
        for i in range(200):
            key = f"{i:032x}".encode()
            assert murmur2_partition(key, n) == partitioner(key, parts, parts)
            assert default_partition(key.decode(), n) == murmur2_partition(key, n)
