"""Bell schedules and their periods. Clever-sourced and manual schedules live side by side;
readers pick the manual one when a school has it, and a sync only ever writes `source=clever`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select

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


# Schedules per upsert: each brings five parameters, and a statement takes at most 65,535.
_UPSERT_ROWS = 1_000


def save_schedule(conn: Connection, district_id: str, schedule: BellSchedule) -> bool:
    """Write a schedule when its content changed; True when something was written."""
    return save_schedules(conn, district_id, [schedule]) == 1


def save_schedules(
    conn: Connection,
    district_id: str,
    schedules: Sequence[BellSchedule],
    digests: Sequence[str] | None = None,
) -> int:
    """Write the schedules whose content changed (`digests`: their content hashes, when the
    caller has them); returns how many were written.

    Three statements for up to 1,000 schedules: a district's first sync writes one for each of
    its schools, and four statements a school made that the slowest part of its end."""
    hashes = list(digests) if digests is not None else [content_hash(s) for s in schedules]
    # One row per school and source: a statement may not upsert the same row twice.
    latest = {(s.school_clever_id, s.source.value): (s, h) for s, h in zip(schedules, hashes, strict=True)}
    if not latest:
        return 0
    now = datetime.now(UTC)
    insert = dialect_insert(conn)(bell_schedules)
    upsert = insert.on_conflict_do_update(
        index_elements=[
            bell_schedules.c.district_id,
            bell_schedules.c.school_clever_id,
            bell_schedules.c.source,
        ],
        set_={"content_hash": insert.excluded.content_hash, "updated_at": insert.excluded.updated_at},
        # Two writers may add a school's first schedule at once: the later one takes it over.
        where=bell_schedules.c.content_hash.is_distinct_from(insert.excluded.content_hash),
    ).returning(bell_schedules.c.id, bell_schedules.c.school_clever_id, bell_schedules.c.source)
    rows = [
        {
            "district_id": district_id,
            "school_clever_id": school_id,
            "source": source,
            "content_hash": digest,
            "updated_at": now,
        }
        for (school_id, source), (_, digest) in latest.items()
    ]
    written: dict[tuple[str, str], int] = {}
    for start in range(0, len(rows), _UPSERT_ROWS):
        chunk = conn.execute(upsert.values(rows[start : start + _UPSERT_ROWS])).all()
        if chunk:
            ids = [row.id for row in chunk]
            conn.execute(delete(bell_periods).where(bell_periods.c.schedule_id.in_(ids)))
            written.update(((row.school_clever_id, row.source), row.id) for row in chunk)
    periods = [
        {
            "schedule_id": schedule_id,
            "position": index,
            "label": period.label,
            "start_time": period.start_time,
            "end_time": period.end_time,
        }
        for key, schedule_id in written.items()
        for index, period in enumerate(latest[key][0].periods)
    ]
    if periods:
        conn.execute(bell_periods.insert(), periods)
    return len(written)
