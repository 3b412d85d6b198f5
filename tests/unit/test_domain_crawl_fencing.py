"""Page ranks grow along a crawl, and a page is superseded only when its crawler's successor
started at or before it."""

from __future__ import annotations

import pytest

from domain.crawl_fencing import page_rank, superseded_page


def test_ranks_follow_the_crawl_order_across_resources() -> None:
    assert page_rank(0, 0) < page_rank(0, 1) < page_rank(0, 2**32 - 1) < page_rank(1, 0) < page_rank(2, 5)


@pytest.mark.parametrize(("resource", "page"), [(-1, 0), (0, -1), (0, 2**32)])
def test_out_of_range_positions_are_refused(resource: int, page: int) -> None:
    with pytest.raises(ValueError):
        page_rank(resource, page)


def test_a_page_the_successor_starts_at_or_after_is_superseded() -> None:
    starts = {"1": 0, "2": page_rank(3, 70), "3": page_rank(5, 2)}
    # Crawler 1 was overtaken at page 70 of resource 3: what it sent from there on is stale.
    assert superseded_page(1, page_rank(3, 70), 3, starts)
    assert superseded_page(1, page_rank(3, 71), 3, starts)
    # What it sent before that was covered by its own checkpoint, and counts.
    assert not superseded_page(1, page_rank(3, 69), 3, starts)
    # The current crawler's pages and pages without a token always count.
    assert not superseded_page(3, page_rank(6, 0), 3, starts)
    assert not superseded_page(None, None, 3, starts)
    # A token whose successor's start is unknown is not guessed at.
    assert not superseded_page(1, page_rank(3, 71), 3, {"1": 0})
