"""Rows → the admin API's JSON. Secrets never leave: the token ciphertext is not serialized."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.entities import BellSchedule, Role
from domain.roles import effective_role
from domain.run_counters import documented as run_counters

# Database rows (RowMapping) and plain dicts alike.
Record = Mapping[Any, Any]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 always with its offset: SQLite hands back naive datetimes (stored in UTC)."""
    return _aware(value).isoformat() if value is not None else None


def run_json(run: Record) -> dict[str, Any]:
    started, finished = run["started_at"], run["finished_at"]
    duration = None
    if started is not None and finished is not None:
        duration = round((_aware(finished) - _aware(started)).total_seconds(), 3)
    held_plan = run["held_plan"] or None
    return {
        "id": run["id"],
        "district_id": run["district_id"],
        "kind": run["kind"],
        "status": run["status"],
        "generation": run["generation"],
        "requested_by": run["requested_by"],
        "counters": run_counters(run["counters"]),
        "drift": run["drift"],
        "error": run["error"],
        # How many rows each type would lose if a held run is approved (ids stay in the database).
        "held_deactivations": {k: len(v) for k, v in held_plan.items()} if held_plan else None,
        "queued_at": iso(run["queued_at"]),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": duration,
    }


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def district_json(district: Record, last_run: Record | None) -> dict[str, Any]:
    return {
        "id": district["id"],
        "name": district["name"],
        "status": district["status"],
        "generation": district["generation"],
        "has_token": district["token_ciphertext"] is not None,
        "scopes": district["scopes"] or [],
        "authorized_by": district["authorized_by"],
        "events_cursor": district["events_cursor"],
        "events_cursor_at": iso(district["events_cursor_at"]),
        "timezone": district["timezone"],
        "options": district["options"] or {},
        "current_run_id": district["current_run_id"],
        "next_reconcile_at": iso(district["next_reconcile_at"]),
        "connected_at": iso(district["connected_at"]),
        "disconnected_at": iso(district["disconnected_at"]),
        "last_run": run_json(last_run) if last_run is not None else None,
    }


def _synced(row: Record) -> dict[str, Any]:
    return {
        "id": row["clever_id"],
        "active": bool(row["active"]),
        "deleted": bool(row["deleted"]),
        "deactivated_at": iso(row["deactivated_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def staff_json(row: Record) -> dict[str, Any]:
    synced = Role(row["synced_role"])
    override = Role(row["override_role"]) if row["override_role"] else None
    return {
        **_synced(row),
        "first_name": row["first_name"],
        "middle_name": row["middle_name"],
        "last_name": row["last_name"],
        "email": row["email"],
        "clever_roles": row["clever_roles"] or [],
        "titles": row["titles"] or [],
        "department": row["department"],
        "schools": row["school_clever_ids"] or [],
        "synced_role": synced.value,
        "override_role": override.value if override else None,
        "role": effective_role(synced, override).value,
        "role_reason": row["role_reason"],
        "role_schools": row["role_school_clever_ids"] or [],
        "override_set_by": row["override_set_by"],
        "override_set_at": iso(row["override_set_at"]),
    }


def school_json(row: Record) -> dict[str, Any]:
    fields = (
        "name",
        "sis_id",
        "school_number",
        "low_grade",
        "high_grade",
        "principal_name",
        "principal_email",
        "phone",
        "timezone",
    )
    return {**_synced(row), **{name: row[name] for name in fields}}


def classroom_json(row: Record) -> dict[str, Any]:
    fields = ("name", "period", "subject", "grade", "section_number", "sis_id")
    return {
        **_synced(row),
        **{name: row[name] for name in fields},
        "school_id": row["school_clever_id"],
        "teacher_ids": row["teacher_clever_ids"] or [],
        "term_id": row["term_clever_id"],
        "course_id": row["course_clever_id"],
    }


def term_json(row: Record) -> dict[str, Any]:
    return {**_synced(row), "name": row["name"], "start_date": row["start_date"], "end_date": row["end_date"]}


def schedule_json(
    school_id: str, schedule: BellSchedule | None, *, has_manual: bool, has_clever: bool
) -> dict[str, Any]:
    periods = schedule.periods if schedule is not None else ()
    return {
        "school_id": school_id,
        "source": schedule.source.value if schedule is not None else None,
        "periods": [{"label": p.label, "start": p.start_time, "end": p.end_time} for p in periods],
        "has_manual": has_manual,
        "has_clever": has_clever,
    }
