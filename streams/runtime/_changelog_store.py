"""A pure stage's store for the aiokafka runtime: states in memory, one changelog partition per key.

The stages (assembler, window aggregator, anomaly scorer) read and write a
``MutableMapping[str, state]``. :class:`PartitionedStore` is that mapping: it
remembers which keys changed since the last :meth:`PartitionedStore.flush` and
which changelog partition each key lives in, so the runtime can produce one
compacted changelog record per changed key per batch (a tombstone for a
deleted key) and, on a rebalance, drop exactly the revoked partitions' states.

No Kafka and no Faust in here; who may call it: one task at a time (the
runtime's batch lock).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, MutableMapping
from typing import Protocol, TypeVar

from tracestream.producers import murmur2_partition

__all__ = ["PartitionedStore", "default_partition"]


class _State(Protocol):
    def to_bytes(self) -> bytes: ...


S = TypeVar("S", bound=_State)


def default_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (UTF-8) among ``partitions``."""
    return murmur2_partition(key.encode(), partitions)


class PartitionedStore(MutableMapping[str, S]):
    """Per-key states with a changelog partition per key and write-back once per batch.

    Args:
        decode: bytes -> state, for :meth:`load`.
        locate: key -> changelog partition, asked once per new key (the first
            write); the answer sticks until the key is deleted or dropped.
    """

    def __init__(self, decode: Callable[[bytes], S], locate: Callable[[str], int]) -> None:
        self._decode = decode
        self._locate = locate
        self._data: dict[str, S] = {}
        self._partition: dict[str, int] = {}
        self._dirty: set[str] = set()

    def load(self, key: bytes, value: bytes | None, partition: int) -> None:
        """Apply one changelog record read at restore (``None``/empty value: a tombstone)."""
        name = key.decode()
        if value:
            self._data[name] = self._decode(value)
            self._partition[name] = partition
        else:
            self._data.pop(name, None)
            self._partition.pop(name, None)

    def flush(self) -> list[tuple[int, bytes, bytes | None]]:
        """The changelog records (partition, key, value or None) of every key changed
        since the last flush; the caller must produce them. Clears the dirty set."""
        records: list[tuple[int, bytes, bytes | None]] = []
        for key in self._dirty:
            state = self._data.get(key)
            if state is None:
                partition = self._partition.pop(key, None)
                if partition is not None:
                    records.append((partition, key.encode(), None))
            else:
                records.append((self._partition[key], key.encode(), state.to_bytes()))
        self._dirty.clear()
        return records

    def drop_partitions(self, partitions: Collection[int]) -> int:
        """Forget (without tombstones) every state living in ``partitions``; returns how many.

        Call only after a flush: a dropped key's pending change would be lost.
        """
        if not partitions:
            return 0
        gone = [k for k, p in self._partition.items() if p in partitions]
        for key in gone:
            self._data.pop(key, None)
            del self._partition[key]
            self._dirty.discard(key)
        return len(gone)

    def __getitem__(self, key: str) -> S:
        return self._data[key]

    def __setitem__(self, key: str, value: S) -> None:
        self._data[key] = value
        if key not in self._partition:
            self._partition[key] = self._locate(key)
        self._dirty.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: S | None = None) -> S | None:  # type: ignore[override]
        """Faster than the mixin's (no KeyError round trip); the stages call it per event."""
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
