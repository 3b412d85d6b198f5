"""What the integrations page and the operator console show, read from storage: the state of a
connection in plain words, a run's progress per resource, the next nightly reconcile in the
district's time zone, held runs with what they would deactivate. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from domain.positions import is_position, position_time
from domain.schedule import next_local_occurrence, parse_local_time
from gateway.serializers import run_json
from storage import connections, runs
from storage.tables import SYNCED_TABLES, deletion_receipts, failed_messages, staff_users, sync_runs

# How a person reads each connection state; the key is what templates and tests look for.
STATES = {
    "not_connected": "Not connected",
    "connecting": "Connecting",
    "active": "Connected",
    "syncing": "Syncing",
    "needs_reauth": "Needs re-authorization",
    "disconnected": "Disconnected",
}
RESOURCE_NAMES = {
    "tenant": "Schools",
    "staff": "Staff",
    "classroom": "Classrooms",
    "term": "Terms",
    "course": "Courses",
}
OUTCOMES = ("created", "updated", "unchanged", "restored", "deactivated")
HELD_NAMES_SHOWN = 50
HANDLED_SHOWN = 10


@dataclass(frozen=True)
class Progress:
    run: dict[str, Any]
    pages_applied: int
    pages_published: int
    crawling: bool
    counters: dict[str, dict[str, int]]
    finished_at: datetime | None


def tenant_district(conn: Connection, tenant: str | None) -> RowMapping | None:
    """The tenant's Clever connection: a live one before a disconnected one, the newest first."""
    if tenant is None:
        return None
    found = connections.list_districts(conn, tenant_id=tenant)
    if not found:
        return None
    return min(found, key=lambda d: (d["status"] == "disconnected", -_stamp(d["connected_at"])))


def _stamp(moment: datetime | None) -> float:
    return runs.aware(moment).timestamp() if moment is not None else 0.0


def state_key(district: RowMapping | None, active: RowMapping | None) -> str:
    if district is None:
        return "not_connected"
    if district["status"] in ("needs_reauth", "disconnected", "connecting"):
        return str(district["status"])
    return "syncing" if active is not None else "active"


def progress(conn: Connection, run: RowMapping) -> Progress:
    """Counters per resource so far: the run's own once it finished, else its applied pages'."""
    applied, totals = runs.page_totals(conn, run["id"])
    counters = run["counters"] or totals
    return Progress(
        run=run_json(run),
        pages_applied=applied,
        pages_published=int(run["pages_published"] or 0),
        crawling=not run["ingest_done"],
        counters={t: counters[t] for t in RESOURCE_NAMES if t in counters},
        finished_at=run["finished_at"],
    )


def next_reconcile(district: RowMapping, reconcile_local_time: str) -> datetime | None:
    """When the scheduler will run the nightly reconcile (services/scheduler.py's rule)."""
    if district["status"] not in ("active", "syncing"):
        return None
    if district["next_reconcile_at"] is not None:
        return runs.aware(district["next_reconcile_at"])
    return next_local_occurrence(runs.now(), parse_local_time(reconcile_local_time), district["timezone"])


def last_event_at(district: RowMapping) -> datetime | None:
    """The time of the newest Clever event applied (event ids carry their time)."""
    cursor = district["events_cursor"]
    return position_time(cursor) if cursor and is_position(cursor) else None


def last_finished_run(conn: Connection, district_id: str) -> RowMapping | None:
    query = (
        select(sync_runs)
        .where(sync_runs.c.district_id == district_id, sync_runs.c.status.in_(runs.FINISHED_STATUSES))
        .order_by(sync_runs.c.queued_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return row._mapping if row else None


def held_runs(conn: Connection, district_id: str) -> list[dict[str, Any]]:
    """Runs waiting for a decision, each with the names of what approval would deactivate."""
    query = (
        select(sync_runs)
        .where(sync_runs.c.district_id == district_id, sync_runs.c.status == "held")
        .order_by(sync_runs.c.queued_at.desc())
    )
    held = []
    for row in conn.execute(query):
        run = row._mapping
        plan = run["held_plan"] or {}
        held.append(
            {
                "run": run_json(run),
                "reason": run["error"],
                "would_deactivate": [
                    {
                        "resource": RESOURCE_NAMES.get(kind, kind),
                        "count": len(ids),
                        "names": _names(conn, district_id, kind, ids[:HELD_NAMES_SHOWN]),
                    }
                    for kind, ids in sorted(plan.items())
                ],
            }
        )
    return held


def _names(conn: Connection, district_id: str, kind: str, ids: list[str]) -> list[str]:
    table = SYNCED_TABLES.get(kind)
    if table is None or not ids:
        return list(ids)
    if kind == "staff":
        label = (table.c.first_name + " " + table.c.last_name).label("label")
    elif "name" in table.c:
        label = func.coalesce(table.c.name, table.c.clever_id).label("label")
    else:
        return list(ids)
    query = select(label).where(table.c.district_id == district_id, table.c.clever_id.in_(ids))
    return sorted(str(name) for (name,) in conn.execute(query))


def restricted_titles(conn: Connection, district_id: str) -> list[tuple[str, int]]:
    """Job titles of active staff the role rules left as RESTRICTED_VIEWER, most common first."""
    query = select(staff_users.c.titles).where(
        staff_users.c.district_id == district_id,
        staff_users.c.active.is_(True),
        staff_users.c.synced_role == "RESTRICTED_VIEWER",
    )
    counts: dict[str, int] = {}
    for (titles,) in conn.execute(query):
        for title in titles or ["(no title)"]:
            counts[title] = counts.get(title, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def receipts(conn: Connection, tenant: str) -> list[RowMapping]:
    query = (
        select(deletion_receipts)
        .where(deletion_receipts.c.tenant_id == tenant)
        .order_by(deletion_receipts.c.completed_at.desc())
    )
    return [row._mapping for row in conn.execute(query)]


def recently_handled(conn: Connection, limit: int = HANDLED_SHOWN) -> list[RowMapping]:
    """Failed messages an operator replayed or dropped, newest first: after a replay the row
    stays in view as replayed, and comes back to the waiting list if the replay failed again."""
    query = (
        select(failed_messages)
        .where(failed_messages.c.resolved_at.is_not(None))
        .order_by(failed_messages.c.resolved_at.desc(), failed_messages.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
