"""Crawl Clever for one sync run, resource by resource, page by page.

Each page (in chunks of APPLY_CHUNK_SIZE) becomes one apply message whose idempotency key is
`run:resource:page:chunk`. After publishing a page the checkpoint (resource, next link, page
number) is saved, so a worker killed mid-crawl resumes where it was; a page published twice
because of a crash in between is caught by its key. Memory holds one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import structlog

from clever_client.api import CleverApi
from clever_client.errors import CleverError, CleverForbidden, CleverNotFound
from domain.positions import position_from_time
from domain.privacy import strip_students
from domain.roles import normalize_email
from rostersync.runtime import Runtime
from services import completion
from services.district_tokens import open_api
from services.resources import FULL_SYNC_ORDER, Resource, earlier_user_roles
from storage import connections, runs

log = structlog.get_logger(__name__)


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prepare_items(resource: Resource, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop what must never leave the ingest actor: students, and users a prior crawl covered."""
    if resource.key == "sections":
        return [strip_students(item) for item in items]
    if resource.role is not None:
        earlier = earlier_user_roles(resource.role)
        return [item for item in items if not any(r in (item.get("roles") or {}) for r in earlier)]
    return items


def principals_of(schools: list[dict[str, Any]]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for school in schools:
        email = normalize_email((school.get("principal") or {}).get("email"))
        if email:
            index.setdefault(email, []).append(school["id"])
    return index


FEED_START = ""  # an events cursor meaning "from the oldest event Clever still has"


def snapshot_position(api: CleverApi) -> tuple[str, str | None]:
    """The run's source position and where event polling resumes after it.

    The newest event id serves as both. With an empty feed the position is the current time and
    polling starts at the feed's beginning (any event there is newer). With events turned off
    there is nothing to poll until a later full sync finds them on again.
    """
    try:
        latest = api.latest_event_id()
    except CleverForbidden:
        return position_from_time(datetime.now(UTC)), None
    except CleverNotFound:
        latest = None
    if latest:
        return latest.lower(), latest
    return position_from_time(datetime.now(UTC)), FEED_START


def ingest_run(rt: Runtime, run_id: str, generation: int) -> None:
    with rt.engine.begin() as conn:
        run = runs.get_run(conn, run_id, for_update=True)
        district = connections.get_district(conn, run["district_id"]) if run else None
        if run is None or district is None or run["status"] not in runs.ACTIVE_STATUSES:
            log.info("ingest.skipped", run_id=run_id, reason="run is not active")
            return
        if district["generation"] != generation or run["generation"] != generation:
            log.info("ingest.dropped_stale_generation", run_id=run_id, generation=generation)
            return
        if run["ingest_done"]:
            return
        if run["status"] == "queued":
            runs.update_run(conn, run_id, status="running", started_at=runs.now())
            connections.set_status(conn, district["id"], "syncing")
    district_id: str = district["id"]
    lane = (district["options"] or {}).get("lane")
    checkpoint: dict[str, Any] = dict(run["checkpoint"] or {})
    fetched: dict[str, int] = dict(run["fetched"] or {})
    pages_published = int(run["pages_published"])
    with open_api(rt, district_id) as api:
        position = run["source_position"]
        if position is None:
            position, cursor = snapshot_position(api)
            with rt.engine.begin() as conn:
                runs.update_run(conn, run_id, source_position=position)
                if district["events_cursor"] is None and cursor is not None:
                    connections.update_district(conn, district_id, events_cursor=cursor)
        log.info("ingest.started", run_id=run_id, resume=checkpoint.get("resource"))
        start_index = 0
        if checkpoint.get("resource"):
            start_index = [r.key for r in FULL_SYNC_ORDER].index(checkpoint["resource"])
        for resource in FULL_SYNC_ORDER[start_index:]:
            resuming = checkpoint.get("resource") == resource.key
            page_no = int(checkpoint.get("page_no", 0)) if resuming else 0
            next_url = checkpoint.get("next_url") if resuming else None
            count = fetched.get(resource.key, 0) if resuming else 0
            if resuming and checkpoint.get("done"):
                continue
            pages = api.iter_pages(
                resource.path, params=resource.params, limit=rt.settings.page_limit, start_url=next_url
            )
            for page in pages:
                items = prepare_items(resource, page.items)
                if resource.key == "schools":
                    for email, ids in principals_of(page.items).items():
                        checkpoint.setdefault("principals", {}).setdefault(email, []).extend(ids)
                for chunk_no, chunk in enumerate(chunks(items, rt.settings.apply_chunk_size)):
                    rt.publish(
                        "apply",
                        "apply_page",
                        {
                            "district_id": district_id,
                            "run_id": run_id,
                            "generation": generation,
                            "resource": resource.key,
                            "key": f"{run_id}:{resource.key}:{page_no}:{chunk_no}",
                            "position": position,
                            "items": chunk,
                            "principals": checkpoint.get("principals", {}) if resource.role else {},
                        },
                        lane=lane,
                    )
                    pages_published += 1
                page_no += 1
                count += len(page.items)
                fetched[resource.key] = count
                checkpoint.update(resource=resource.key, page_no=page_no, next_url=page.next_url, done=False)
                with rt.engine.begin() as conn:
                    runs.update_run(
                        conn, run_id, checkpoint=checkpoint, fetched=fetched, pages_published=pages_published
                    )
            fetched[resource.key] = count
            checkpoint.update(resource=resource.key, page_no=page_no, next_url=None, done=True)
            with rt.engine.begin() as conn:
                runs.update_run(conn, run_id, checkpoint=checkpoint, fetched=fetched)
            log.info("ingest.resource_done", run_id=run_id, resource=resource.key, items=count)
    with rt.engine.begin() as conn:
        runs.update_run(conn, run_id, ingest_done=True, ingest_finished_at=runs.now())
    log.info("ingest.finished", run_id=run_id, pages=pages_published)
    completion.finish_when_applied(rt, run_id, generation)


def fail_run(rt: Runtime, run_id: str, error: CleverError | str, *, needs_reauth: bool = False) -> None:
    with rt.engine.begin() as conn:
        run = runs.get_run(conn, run_id)
        if run is None:
            return
        runs.finish_run(conn, run_id, "failed", error=str(error)[:2000])
        status = "needs_reauth" if needs_reauth else "active"
        district = connections.get_district(conn, run["district_id"])
        if district is not None and district["status"] in ("syncing", "active", "needs_reauth"):
            connections.set_status(conn, run["district_id"], status)
    log.warning("sync.failed", run_id=run_id, error=str(error)[:500], needs_reauth=needs_reauth)
