"""Removing a school's manual bell schedule; the Clever-sourced one (if any) is then in force.

Saving goes through `storage.schedules.save_schedule` with `ScheduleSource.MANUAL`.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from domain.entities import ScheduleSource
from storage.tables import bell_periods, bell_schedules


def delete_manual_schedule(conn: Connection, district_id: str, school_id: str) -> bool:
    """True when a manual schedule existed and is gone."""
    schedule_id = conn.execute(
        select(bell_schedules.c.id).where(
            bell_schedules.c.district_id == district_id,
            bell_schedules.c.school_clever_id == school_id,
            bell_schedules.c.source == ScheduleSource.MANUAL.value,
        )
    ).scalar_one_or_none()
    if schedule_id is None:
        return False
    # Periods explicitly: the cascade needs foreign keys switched on, which SQLite may not have.
    conn.execute(delete(bell_periods).where(bell_periods.c.schedule_id == schedule_id))
    conn.execute(delete(bell_schedules).where(bell_schedules.c.id == schedule_id))
    return True
