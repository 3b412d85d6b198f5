"""apply queue: write one page of a full sync."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dramatiq

from actors.policy import retry_transient
from messaging import queues
from rostersync.runtime import runtime
from services import apply
from services.mapping_for_apply import InvalidPage
from services.run_failures import fail_run


@dramatiq.actor(queue_name=queues.queue_name(queues.APPLY), retry_when=retry_transient, throws=(InvalidPage,))
def apply_page(
    *,
    district_id: str,
    run_id: str,
    generation: int,
    resource: str,
    key: str,
    position: str,
    items: Sequence[Mapping[str, Any]],
    principals: Mapping[str, Sequence[str]],
    unchanged_ids: Sequence[str] = (),
    crawl_token: int | None = None,
    page_rank: int | None = None,
    table_was_empty: bool = False,
) -> None:
    rt = runtime()
    try:
        apply.apply_page(
            rt,
            district_id=district_id,
            run_id=run_id,
            generation=generation,
            resource=resource,
            key=key,
            position=position,
            items=items,
            principals=principals,
            unchanged_ids=unchanged_ids,
            crawl_token=crawl_token,
            page_rank=page_rank,
            table_was_empty=table_was_empty,
        )
    except InvalidPage as exc:
        # Nothing of the page was written; the message is dead-lettered and the run fails with why.
        fail_run(rt, run_id, f"page {key} rejected: {exc}")
        raise
