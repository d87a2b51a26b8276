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
        decode: bytes -> state, for :meth:`load_staged`.
        locate: key -> changelog partition, asked once per new key (the first
            write); the answer sticks until the key is deleted or dropped.
        decode_when_cheap: bytes -> state when that is cheap and the state is
            smaller than its bytes, else None; :meth:`stage` calls it on every
            record, so a restore holds those states rather than their bytes.
    """

    def __init__(
        self,
        decode: Callable[[bytes], S],
        locate: Callable[[str], int],
        *,
        decode_when_cheap: Callable[[bytes], S | None] | None = None,
    ) -> None:
        self._decode = decode
        self._locate = locate
        self._decode_when_cheap = decode_when_cheap
        self._data: dict[str, S] = {}
        self._partition: dict[str, int] = {}
        self._dirty: set[str] = set()
        #: key -> its last changelog record read at restore (value or state, partition)
        self._staged: dict[bytes, tuple[bytes | S | None, int]] = {}

    def stage(self, key: bytes, value: bytes | None, partition: int) -> None:
        """Keep one changelog record read at restore until :meth:`load_staged` (undecoded,
        unless ``decode_when_cheap`` takes it).

        A key's later record replaces its earlier one unread: a changelog holds
        several records per key until the broker compacts it (a trace writes
        ~4: open, then emitted, then dormant), and decoding each had been most of
        a restore (110k records of 25k traces: 17 s, of which 16 s parsing states
        that the next record replaced). A record ``decode_when_cheap`` takes is
        held decoded: a lingering trace's state is a third of its bytes (restoring
        100k of them peaked at 395 MB of memory, held as bytes at 971 MB).
        """
        if value and self._decode_when_cheap is not None:
            state = self._decode_when_cheap(value)
            if state is not None:
                self._staged[key] = (state, partition)
                return
        self._staged[key] = (value, partition)

    def load_staged(self) -> int:
        """Apply the staged records in the order they were first staged (``None``/empty
        value: a tombstone, which deletes); returns how many states were loaded.

        The same states as applying every record in changelog order: a record
        replaces its key's state whole, so only a key's last one counts.

        Raises whatever ``decode`` raises for a key's last record (the staged
        records are dropped either way).
        """
        staged, self._staged = self._staged, {}
        loaded = 0
        for key, (value, partition) in staged.items():
            name = key.decode()
            state = (self._decode(value) if value else None) if isinstance(value, bytes) else value
            if state is not None:
                self._data[name] = state
                self._partition[name] = partition
                loaded += 1
            else:
                self._data.pop(name, None)
                self._partition.pop(name, None)
        return loaded

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
