"""Reading a request body within a size limit, gunzipping as it arrives.

The limit applies after decompression and is checked while decompressing:
a few kilobytes of gzip that would expand to gigabytes (a zip bomb) stop at
the limit instead of filling memory. Pure code: chunks in, bytes out.
"""

from __future__ import annotations

import zlib

__all__ = ["BadEncoding", "BodyReader", "BodyTooLarge"]


class BodyTooLarge(ValueError):
    """The body (after decompression) is over the limit: answered with 413."""


class BadEncoding(ValueError):
    """The body is not valid gzip: answered with 400."""


class BodyReader:
    """Collects a body from chunks; ``gzip=True`` decompresses on the fly.

    Args:
        limit_bytes: the largest body accepted, after decompression.
        gzip: whether the body is ``Content-Encoding: gzip``.
    """

    def __init__(self, *, limit_bytes: int, gzip: bool) -> None:
        self._limit = limit_bytes
        self._parts: list[bytes] = []
        self._size = 0
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._received = 0

    def feed(self, chunk: bytes) -> None:
        """Add a chunk of the body as it came off the wire.

        Raises:
            BodyTooLarge: the body passed the limit.
            BadEncoding: the gzip stream is corrupt.
        """
        if not chunk:
            return
        self._received += len(chunk)
        inflate = self._inflate
        if inflate is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            if inflate.eof:
                # Concatenated gzip members are valid gzip (RFC 1952).
                inflate = self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                # At most one byte past the limit per call: that is the bomb check.
                out = inflate.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                raise BadEncoding(f"invalid gzip body: {exc}") from None
            self._add(out)
            data = inflate.unused_data if inflate.eof else inflate.unconsumed_tail

    def finish(self) -> bytes:
        """The whole body. Raises :class:`BadEncoding` when the gzip stream was cut short."""
        if self._inflate is not None and self._received and not self._inflate.eof:
            raise BadEncoding("invalid gzip body: the stream ends early")
        return b"".join(self._parts)

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise BodyTooLarge(f"request body is over the limit of {self._limit} bytes")
        if data:
            self._parts.append(data)
