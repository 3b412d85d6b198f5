"""The scheduler's tick: nightly reconciles and event polls, each enqueued once.

The next due time lives in the database, so a restarted scheduler picks up where it was; a
slot row per (task, district, night or interval) claimed with INSERT .. ON CONFLICT DO NOTHING
means two schedulers never enqueue the same work twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete

from domain.schedule import local_date_of, next_local_occurrence, parse_local_time
from rostersync.runtime import Runtime
from services.outbox_relay import drain as drain_outbox
from services.sync_requests import SyncRefused, request_sync
from storage import connections, runs
from storage.database import dialect_insert
from storage.tables import scheduler_slots

log = structlog.get_logger(__name__)


def claim_slot(rt: Runtime, name: str, claimed_by: str) -> bool:
    with rt.engine.begin() as conn:
        insert = dialect_insert(conn)
        stmt = (
            insert(scheduler_slots)
            .values(name=name, claimed_by=claimed_by, claimed_at=runs.now())
            .on_conflict_do_nothing(index_elements=[scheduler_slots.c.name])
            .returning(scheduler_slots.c.name)
        )
        return conn.execute(stmt).first() is not None


def tick(rt: Runtime, *, scheduler_id: str, now: datetime | None = None) -> dict[str, int]:
    """One pass over active districts; returns how many reconciles and polls it enqueued."""
    now = now or runs.now()
    at = parse_local_time(rt.settings.reconcile_local_time)
    # Messages whose publish after their commit failed (the broker was away) go out first.
    enqueued = {"reconcile": 0, "poll": 0, "outbox": drain_outbox(rt)}
    with rt.engine.connect() as conn:
        # A syncing district still gets its nightly request: that is what notices a stalled run.
        candidates = [d for d in connections.list_districts(conn) if d["status"] in ("active", "syncing")]
    for district in candidates:
        district_id, zone = district["id"], district["timezone"]
        due = runs.aware(district["next_reconcile_at"]) if district["next_reconcile_at"] else None
        if due is None:
            with rt.engine.begin() as conn:
                connections.update_district(
                    conn, district_id, next_reconcile_at=next_local_occurrence(now, at, zone)
                )
        elif due <= now:
            night = local_date_of(due, zone)
            if claim_slot(rt, f"reconcile:{district_id}:{night}", scheduler_id):
                try:
                    request_sync(rt, district_id, kind="reconcile", requested_by="scheduler")
                    enqueued["reconcile"] += 1
                except SyncRefused as exc:
                    log.info("scheduler.reconcile_refused", district_id=district_id, reason=str(exc))
            with rt.engine.begin() as conn:
                connections.update_district(
                    conn, district_id, next_reconcile_at=next_local_occurrence(now, at, zone)
                )
        bucket = int(now.timestamp() // max(rt.settings.events_poll_seconds, 1))
        # None: no full sync has set a cursor yet; a syncing district is polled after its run.
        polls = district["status"] == "active" and district["events_cursor"] is not None
        if polls and claim_slot(rt, f"poll:{district_id}:{bucket}", scheduler_id):
            rt.publish("events", "poll_events", {"district_id": district_id})
            enqueued["poll"] += 1
    with rt.engine.begin() as conn:
        conn.execute(delete(scheduler_slots).where(scheduler_slots.c.claimed_at < now - timedelta(days=3)))
    return enqueued
