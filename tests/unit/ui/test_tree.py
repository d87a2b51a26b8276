"""The span tree's layout: depth-first rows, contiguous subtrees, critical path, broken input."""

from __future__ import annotations

from typing import Any

import pytest

from tracestream.ui import layout_tree

pytestmark = pytest.mark.unit


def span(sid: str, parent: str | None, start: float, end: float | None) -> dict[str, Any]:
    return {"span_id": sid, "parent_span_id": parent, "start_ms": start, "end_ms": end}


def names(spans: list[dict[str, Any]], order: list[int]) -> list[str]:
    return [spans[i]["span_id"] for i in order]


def test_depth_first_with_siblings_by_start_whatever_the_input_order() -> None:
    spans = [
        span("c", "a", 50, 90),
        span("a", None, 0, 100),
        span("b", "a", 10, 40),
        span("b1", "b", 20, 30),
        span("c1", "c", 60, 95),
    ]
    laid = layout_tree(spans)
    assert names(spans, laid.order) == ["a", "b", "b1", "c", "c1"]
    assert [laid.depth[i] for i in laid.order] == [0, 1, 2, 1, 2]
    assert [laid.subtree_size[i] for i in laid.order] == [4, 1, 0, 1, 0]
    assert [laid.child_count[i] for i in laid.order] == [2, 1, 0, 1, 0]
    # a -> c (ends last among a's children) -> c1
    assert [spans[i]["span_id"] for i in laid.order if laid.critical[i]] == ["a", "c", "c1"]
    assert not any(laid.orphan)


def test_collapsing_a_span_hides_exactly_its_descendants() -> None:
    # The browser hides the subtree_size rows after a collapsed span.
    spans = [span("r", None, 0, 100)]
    spans += [span(f"k{i}", "r", i, i + 1) for i in range(5)]
    spans += [span(f"g{i}.{j}", f"k{i}", i, i + 0.5) for i in range(5) for j in range(3)]
    laid = layout_tree(spans)
    parent = {s["span_id"]: s["parent_span_id"] for s in spans}
    for pos, i in enumerate(laid.order):
        hidden = names(spans, laid.order[pos + 1 : pos + 1 + laid.subtree_size[i]])
        for sid in hidden:
            ancestor = parent[sid]
            while ancestor is not None and ancestor != spans[i]["span_id"]:
                ancestor = parent[ancestor]
            assert ancestor == spans[i]["span_id"], (spans[i]["span_id"], sid)
        following = laid.order[pos + 1 + laid.subtree_size[i] :]
        assert all(laid.depth[j] <= laid.depth[i] for j in following[:1])


def test_a_span_whose_parent_is_missing_is_drawn_as_a_marked_root() -> None:
    spans = [span("a", None, 0, 10), span("x", "gone", 5, 6), span("x1", "x", 5, 6)]
    laid = layout_tree(spans)
    assert names(spans, laid.order) == ["a", "x", "x1"]
    assert [laid.orphan[i] for i in laid.order] == [False, True, False]
    assert [laid.depth[i] for i in laid.order] == [0, 0, 1]


def test_a_parent_cycle_still_shows_every_span_once() -> None:
    spans = [span("a", "b", 0, 10), span("b", "a", 1, 5), span("s", "s", 2, 3)]
    laid = layout_tree(spans)
    assert sorted(names(spans, laid.order)) == ["a", "b", "s"]
    assert len(laid.order) == 3
    assert sum(laid.subtree_size[i] for i in laid.order if laid.depth[i] == 0) == 1


def test_an_unfinished_span_counts_as_ending_at_its_start_for_the_critical_path() -> None:
    spans = [span("r", None, 0, None), span("early", "r", 1, 50), span("open", "r", 40, None)]
    laid = layout_tree(spans)
    assert [spans[i]["span_id"] for i in laid.order if laid.critical[i]] == ["r", "early"]


def test_ten_thousand_spans_deep_do_not_recurse() -> None:
    # A chain 10,000 deep would overflow a recursive walk (Python's limit is 1,000).
    n = 10_000
    spans = [span("0", None, 0, n)] + [span(str(i), str(i - 1), i, n) for i in range(1, n)]
    laid = layout_tree(spans)
    assert laid.order == list(range(n))
    assert laid.depth[-1] == n - 1
    assert laid.subtree_size[0] == n - 1
    assert all(laid.critical)


def test_empty_trace() -> None:
    laid = layout_tree([])
    assert laid.order == [] and laid.critical == []
