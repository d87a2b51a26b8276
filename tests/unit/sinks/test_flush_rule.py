"""The sink's group commit: when it flushes, how long it may wait, which blocks it writes."""

from __future__ import annotations

import pytest

from tracestream.sinks import KafkaRow
from tracestream.sinks._flush import FlushRule, flush_blocks
from tracestream.sinks._writer import block_token

RULE = FlushRule(max_rows=1_000, max_ms=1_000, min_interval_ms=250)


def _due(rows: int, age_ms: float = 0.0, since_ms: float = 0.0, *, caught_up: bool = False) -> bool:
    return RULE.due(
        largest_rows=rows, oldest_age_ms=age_ms, since_flush_ms=since_ms, caught_up=caught_up
    )


def test_nothing_buffered_is_never_due() -> None:
    assert not _due(0, age_ms=5_000, since_ms=5_000, caught_up=True)


def test_caught_up_flushes_once_the_floor_has_passed() -> None:
    assert _due(1, since_ms=250, caught_up=True)
    assert not _due(1, since_ms=249, caught_up=True)


def test_a_sink_that_is_not_caught_up_waits_for_a_full_batch_or_the_oldest_rows_age() -> None:
    assert not _due(999, age_ms=999, since_ms=10_000)
    assert _due(1_000, age_ms=0, since_ms=0)
    assert _due(1, age_ms=1_000, since_ms=0)


def test_a_full_batch_or_an_old_row_flushes_even_within_the_floor() -> None:
    assert _due(1_000, since_ms=0, caught_up=True)
    assert _due(1, age_ms=1_000, since_ms=0, caught_up=True)


def test_a_zero_floor_flushes_whenever_caught_up() -> None:
    rule = FlushRule(max_rows=1_000, max_ms=1_000, min_interval_ms=0)
    assert rule.due(largest_rows=1, oldest_age_ms=0, since_flush_ms=0, caught_up=True)


@pytest.mark.parametrize(
    ("buffered", "age_ms", "since_ms", "caught_up", "wait_ms"),
    [
        (False, 0, 0, True, 200),  # nothing to flush: the longest fetch wait
        (True, 0, 100, True, 150),  # caught up: until the floor has passed
        (True, 0, 100, False, 200),  # not caught up: fetch more, capped
        (True, 900, 0, False, 100),  # until the oldest row is max_ms old
        (True, 1_500, 0, True, 0),  # overdue: do not wait at all
    ],
)
def test_the_fetch_waits_no_longer_than_until_a_flush_can_fall_due(
    buffered: bool, age_ms: float, since_ms: float, caught_up: bool, wait_ms: int
) -> None:
    assert (
        RULE.fetch_wait_ms(
            buffered=buffered, oldest_age_ms=age_ms, since_flush_ms=since_ms, caught_up=caught_up
        )
        == wait_ms
    )


def _rows(partition: int, first: int, last: int) -> list[KafkaRow]:
    return [KafkaRow("spans", partition, offset, b"{}") for offset in range(first, last + 1)]


def test_a_small_flush_is_one_block_for_all_partitions() -> None:
    rows = _rows(0, 3, 5) + _rows(2, 7, 7) + _rows(1, 10, 11)
    (block,) = flush_blocks(rows, 100)
    assert [(r.partition, r.offset) for r in block] == [
        (0, 3), (0, 4), (0, 5), (1, 10), (1, 11), (2, 7),
    ]  # fmt: skip
    assert block_token(block) == "spans:0:3-5,spans:1:10-11,spans:2:7-7"


def test_whole_aligned_chunks_stay_blocks_of_their_own() -> None:
    rows = _rows(0, 95, 215) + _rows(1, 0, 99)
    blocks = flush_blocks(rows, 100)
    assert [block_token(b) for b in blocks] == [
        "spans:0:100-199",
        "spans:1:0-99",
        "spans:0:95-99,spans:0:200-215",
    ]


def test_a_single_partition_keeps_its_token() -> None:
    (block,) = flush_blocks(_rows(4, 17, 20), 100)
    assert block_token(block) == "spans:4:17-20"
