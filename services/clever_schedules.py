"""Bell schedules from Clever data: the district's configured `ext` field where it carries one
for a school, else the period labels of the school's classrooms. Manual schedules are stored
apart and never touched here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from domain.bell_schedules import clever_schedule, ext_schedules, periods_from_ext
from domain.entities import BellSchedule, ScheduleSource
from domain.hashing import content_hash
from rostersync.runtime import Runtime
from storage import connections
from storage.schedules import period_labels_by_school, save_schedules, schedule_hashes
from storage.tables import tenants


def refresh_clever_schedules(
    rt: Runtime, conn: Connection, district_id: str, school_ids: Sequence[str] | None = None
) -> int:
    """Rewrite the Clever schedules that changed (of some schools, or all); returns how many."""
    district_tenant = conn.execute(
        select(tenants.c.ext).where(tenants.c.district_id == district_id, tenants.c.kind == "district")
    ).first()
    district = connections.get_district(conn, district_id)
    options = (district["options"] if district else None) or {}
    field_name = options.get("bell_schedule_ext_field", rt.settings.bell_schedule_ext_field)
    district_ext = district_tenant.ext if district_tenant else {}
    query = select(tenants.c.clever_id).where(
        tenants.c.district_id == district_id, tenants.c.kind == "school", tenants.c.active.is_(True)
    )
    if school_ids is not None:
        query = query.where(tenants.c.clever_id.in_(list(school_ids)))
    schools = [cid for (cid,) in conn.execute(query)]
    labels = period_labels_by_school(conn, district_id, schools if school_ids is not None else None)
    stored = schedule_hashes(conn, district_id, ScheduleSource.CLEVER.value)  # one query, not one a school
    from_ext = ext_schedules(district_ext, field_name)
    changed: list[BellSchedule] = []
    digests: list[str] = []
    for school_id in schools:
        ext_periods = periods_from_ext(from_ext, school_id)
        schedule = clever_schedule(school_id, labels.get(school_id, ()), ext_periods)
        if not schedule.periods:
            continue
        digest = content_hash(schedule)
        if stored.get(school_id) != digest:
            changed.append(schedule)
            digests.append(digest)
    return save_schedules(conn, district_id, changed, digests)
