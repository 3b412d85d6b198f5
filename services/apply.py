"""Apply one page of a full sync in one transaction: key, upserts, seen ids, counters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from domain.crawl_fencing import superseded_page
from domain.entities import Term
from rostersync.metrics import record
from rostersync.runtime import Runtime
from services import completion
from services.mapping_for_apply import InvalidPage, map_with_sources, role_rules
from services.resources import BY_KEY
from storage import connections, idempotency, runs
from storage.seen import record_seen
from storage.tables import SYNCED_TABLES
from storage.term_churn import adopt_churned_ids
from storage.upserts import upsert_entities

log = structlog.get_logger(__name__)


def apply_page(
    rt: Runtime,
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
) -> dict[str, int] | None:
    """Returns the page's counters, or None when the page was dropped or already applied.

    `unchanged_ids` are the page's objects the ingest found exactly as stored (same source
    hash): they are counted and marked seen, not sent again. `table_was_empty`: the district
    had no rows in the page's table when the crawl began, so nothing stored is read first."""
    spec = BY_KEY.get(resource)
    if spec is None:
        raise InvalidPage(f"unknown resource {resource!r}")
    entity_type = spec.entity_type.value
    with rt.engine.begin() as conn:
        district = connections.get_district(conn, district_id, for_share=True)
        run = runs.run_progress(conn, run_id)
        if district is None or district["generation"] != generation or run is None:
            log.info("apply.dropped_stale_generation", key=key, generation=generation)
            return None
        if run["status"] in runs.FINISHED_STATUSES:
            log.info("apply.dropped_finished_run", key=key, status=run["status"])
            return None
        if superseded_page(crawl_token, page_rank, int(run["crawl_token"]), run["crawl_starts"] or {}):
            # Sent after a newer crawler took the run over from this page: it sends it again.
            log.info("apply.dropped_superseded_crawler", key=key, crawl_token=crawl_token)
            return None
        rules = role_rules(district["options"] or {})
        entities, sources = map_with_sources(resource, items, principals=principals, rules=rules)
        if entity_type == "term":
            adopt_churned_ids(
                conn, district_id, [e for e in entities if isinstance(e, Term)], still_present=unchanged_ids
            )
        outcome = upsert_entities(
            conn,
            SYNCED_TABLES[entity_type],
            district_id,
            entities,
            position,
            source_hashes=sources,
            skew_seconds=rt.settings.clock_skew_seconds,
            table_was_empty=table_was_empty,
        )
        outcome.unchanged += len(unchanged_ids)
        if resource == "districts" and entities and outcome.written_ids:
            connections.update_district(conn, district_id, name=getattr(entities[0], "name", None))
        record_seen(conn, run_id, entity_type, [*(e.clever_id for e in entities), *unchanged_ids])
        # A redelivered key still writes its page (both steps are idempotent): a page re-fetched
        # after a crash may hold other items than the first time. The key guards the counters.
        counters = {entity_type: outcome.as_counters()}
        first_time = idempotency.claim(
            conn, key, district_id=district_id, kind="page", run_id=run_id, counters=counters
        )
        if not first_time:
            log.info("apply.redelivered", key=key)
    completion.finish_when_applied(rt, run_id, generation)
    if first_time:
        record.entities_written(entity_type, counters[entity_type])
    return counters[entity_type] if first_time else None
