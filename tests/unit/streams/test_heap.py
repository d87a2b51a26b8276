"""The worker's GC policy: freeze each batch's survivors, thaw and collect on a schedule."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tracestream.streams.runtime._heap import HeapKeeper

pytestmark = pytest.mark.unit


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture(autouse=True)
def _thaw() -> Iterator[None]:
    yield
    gc.unfreeze()


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_survivors_are_frozen_and_frozen_cycles_are_collected_when_due() -> None:
    now = [0.0]
    keeper = HeapKeeper(300, clock=lambda: now[0])
    gc.unfreeze()
    gc.collect()
    dead = _cycle()  # cyclic garbage made during a batch
    keeper.after_batch()
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert dead() is not None  # frozen: the collector does not see it
    now[0] = 299.0
    keeper.after_batch()
    assert dead() is not None and keeper.full_collections == 0
    now[0] = 300.0
    keeper.after_batch()
    assert dead() is None  # thawed and collected
    assert keeper.full_collections == 1 and keeper.collected >= 2


def test_zero_leaves_the_collector_alone() -> None:
    gc.unfreeze()
    keeper = HeapKeeper(0)
    dead = _cycle()
    keeper.after_batch()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert dead() is None
