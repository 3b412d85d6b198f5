"""One crawler per run: where a page sits in a crawl, and whether a superseded crawler sent it.

Every crawl start (a first delivery, a redelivery, a retry, the next slice) takes the run's next
token and records the checkpoint rank it starts from. A page is ranked by its resource's place
in the crawl order and its page number, so ranks only grow along a crawl. A crawler moves the
checkpoint past a page only after publishing it; the pages its successor starts at or beyond
were therefore never covered by its checkpoint, and the successor publishes them again.
"""

from __future__ import annotations

from collections.abc import Mapping

_PAGE_BITS = 32  # a resource holds fewer than 2**32 pages


def page_rank(resource_index: int, page_no: int) -> int:
    """The order of a page (or of the checkpoint just before it) along a crawl."""
    if resource_index < 0 or not 0 <= page_no < 2**_PAGE_BITS:
        raise ValueError("resource index and page number must be non-negative and bounded")
    return (resource_index << _PAGE_BITS) | page_no


def superseded_page(token: int | None, rank: int | None, current: int, starts: Mapping[str, int]) -> bool:
    """True for a page its crawler sent after the next crawler took over at or before it.

    `starts` maps each token (as a string: it lives in JSON) to the rank its crawl started at.
    A page without a token comes from a release before fencing and is taken as it is.
    """
    if token is None or rank is None or token >= current:
        return False
    successor_start = starts.get(str(token + 1))
    return successor_start is not None and rank >= successor_start
