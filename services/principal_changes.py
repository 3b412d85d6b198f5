"""Re-derive the roles of the staff a school event's principal change concerns, at the event.

A full sync maps every user with the principal emails of every school; an event for one school
would otherwise change nothing about its old or new principal until then. The staff concerned:
those whose email was or now is the school's principal email, and those who administer the
school. Each gets the synced role, reason and schools a full sync would give; rows whose role
does not move are not written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from domain.entities import RoleRule
from domain.hashing import content_hash
from domain.principal_change import emails_touched, leads, principal_email_of, rederive_role
from storage.staff_roles import active_staff_touched, principal_schools, write_synced_roles


@dataclass(frozen=True)
class PrincipalChange:
    school_id: str
    before: str | None  # normalised principal email stored before the event
    after: str | None  # the event's principal email; None once the school is deleted
    previous: str | None = None  # what Clever's diff says it was, if it says


def principal_change(
    school_id: str, action: str, obj: Mapping[str, object], previous: Mapping[str, object], stored: str | None
) -> PrincipalChange | None:
    """The change a written school event makes to its principal email, or None."""
    after = None if action == "deleted" else principal_email_of(obj)
    said_before = principal_email_of(previous) if "principal" in previous else None
    if after == stored and said_before in (None, after):
        return None
    return PrincipalChange(school_id, stored, after, said_before)


def rederive_roles(
    conn: Connection, district_id: str, changes: Sequence[PrincipalChange], rules: Sequence[RoleRule]
) -> int:
    """Re-derive the roles the changes concern; returns how many rows changed role."""
    if not changes:
        return 0
    emails = emails_touched(*(e for c in changes for e in (c.before, c.after, c.previous)))
    school_ids = {c.school_id for c in changes}
    candidates = [
        (user, read_hash)
        for user, read_hash in active_staff_touched(conn, district_id, emails, school_ids)
        if emails_touched(user.email) & emails or leads(user, school_ids)
    ]
    principals = principal_schools(conn, district_id, [user.email for user, _ in candidates])
    moved = []
    for user, read_hash in candidates:
        again = rederive_role(user, principals, rules)
        if content_hash(again) != read_hash:
            moved.append((again, read_hash))
    write_synced_roles(conn, district_id, moved)
    return len(moved)
