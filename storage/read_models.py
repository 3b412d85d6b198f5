"""Queries behind the admin API and the OAuth progress page: reads scoped to one district,
keyset pages by row id, and the few writes people make (role overrides, OAuth nonces, audit)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Table,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from domain.entities import BellPeriod, BellSchedule, ScheduleSource
from storage.tables import (
    audit_log,
    bell_periods,
    bell_schedules,
    classrooms,
    oauth_states,
    staff_users,
    sync_runs,
    tenants,
    terms,
)

# What the admin API lists per district; schools are the tenant rows of kind "school".
ENTITY_TABLES: dict[str, Table] = {
    "staff": staff_users,
    "schools": tenants,
    "classrooms": classrooms,
    "terms": terms,
}


def ping(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


def entity_page(
    conn: Connection,
    name: str,
    district_id: str,
    *,
    after: int | None,
    limit: int,
    include_inactive: bool,
) -> tuple[list[RowMapping], int | None]:
    """One keyset page of a district's rows, ordered by row id; returns (rows, next cursor)."""
    table = ENTITY_TABLES[name]
    query = select(table).where(table.c.district_id == district_id)
    if name == "schools":
        query = query.where(table.c.kind == "school")
    if not include_inactive:
        query = query.where(table.c.active.is_(True), table.c.deleted.is_(False))
    if after is not None:
        query = query.where(table.c.id > after)
    # One row more than asked tells whether another page exists without a count.
    rows = [row._mapping for row in conn.execute(query.order_by(table.c.id).limit(limit + 1))]
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, int(rows[-1]["id"])
    return rows, None


def school_exists(conn: Connection, district_id: str, school_id: str) -> bool:
    query = select(tenants.c.id).where(
        tenants.c.district_id == district_id,
        tenants.c.clever_id == school_id,
        tenants.c.kind == "school",
    )
    return conn.execute(query).first() is not None


def schedules_for_schools(
    conn: Connection, district_id: str, school_ids: Sequence[str]
) -> dict[tuple[str, str], BellSchedule]:
    """The stored schedules of some schools by (school id, source)."""
    if not school_ids:
        return {}
    query = (
        select(
            bell_schedules.c.school_clever_id,
            bell_schedules.c.source,
            bell_periods.c.label,
            bell_periods.c.start_time,
            bell_periods.c.end_time,
        )
        .select_from(bell_schedules.outerjoin(bell_periods))
        .where(
            bell_schedules.c.district_id == district_id,
            bell_schedules.c.school_clever_id.in_(list(school_ids)),
        )
        .order_by(bell_schedules.c.school_clever_id, bell_schedules.c.source, bell_periods.c.position)
    )
    periods: dict[tuple[str, str], list[BellPeriod]] = defaultdict(list)
    for row in conn.execute(query):
        key = (row.school_clever_id, row.source)
        periods.setdefault(key, [])
        if row.label is not None:
            periods[key].append(BellPeriod(row.label, row.start_time, row.end_time))
    return {key: BellSchedule(key[0], ScheduleSource(key[1]), tuple(value)) for key, value in periods.items()}


def staff_by_clever_id(
    conn: Connection,
    clever_id: str,
    district_id: str | None = None,
    *,
    scope: ColumnElement[bool] | None = None,
) -> list[RowMapping]:
    """Staff rows with this Clever id, in one district or any, within `scope` (reachable districts)."""
    query = select(staff_users).where(staff_users.c.clever_id == clever_id)
    if scope is not None:
        query = query.where(scope)
    if district_id is not None:
        query = query.where(staff_users.c.district_id == district_id)
    return [row._mapping for row in conn.execute(query.order_by(staff_users.c.id))]


def staff_by_row_id(conn: Connection, row_id: int) -> RowMapping | None:
    row = conn.execute(select(staff_users).where(staff_users.c.id == row_id)).first()
    return row._mapping if row else None


def set_role_override(
    conn: Connection, row_id: int, role: str | None, *, set_by: str | None, set_at: datetime | None
) -> None:
    """Only the override columns: the synced role and the sync's bookkeeping stay as they are."""
    conn.execute(
        update(staff_users)
        .where(staff_users.c.id == row_id)
        .values(override_role=role, override_set_by=set_by, override_set_at=set_at)
    )


def count_runs(conn: Connection, district_id: str) -> int:
    query = select(func.count()).select_from(sync_runs).where(sync_runs.c.district_id == district_id)
    return int(conn.execute(query).scalar_one())


def claim_nonce(engine: Engine, nonce: str, **values: Any) -> bool:
    """Record an OAuth state's nonce as used (with `values`: tenant_id, session_id, error);
    False when it was used before (a replay).

    A transaction of its own: the primary key decides, so two racing callbacks cannot both win.
    """
    try:
        with engine.begin() as conn:
            conn.execute(oauth_states.insert().values(nonce=nonce, **values))
    except IntegrityError:
        return False
    return True


def release_nonce(conn: Connection, nonce: str) -> None:
    """Forget a nonce whose connect message never reached the broker, so the admin may retry."""
    conn.execute(delete(oauth_states).where(oauth_states.c.nonce == nonce))


def get_oauth_state(conn: Connection, nonce: str) -> RowMapping | None:
    row = conn.execute(select(oauth_states).where(oauth_states.c.nonce == nonce)).first()
    return row._mapping if row else None


def record_audit(
    conn: Connection,
    *,
    district_id: str | None,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
) -> None:
    conn.execute(
        audit_log.insert().values(
            district_id=district_id, actor=actor, action=action, subject=subject, details=details
        )
    )


def audit_page(
    conn: Connection,
    scope: ColumnElement[bool],
    *,
    district_id: str | None,
    before: int | None,
    limit: int,
) -> tuple[list[RowMapping], int | None]:
    """Audit rows newest first, within `scope` (a condition on the rows' district), keyset by id."""
    query = select(audit_log).where(scope)
    if district_id is not None:
        query = query.where(audit_log.c.district_id == district_id)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    rows = [row._mapping for row in conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit + 1))]
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, int(rows[-1]["id"])
    return rows, None
