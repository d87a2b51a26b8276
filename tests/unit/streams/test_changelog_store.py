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
    store.stage(b"a", b"1", 0)
    store.stage(b"b", b"2", 1)
    store.stage(b"c", b"3", 1)
    store.stage(b"c", None, 1)  # tombstone
    assert dict(store) == {}  # nothing applied before load_staged
    assert store.load_staged() == 2
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


def test_restore_decodes_only_each_keys_last_record() -> None:
    """A changelog not yet compacted holds several records per key: the states equal
    applying every record in order, but only the last of each key is decoded (an
    earlier one, even one that cannot be decoded, is replaced unread)."""
    decoded: list[bytes] = []

    def decode(data: bytes) -> _S:
        decoded.append(data)
        if data.startswith(b"!"):
            raise ValueError("not a state")
        return _S(data.decode())

    store: PartitionedStore[_S] = PartitionedStore(decode, lambda k: 9)
    store["kept"] = _S("live")  # a state held before the restore stays
    store.flush()
    log = [
        (b"a", b"!broken", 0),
        (b"a", b"a1", 0),
        (b"b", b"b1", 1),
        (b"a", b"a2", 0),
        (b"b", None, 1),  # tombstone after a value
        (b"c", None, 2),
        (b"c", b"c1", 2),  # a value after a tombstone
        (b"d", b"d1", 3),
        (b"d", b"", 3),  # an empty value is a tombstone too
    ]
    for key, value, partition in log:
        store.stage(key, value, partition)
    assert store.load_staged() == 2
    assert sorted(decoded) == [b"a2", b"c1"]
    assert dict(store) == {"kept": _S("live"), "a": _S("a2"), "c": _S("c1")}
    assert store.load_staged() == 0  # staged records are applied once
    store["a"] = _S("a3")
    store["c"] = _S("c2")
    assert sorted(store.flush()) == [(0, b"a", b"a3"), (2, b"c", b"c2")]


def test_a_last_record_that_cannot_be_decoded_raises_and_clears_the_staged() -> None:
    store: PartitionedStore[_S] = PartitionedStore(lambda d: _S(d.decode("ascii")), lambda k: 9)
    store.stage(b"a", b"\xff", 0)
    with pytest.raises(UnicodeDecodeError):
        store.load_staged()
    assert store.load_staged() == 0


def test_records_decoded_when_cheap_are_held_decoded_and_the_last_record_still_wins() -> None:
    """Records ``decode_when_cheap`` takes (``c...``) are decoded as they are staged and
    never by ``decode``; the others wait; either kind is replaced by a later record."""
    decoded: list[bytes] = []

    def decode(data: bytes) -> _S:
        decoded.append(data)
        return _S(data.decode())

    def cheap(data: bytes) -> _S | None:
        return _S(data.decode().upper()) if data.startswith(b"c") else None

    store: PartitionedStore[_S] = PartitionedStore(decode, lambda k: 9, decode_when_cheap=cheap)
    log = [
        (b"a", b"open1", 0),
        (b"a", b"c-a", 0),  # open, then cheap: the cheap one stays
        (b"b", b"c-b", 1),
        (b"b", b"open2", 1),  # cheap, then open: decoded at the end
        (b"d", b"c-d", 2),
        (b"d", None, 2),  # a tombstone after a cheap state
    ]
    for key, value, partition in log:
        store.stage(key, value, partition)
    assert store.load_staged() == 2
    assert decoded == [b"open2"]
    assert dict(store) == {"a": _S("C-A"), "b": _S("open2")}
    store["a"] = _S("x")
    assert store.flush() == [(0, b"a", b"x")]
