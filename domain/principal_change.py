"""A school's principal changed: which staff that concerns, and their roles derived again.

The role rules read a school's ``principal.email`` (an email match makes a SCHOOL_ADMIN), so a
school event can change the role of people whose own Clever object did not change. Their stored
row keeps everything the rules read about them (Clever roles, titles, schools, email), so the
role is derived again from the row, exactly as a full sync would map the user's object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from domain._coerce import mapping, text
from domain.entities import RoleRule, StaffUser
from domain.roles import StaffFacts, normalize_email, role_from_facts


def principal_email_of(school: Mapping[str, object] | None) -> str | None:
    """The normalised ``principal.email`` of a Clever school object (or of its changed fields)."""
    return normalize_email(text(mapping(mapping(school).get("principal")).get("email")))


def emails_touched(*emails: str | None) -> set[str]:
    """The normalised emails among the principal emails before and after a school event."""
    return {e for e in (normalize_email(email) for email in emails) if e is not None}


def stored_facts(user: StaffUser) -> StaffFacts:
    """What the role rules read, from a stored staff user instead of its Clever object.

    Only the staff role's own title is not kept apart: the rules read it for someone who holds
    the staff role but neither teacher nor district_admin, and then it is the only title kept.
    """
    held = set(user.clever_roles)
    staff_only = "staff" in held and not held & {"teacher", "district_admin"}
    return StaffFacts(
        held=user.clever_roles,
        titles=user.titles,
        schools=user.school_clever_ids,
        email=normalize_email(user.email),
        staff_title=user.titles[0] if staff_only and user.titles else None,
    )


def rederive_role(
    user: StaffUser, principals: Mapping[str, Sequence[str]], rules: Sequence[RoleRule] = ()
) -> StaffUser:
    """The user with the synced role, reason and administered schools the rules give now."""
    role, reason, schools = role_from_facts(stored_facts(user), principals, rules)
    return replace(user, synced_role=role, role_reason=reason, role_school_clever_ids=schools)


def leads(user: StaffUser, school_ids: Iterable[str]) -> bool:
    """Does the user administer any of these schools (by title or by principal email)?"""
    return bool(set(user.role_school_clever_ids) & set(school_ids))
