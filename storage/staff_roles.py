"""Principal emails and staff roles as stored: what a school event needs to re-derive roles."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from domain.entities import Role, StaffUser
from domain.hashing import content_hash
from domain.roles import normalize_email
from storage.tables import staff_users, tenants


def principal_schools(
    conn: Connection, district_id: str, emails: Iterable[str | None]
) -> dict[str, list[str]]:
    """Principal email → active school ids, for these emails only (all a user's mapping needs)."""
    wanted = {e for e in (normalize_email(email) for email in emails) if e is not None}
    if not wanted:
        return {}
    found: dict[str, list[str]] = defaultdict(list)
    params = {"district_id": district_id, "emails": sorted(wanted)}
    for principal_email, school_id in conn.execute(_principals_among(), params):
        found[principal_email].append(school_id)
    return dict(found)


@functools.cache
def _principals_among() -> Any:
    """Built once: an event batch asks it every time, and building and keying a statement
    costs more than running it."""
    email = func.lower(func.trim(tenants.c.principal_email))
    return select(email, tenants.c.clever_id).where(
        tenants.c.district_id == bindparam("district_id"),
        tenants.c.kind == "school",
        tenants.c.active.is_(True),
        email.in_(bindparam("emails", expanding=True)),
    )


def stored_principal_emails(
    conn: Connection, district_id: str, school_ids: Sequence[str]
) -> dict[str, str | None]:
    """School id → its stored principal email (normalised; None while the school is inactive,
    since only active schools make principals), for the schools that have a row."""
    if not school_ids:
        return {}
    query = select(tenants.c.clever_id, tenants.c.principal_email, tenants.c.active).where(
        tenants.c.district_id == district_id, tenants.c.clever_id.in_(sorted(set(school_ids)))
    )
    return {
        row.clever_id: normalize_email(row.principal_email) if row.active else None
        for row in conn.execute(query)
    }


_STAFF_FIELDS = (
    "clever_id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "clever_roles",
    "titles",
    "department",
    "staff_permissions",
    "school_clever_ids",
    "synced_role",
    "role_reason",
    "role_school_clever_ids",
)


def _staff_user(row: Any) -> StaffUser:
    """A stored row as the entity the mapping made of it (JSON lists back to tuples)."""
    values = {name: getattr(row, name) for name in _STAFF_FIELDS}
    for name in (
        "clever_roles",
        "titles",
        "staff_permissions",
        "school_clever_ids",
        "role_school_clever_ids",
    ):
        values[name] = tuple(values[name] or ())
    values["synced_role"] = Role(values["synced_role"])
    return StaffUser(**values)


def active_staff_touched(
    conn: Connection, district_id: str, emails: Iterable[str], school_ids: Iterable[str]
) -> list[tuple[StaffUser, str]]:
    """(user, stored content hash) of active staff whose email is one of `emails` or who are
    school admins (maybe of these schools: the caller checks, JSON lists differ by database)."""
    wanted = sorted(set(emails))
    conditions = [staff_users.c.synced_role == Role.SCHOOL_ADMIN.value] if school_ids else []
    if wanted:
        conditions.append(func.lower(func.trim(staff_users.c.email)).in_(wanted))
    if not conditions:
        return []
    query = select(*(staff_users.c[name] for name in _STAFF_FIELDS), staff_users.c.content_hash).where(
        staff_users.c.district_id == district_id,
        staff_users.c.active.is_(True),
        staff_users.c.deleted.is_(False),
        or_(*conditions),
    )
    return [(_staff_user(row), row.content_hash) for row in conn.execute(query)]


def write_synced_roles(conn: Connection, district_id: str, changes: Sequence[tuple[StaffUser, str]]) -> None:
    """Write re-derived roles: (user with its new role, the content hash it was read with).

    Only the synced role columns move; the override is never written. The source hash is
    cleared: the row no longer is what its Clever object mapped to under the old principals, so
    the next full sync maps that object again (finding the row unchanged) instead of skipping it.
    A row another writer changed since it was read is left to that writer."""
    if not changes:
        return
    now = datetime.now(UTC)
    params = [
        {
            "b_clever_id": user.clever_id,
            "b_read_hash": read_hash,
            "b_role": user.synced_role.value,
            "b_reason": user.role_reason,
            "b_schools": list(user.role_school_clever_ids),
            "b_hash": content_hash(user),
        }
        for user, read_hash in sorted(changes, key=lambda change: change[0].clever_id)
    ]
    statement = (
        update(staff_users)
        .where(
            staff_users.c.district_id == district_id,
            staff_users.c.clever_id == bindparam("b_clever_id"),
            staff_users.c.content_hash == bindparam("b_read_hash"),
        )
        .values(
            synced_role=bindparam("b_role"),
            role_reason=bindparam("b_reason"),
            role_school_clever_ids=bindparam("b_schools", type_=staff_users.c.role_school_clever_ids.type),
            content_hash=bindparam("b_hash"),
            source_hash=None,
            updated_at=now,
        )
    )
    conn.execute(statement, params)
