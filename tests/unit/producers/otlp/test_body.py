"""Body limits hold after decompression and while decompressing (no zip bombs)."""

from __future__ import annotations

import gzip
import os

import pytest

from tracestream.producers.otlp._body import BadEncoding, BodyReader, BodyTooLarge

pytestmark = pytest.mark.unit


def _read(chunks: list[bytes], *, limit: int, gzip_: bool) -> bytes:
    reader = BodyReader(limit_bytes=limit, gzip=gzip_)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def _chunks(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_plain_body_up_to_the_limit() -> None:
    data = os.urandom(5000)
    assert _read(_chunks(data), limit=5000, gzip_=False) == data
    with pytest.raises(BodyTooLarge):
        _read(_chunks(data), limit=4999, gzip_=False)


def test_gzip_body_in_chunks_and_concatenated_members() -> None:
    data = os.urandom(3000) + b"a" * 50_000
    assert _read(_chunks(gzip.compress(data), 7), limit=len(data), gzip_=True) == data
    two = gzip.compress(b"first ") + gzip.compress(b"second")
    assert _read([two], limit=100, gzip_=True) == b"first second"


def test_zip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (16 * 1024 * 1024))  # ~16 KB that inflate to 16 MiB
    reader = BodyReader(limit_bytes=1024 * 1024, gzip=True)
    with pytest.raises(BodyTooLarge):
        reader.feed(bomb)
    # It stopped within one chunk of inflation past the limit, not at 64 MiB.
    assert reader._size <= 2 * 1024 * 1024


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"x" * 100)[:-12]])
def test_bad_or_cut_gzip(body: bytes) -> None:
    with pytest.raises(BadEncoding):
        _read([body], limit=1000, gzip_=True)
