"""Crawl Clever for one sync run, resource by resource, page by page.

Each page (in chunks of APPLY_CHUNK_SIZE) becomes one apply message whose idempotency key is
`run:resource:page:chunk`. After publishing a page the checkpoint (resource, next link, page
number) is saved, so a worker killed mid-crawl resumes where it was; a page published twice
because of a crash in between is caught by its key. Memory holds one page at a time.

A crawl works in slices of INGEST_SLICE_SECONDS: at the end of a slice it hands on to a fresh
ingest message, because RabbitMQ takes back a message held unacknowledged past its consumer
timeout (30 minutes by default) and would start a second crawler. A wait for Clever's rate limit
longer than RATE_LIMIT_HANDOFF_SECONDS (or past the slice's end) hands on too, delayed by the
wait. The next slice's message goes through the outbox, with the checkpoint it continues from.

One crawler per run: each crawl start takes the run's next crawl token (domain/crawl_fencing).
The checkpoint is saved only under the current token and never moves backwards; a crawler whose
token moved on stops quietly, and the pages it sent after that are dropped by the apply.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import structlog

from clever_client.api import CleverApi
from clever_client.errors import CleverForbidden, CleverNotFound
from clever_client.pagination import Page
from clever_client.read_ahead import read_ahead
from domain.crawl_fencing import page_rank
from domain.mapping import InvalidObject, map_school
from domain.positions import is_from_future, position_from_time
from domain.privacy import drop_students
from domain.roles import principal_index
from rostersync.runtime import Runtime
from services import completion
from services.district_tokens import open_api
from services.mapping_for_apply import role_rules, source_hashes
from services.outbox_relay import publish_after_commit
from services.resources import FULL_SYNC_ORDER, Resource, earlier_user_roles
from storage import connections, outbox, runs
from storage.tables import SYNCED_TABLES
from storage.upserts import has_rows, unchanged_sources

log = structlog.get_logger(__name__)

FEED_START = ""  # an events cursor meaning "from the oldest event Clever still has"


class Superseded(Exception):
    """Another crawler took the run over: this one stops, publishing nothing more."""


class WaitHandOff(Exception):
    """A wait for Clever too long to sleep through: hand on to a message delayed by it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"a wait of {seconds:.1f}s")
        self.seconds = seconds


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prepare_items(resource: Resource, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop what must never leave the ingest actor: students (in place: the crawl owns the
    page), and users a prior crawl covered."""
    if resource.key == "sections":
        for item in items:
            drop_students(item)
        return items
    if resource.role is not None:
        earlier = earlier_user_roles(resource.role)
        return [item for item in items if not any(r in (item.get("roles") or {}) for r in earlier)]
    return items


def partition(items: list[Any], unchanged: set[str]) -> tuple[list[Any], list[str]]:
    """(objects to apply, ids of the unchanged ones)."""
    changed: list[Any] = []
    unchanged_ids: list[str] = []
    for item in items:
        if _has_id(item) and item["id"] in unchanged:
            unchanged_ids.append(item["id"])
        else:
            changed.append(item)
    return changed, unchanged_ids


def _has_id(item: Any) -> bool:
    # Anything else goes to the apply stage, which rejects the page naming the object.
    return isinstance(item, dict) and isinstance(item.get("id"), str) and bool(item["id"])


def principals_of(schools: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Principal email → school ids, for the role mapping of the users crawled later."""
    mapped = []
    for school in schools:
        try:
            mapped.append(map_school(school))
        except InvalidObject:
            continue  # the apply of this page rejects it, with the reason
    return {email: list(ids) for email, ids in principal_index(mapped).items()}


def snapshot_position(api: CleverApi, skew_seconds: float) -> tuple[str, str | None]:
    """The run's source position and where event polling resumes after it.

    The newest event id serves as both. With an empty feed the position is the current time and
    polling starts at the feed's beginning (any event there is newer). With events turned off
    there is nothing to poll until a later full sync finds them on again. A newest id from the
    future is no position: the run takes the current time, so its rows stay open to later events.
    """
    now = datetime.now(UTC)
    try:
        latest = api.latest_event_id()
    except CleverForbidden:
        return position_from_time(now), None
    except CleverNotFound:
        latest = None
    if latest and is_from_future(latest, now, skew_seconds):
        log.warning("ingest.newest_event_from_the_future", event_id=latest.lower())
        return position_from_time(now), latest
    if latest:
        return latest.lower(), latest
    return position_from_time(now), FEED_START


class Crawl:
    """One slice of a run's crawl, resuming from the run's checkpoint."""

    def __init__(self, rt: Runtime, run: Any, district: Any, generation: int, token: int) -> None:
        self.rt = rt
        self.token = token
        self.run_id: str = run["id"]
        self.district_id: str = district["id"]
        self.generation = generation
        self.lane: str | None = (district["options"] or {}).get("lane")
        self.rules = role_rules(district["options"] or {})
        self.has_rows: dict[str, bool] = {}  # per table, whether the district has rows to compare
        self.position: str | None = run["source_position"]
        self.checkpoint: dict[str, Any] = dict(run["checkpoint"] or {})
        self.fetched: dict[str, int] = dict(run["fetched"] or {})
        self.pages_published = int(run["pages_published"])
        self.deadline = time.monotonic() + rt.settings.ingest_slice_seconds

    def take_snapshot(self, api: CleverApi, events_cursor: str | None) -> None:
        self.position, cursor = snapshot_position(api, self.rt.settings.clock_skew_seconds)
        with self.rt.engine.begin() as conn:
            if not runs.update_for_crawler(
                conn,
                self.run_id,
                self.token,
                source_position=self.position,
                checkpoint={"events_cursor": cursor},
            ):
                raise Superseded
            if events_cursor is None and cursor is not None:
                connections.update_district(conn, self.district_id, events_cursor=cursor)
        self.checkpoint = {"events_cursor": cursor}

    def remaining(self) -> list[tuple[int, Resource]]:
        """The resources left, each with its place in the crawl order."""
        ordered = list(enumerate(FULL_SYNC_ORDER))
        current = self.checkpoint.get("resource")
        if not current:
            return ordered
        keys = [r.key for r in FULL_SYNC_ORDER]
        # A resource whose last page was checkpointed (no next link) is done, even if the crash
        # came before it was marked so.
        finished = self.checkpoint.get("done") or (
            self.checkpoint.get("page_no", 0) > 0 and not self.checkpoint.get("next_url")
        )
        return ordered[keys.index(current) + (1 if finished else 0) :]

    def crawl(self, api: CleverApi) -> bool:
        """Crawl what is left; False when the slice ran out and a continuation was handed on."""
        for index, resource in self.remaining():
            resuming = self.checkpoint.get("resource") == resource.key
            page_no = int(self.checkpoint.get("page_no", 0)) if resuming else 0
            start_url = self.checkpoint.get("next_url") if resuming else None
            pages = api.iter_pages(
                resource.path, params=resource.params, limit=self.rt.settings.page_limit, start_url=start_url
            )
            # The next page is fetched, its students dropped and its objects hashed while this one
            # is compared with what is stored and published.
            for page, prepared, hashes in read_ahead(pages, functools.partial(self.prepare_page, resource)):
                self.publish_page(resource, page_rank(index, page_no), page_no, page.items, prepared, hashes)
                page_no += 1
                self.fetched[resource.key] = self.fetched.get(resource.key, 0) + len(page.items)
                slice_over = bool(page.next_url) and time.monotonic() > self.deadline
                self.save(
                    page_rank(index, page_no),
                    hand_on=slice_over,
                    resource=resource.key,
                    page_no=page_no,
                    next_url=page.next_url,
                    done=False,
                )
                if slice_over:
                    return False
            self.fetched.setdefault(resource.key, 0)
            self.save(
                page_rank(index, page_no), resource=resource.key, page_no=page_no, next_url=None, done=True
            )
            log.info(
                "ingest.resource_done",
                run_id=self.run_id,
                resource=resource.key,
                items=self.fetched[resource.key],
            )
        return True

    def publish_page(
        self,
        resource: Resource,
        rank: int,
        page_no: int,
        items: list[dict[str, Any]],
        prepared: list[dict[str, Any]],
        hashes: dict[str, str] | None,
    ) -> None:
        """`prepared` and `hashes`: what `prepare_page` made of the page.

        Apply messages are published before the checkpoint that covers them is committed (a
        crash in between republishes them under the same keys), so they need no outbox."""
        with self.rt.engine.connect() as conn:  # one cheap read per page: is this crawler current?
            if runs.crawl_token(conn, self.run_id) != self.token:
                raise Superseded
        if resource.key == "schools":
            principals = self.checkpoint.setdefault("principals", {})
            for email, ids in principals_of(items).items():
                principals.setdefault(email, []).extend(ids)
        user_principals = self.checkpoint.get("principals", {}) if resource.role else {}
        table_was_empty = hashes is None
        unchanged = self.unchanged(resource, hashes) if hashes else set()
        for chunk_no, chunk in enumerate(chunks(prepared, self.rt.settings.apply_chunk_size)):
            changed, unchanged_ids = partition(chunk, unchanged)
            self.rt.publish(
                "apply",
                "apply_page",
                {
                    "district_id": self.district_id,
                    "run_id": self.run_id,
                    "generation": self.generation,
                    "resource": resource.key,
                    "key": f"{self.run_id}:{resource.key}:{page_no}:{chunk_no}",
                    "position": self.position,
                    "items": changed,
                    "unchanged_ids": unchanged_ids,
                    "principals": user_principals,
                    "crawl_token": self.token,
                    "page_rank": rank,
                    "table_was_empty": table_was_empty,
                },
                lane=self.lane,
            )
            self.pages_published += 1

    def table_has_rows(self, resource: Resource) -> bool:
        """Whether the district had rows in the resource's table when this crawler first looked:
        asked once per table, so the answer is not changed by the pages this crawl applies."""
        table = SYNCED_TABLES[resource.entity_type.value]
        if table.name not in self.has_rows:
            with self.rt.engine.connect() as conn:
                self.has_rows[table.name] = has_rows(conn, table, self.district_id)
        return self.has_rows[table.name]

    def prepare_page(
        self, resource: Resource, page: Page
    ) -> tuple[Page, list[dict[str, Any]], dict[str, str] | None]:
        """The page, its items as `prepare_items` leaves them, and each object's source hash by
        id, or None when the table has no rows to compare with (a first sync). Runs in the
        read-ahead thread: the hashing is done while the crawl waits for PostgreSQL and RabbitMQ
        on the page before."""
        prepared = prepare_items(resource, page.items)
        if not self.table_has_rows(resource):
            return page, prepared, None
        # A user's hash covers the principal emails of the schools, all crawled before users.
        principals = self.checkpoint.get("principals", {}) if resource.role else {}
        digests = source_hashes(resource.key, prepared, principals=principals, rules=self.rules)
        hashes = {item["id"]: digest for item, digest in zip(prepared, digests, strict=True) if _has_id(item)}
        return page, prepared, hashes

    def unchanged(self, resource: Resource, hashes: dict[str, str]) -> set[str]:
        """Ids of the objects that are exactly what their stored row was mapped from: only their
        ids travel on, so a sync of an unchanged district maps and sends almost nothing."""
        with self.rt.engine.connect() as conn:
            return unchanged_sources(
                conn,
                SYNCED_TABLES[resource.entity_type.value],
                self.district_id,
                hashes,
                skew_seconds=self.rt.settings.clock_skew_seconds,
            )

    def save(self, rank: int, *, hand_on: bool = False, **checkpoint: Any) -> None:
        """Save the checkpoint under this crawler's token (and, ending a slice, queue the next
        slice's message in the same transaction)."""
        self.checkpoint.update(checkpoint)
        queued = None
        with self.rt.engine.begin() as conn:
            saved = runs.save_checkpoint(
                conn,
                self.run_id,
                self.token,
                rank,
                checkpoint=self.checkpoint,
                fetched=self.fetched,
                pages_published=self.pages_published,
            )
            if not saved:
                raise Superseded
            if hand_on:
                queued = self._queue_next_slice(conn, 0.0)
        if queued is not None:
            publish_after_commit(self.rt, [queued])

    def sleep(self, seconds: float) -> None:
        """How the Clever client waits: a wait too long to hold the message through hands on."""
        bound = self.rt.settings.rate_limit_handoff_seconds
        if seconds > bound or time.monotonic() + seconds > self.deadline:
            raise WaitHandOff(seconds)
        time.sleep(seconds)

    def hand_on_after(self, seconds: float) -> None:
        """Continue from the saved checkpoint in a message delayed by `seconds`."""
        with self.rt.engine.begin() as conn:
            if not runs.update_for_crawler(conn, self.run_id, self.token):
                raise Superseded
            queued = self._queue_next_slice(conn, seconds)
        publish_after_commit(self.rt, [queued])

    def _queue_next_slice(self, conn: Any, delay_seconds: float) -> int:
        log.info(
            "ingest.continues_in_new_message",
            run_id=self.run_id,
            resource=self.checkpoint.get("resource"),
            delay_seconds=round(delay_seconds, 3),
        )
        return outbox.add(
            conn,
            "ingest",
            "ingest_run",
            {"district_id": self.district_id, "run_id": self.run_id, "generation": self.generation},
            lane=self.lane,
            delay_seconds=delay_seconds,
            now=runs.now(),
        )


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
        if not run["ingest_done"] and run["status"] == "queued":
            runs.update_run(conn, run_id, status="running", started_at=runs.now())
            connections.set_status(conn, district["id"], "syncing")
        if not run["ingest_done"]:
            # Any crawler still at work on this run is stale from this commit on.
            token = runs.start_crawl(conn, run_id)
            run = runs.get_run(conn, run_id)
    if run is None or run["ingest_done"]:
        # Redelivered after the crawl ended: make sure the run still gets finished.
        completion.finish_when_applied(rt, run_id, generation)
        return
    crawl = Crawl(rt, run, district, generation, token)
    try:
        with open_api(rt, crawl.district_id, sleep=crawl.sleep) as api:
            if crawl.position is None:
                crawl.take_snapshot(api, district["events_cursor"])
            log.info("ingest.started", run_id=run_id, token=token, resume=crawl.checkpoint.get("resource"))
            if not crawl.crawl(api):
                return
        with rt.engine.begin() as conn:
            if not runs.update_for_crawler(
                conn, run_id, token, ingest_done=True, ingest_finished_at=runs.now()
            ):
                raise Superseded
    except WaitHandOff as wait:
        log.info("ingest.rate_limit_hand_off", run_id=run_id, seconds=round(wait.seconds, 3))
        try:
            crawl.hand_on_after(wait.seconds)
        except Superseded:
            log.info("ingest.superseded", run_id=run_id, token=token)
        return
    except Superseded:
        log.info("ingest.superseded", run_id=run_id, token=token)
        return
    log.info("ingest.finished", run_id=run_id, pages=crawl.pages_published)
    # Checked after the commit, as each apply checks after its own: whichever commits last
    # sees both (a check inside this transaction could miss a page committed meanwhile).
    completion.finish_when_applied(rt, run_id, generation)
