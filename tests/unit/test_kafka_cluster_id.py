"""The local broker's KRaft cluster id never reads as a command-line flag."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tracestream.broker import _local


def test_an_id_starting_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 puts 62 in the first six bits: base64url's '-'.
    drawn: Iterator[uuid.UUID] = iter(
        [uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x10" + bytes(15))]
    )
    monkeypatch.setattr(_local.uuid, "uuid4", lambda: next(drawn))
    assert _local._new_cluster_id() == "EAAAAAAAAAAAAAAAAAAAAA"


def test_ids_are_22_base64url_characters() -> None:
    for _ in range(200):
        cluster_id = _local._new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
