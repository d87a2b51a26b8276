"""Bytes from orjson in an allocation of their own size, for bytes that are kept.

orjson (3.13) reserves room for the worst-case escaping of every string it
writes and hands that buffer over as is: a 500-byte result holds 4 KiB, a 5 KB
one 64 KiB (measured with tracemalloc; resident memory grew 4 KB per kept
500-byte result). Transient results do not matter. Kept ones do: the SDK's
queued events would hold ~10x their size, and the worker's changelog copies of
events were most of its memory.
"""

from __future__ import annotations

__all__ = ["exact"]


def exact(data: bytes) -> bytes:
    """A copy of ``data`` in an allocation of its own size."""
    # Joining with an empty part copies into a new object of exact size (~40 ns).
    return b"".join((data, b""))
