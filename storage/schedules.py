"""Bell schedules and their periods. Clever-sourced and manual schedules live side by side;
readers pick the manual one when a school has it, and a sync only ever writes `source=clever`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select, update

from domain.entities import BellSchedule
from domain.hashing import content_hash
from storage.database import dialect_insert
from storage.tables import bell_periods, bell_schedules, classrooms


def period_labels_by_school(
    conn: Connection, district_id: str, school_ids: Sequence[str] | None = None
) -> dict[str, set[str]]:
    query = (
        select(classrooms.c.school_clever_id, classrooms.c.period)
        .where(classrooms.c.district_id == district_id, classrooms.c.active.is_(True))
        .where(classrooms.c.period.is_not(None))
        .distinct()
    )
    if school_ids is not None:
        query = query.where(classrooms.c.school_clever_id.in_(list(school_ids)))
    labels: dict[str, set[str]] = defaultdict(set)
    for school, period in conn.execute(query):
        if period and period.strip():
            labels[school].add(period.strip())
    return labels


def schedule_hashes(conn: Connection, district_id: str, source: str) -> dict[str, str | None]:
    """School id → content hash of the district's stored schedules from one source."""
    query = select(bell_schedules.c.school_clever_id, bell_schedules.c.content_hash).where(
        bell_schedules.c.district_id == district_id, bell_schedules.c.source == source
    )
    return {school: digest for school, digest in conn.execute(query)}


def save_schedule(conn: Connection, district_id: str, schedule: BellSchedule) -> bool:
    """Write a schedule when its content changed; True when something was written."""
    digest = content_hash(schedule)
    existing = conn.execute(
        select(bell_schedules.c.id, bell_schedules.c.content_hash).where(
            bell_schedules.c.district_id == district_id,
            bell_schedules.c.school_clever_id == schedule.school_clever_id,
            bell_schedules.c.source == schedule.source.value,
        )
    ).first()
    now = datetime.now(UTC)
    if existing is not None and existing.content_hash == digest:
        return False
    if existing is None:
        # Two writers may add a school's first schedule at once: the later one takes it over.
        stmt = dialect_insert(conn)(bell_schedules).values(
            district_id=district_id,
            school_clever_id=schedule.school_clever_id,
            source=schedule.source.value,
            content_hash=digest,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                bell_schedules.c.district_id,
                bell_schedules.c.school_clever_id,
                bell_schedules.c.source,
            ],
            set_={"content_hash": digest, "updated_at": now},
        )
        schedule_id = conn.execute(stmt.returning(bell_schedules.c.id)).scalar_one()
        conn.execute(delete(bell_periods).where(bell_periods.c.schedule_id == schedule_id))
    else:
        schedule_id = existing.id
        conn.execute(
            update(bell_schedules)
            .where(bell_schedules.c.id == schedule_id)
            .values(content_hash=digest, updated_at=now)
        )
        conn.execute(delete(bell_periods).where(bell_periods.c.schedule_id == schedule_id))
    rows = [
        {
            "schedule_id": schedule_id,
            "position": index,
            "label": period.label,
            "start_time": period.start_time,
            "end_time": period.end_time,
        }
        for index, period in enumerate(schedule.periods)
    ]
    if rows:
        conn.execute(bell_periods.insert(), rows)
    return True
