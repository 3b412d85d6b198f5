"""Disconnect a district (keep its data, stop updates) and purge it (delete what came from Clever)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Table, delete, func, select, update

from rostersync.runtime import Runtime
from storage import connections
from storage.tables import (
    SYNCED_TABLES,
    audit_log,
    bell_periods,
    bell_schedules,
    deletion_receipts,
    districts,
    failed_messages,
    oauth_states,
    processed_messages,
    run_seen_pages,
    scheduler_slots,
    sync_runs,
)

log = structlog.get_logger(__name__)


def disconnect_district(rt: Runtime, district_id: str, *, actor: str) -> int:
    """Erase the token, move the generation on (queued messages of the old one are dropped),
    cancel the run in progress. Staff, schools and classrooms stay as they are."""
    with rt.engine.begin() as conn:
        generation = connections.disconnect(conn, district_id)
        conn.execute(
            update(sync_runs)
            .where(sync_runs.c.district_id == district_id, sync_runs.c.status.in_(("queued", "running")))
            .values(status="cancelled", finished_at=func.now(), error="district disconnected")
        )
        conn.execute(
            audit_log.insert().values(
                district_id=district_id,
                actor=actor,
                action="district.disconnected",
                details={"generation": generation},
            )
        )
    log.info("district.disconnected", district_id=district_id, generation=generation)
    return generation


def purge_district(rt: Runtime, district_id: str, *, actor: str) -> dict[str, int]:
    """Disconnect, then delete every row of the district; keep a receipt of counts only."""
    with rt.engine.connect() as conn:
        district = connections.get_district(conn, district_id)
    if district is not None:
        disconnect_district(rt, district_id, actor=actor)
    # The receipt keeps the owning tenant: its district admins still find it (a redelivered
    # purge finds no district row, so it keeps the tenant of the receipt written first).
    tenant_id = district["tenant_id"] if district is not None else _receipt_tenant(rt, district_id)
    counts: dict[str, int] = {}
    with rt.engine.begin() as conn:
        schedule_ids = select(bell_schedules.c.id).where(bell_schedules.c.district_id == district_id)
        counts["bell_periods"] = _delete(conn, bell_periods, bell_periods.c.schedule_id.in_(schedule_ids))
        run_ids = select(sync_runs.c.id).where(sync_runs.c.district_id == district_id)
        counts["run_seen_pages"] = _delete(conn, run_seen_pages, run_seen_pages.c.run_id.in_(run_ids))
        for table in (
            *SYNCED_TABLES.values(),
            bell_schedules,
            processed_messages,
            sync_runs,
            audit_log,
            oauth_states,
            failed_messages,  # a stored message may hold a page of the district's staff
        ):
            counts[table.name] = _delete(conn, table, table.c.district_id == district_id)
        counts["scheduler_slots"] = _delete(
            conn, scheduler_slots, scheduler_slots.c.name.like(f"%:{district_id}:%")
        )
        counts["districts"] = _delete(conn, districts, districts.c.id == district_id)
        conn.execute(
            deletion_receipts.insert().values(
                district_id=district_id, requested_by=actor, counts=counts, tenant_id=tenant_id
            )
        )
    log.info("district.purged", district_id=district_id, counts=counts)
    return counts


def _receipt_tenant(rt: Runtime, district_id: str) -> str | None:
    with rt.engine.connect() as conn:
        query = select(deletion_receipts.c.tenant_id).where(deletion_receipts.c.district_id == district_id)
        return conn.execute(query.limit(1)).scalar()


def _delete(conn: Any, table: Table, condition: Any) -> int:
    return int(conn.execute(delete(table).where(condition)).rowcount)
