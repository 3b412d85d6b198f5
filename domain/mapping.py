"""Clever JSON objects (the inner ``data`` of a list item, or an event's ``object``) → entities.

Works for ``/v3.0`` and ``/v3.1`` objects alike (v3.1 only adds fields we do not read). Optional
string fields are stripped and ``""`` becomes None; a missing ``name`` becomes ``""``. Only an
object without an ``id`` is rejected, with ``InvalidObject``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from domain._coerce import id_list, mapping, text, unique
from domain.entities import Classroom, Course, RoleRule, StaffUser, Tenant, TenantKind, Term
from domain.privacy import is_person_we_keep, strip_students
from domain.roles import role_from_facts, staff_facts

__all__ = [
    "InvalidObject",
    "is_person_we_keep",
    "map_course",
    "map_district",
    "map_school",
    "map_section",
    "map_term",
    "map_user",
    "strip_students",
]


class InvalidObject(ValueError):
    """A Clever object that cannot be mapped at all (not an object, or no id)."""


def _id(obj: Any, kind: str) -> str:
    if not isinstance(obj, Mapping):
        raise InvalidObject(f"{kind}: expected a JSON object, got {type(obj).__name__}")
    clever_id = text(obj.get("id"))
    if clever_id is None:
        raise InvalidObject(f"{kind}: object has no id")
    return clever_id


def _ext(obj: Mapping[str, Any]) -> dict[str, Any]:
    # Deep copy: the entity is frozen, and must not share mutable state with the payload.
    return copy.deepcopy(dict(mapping(obj.get("ext"))))


def map_district(obj: Mapping[str, Any]) -> Tenant:
    """A Clever district → the top-level tenant (kind DISTRICT, no parent)."""
    return Tenant(
        clever_id=_id(obj, "district"),
        kind=TenantKind.DISTRICT,
        parent_clever_id=None,
        name=text(obj.get("name")) or "",
        ext=_ext(obj),
    )


def map_school(obj: Mapping[str, Any]) -> Tenant:
    """A Clever school → a child tenant of its district, with principal name and email."""
    principal = mapping(obj.get("principal"))
    return Tenant(
        clever_id=_id(obj, "school"),
        kind=TenantKind.SCHOOL,
        parent_clever_id=text(obj.get("district")),
        name=text(obj.get("name")) or "",
        sis_id=text(obj.get("sis_id")),
        school_number=text(obj.get("school_number")),
        low_grade=text(obj.get("low_grade")),
        high_grade=text(obj.get("high_grade")),
        principal_name=text(principal.get("name")),
        principal_email=text(principal.get("email")),
        phone=text(obj.get("phone")),
        ext=_ext(obj),
    )


def map_term(obj: Mapping[str, Any]) -> Term:
    """A Clever term (only id and district are guaranteed; names are SIS codes like "S1")."""
    return Term(
        clever_id=_id(obj, "term"),
        name=text(obj.get("name")),
        start_date=text(obj.get("start_date")),
        end_date=text(obj.get("end_date")),
    )


def map_course(obj: Mapping[str, Any]) -> Course:
    """A Clever course (name and number are not guaranteed)."""
    return Course(clever_id=_id(obj, "course"), name=text(obj.get("name")), number=text(obj.get("number")))


def section_teacher_ids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The primary ``teacher`` first, then the rest of ``teachers``, without duplicates."""
    primary = text(obj.get("teacher"))
    return unique(([primary] if primary else []) + id_list(obj.get("teachers")))


def map_section(obj: Mapping[str, Any]) -> Classroom:
    """A Clever section → classroom. ``students`` is never read."""
    return Classroom(
        clever_id=_id(obj, "section"),
        school_clever_id=text(obj.get("school")) or "",
        name=text(obj.get("name")) or "",
        period=text(obj.get("period")),
        subject=text(obj.get("subject")),
        grade=text(obj.get("grade")),
        teacher_clever_ids=section_teacher_ids(obj),
        term_clever_id=text(obj.get("term_id")),
        course_clever_id=text(obj.get("course")),
        section_number=text(obj.get("section_number")),
        sis_id=text(obj.get("sis_id")),
    )


def map_user(
    obj: Mapping[str, Any],
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule] = (),
) -> StaffUser | None:
    """A Clever user → staff user, or None for anyone without a district_admin/staff/teacher role.

    ``principals`` maps normalised principal email → school ids (see ``roles.principal_index``);
    ``rules`` are the district's own role rules, tried before the defaults. ``clever_roles`` lists
    only the staff-side roles; student and contact sub-objects are never read.
    """
    clever_id = _id(obj, "user")
    facts = staff_facts(obj)
    if not facts.held:  # no district_admin, staff or teacher role: not someone we keep
        return None
    name = mapping(obj.get("name"))
    staff = mapping(mapping(obj.get("roles")).get("staff"))
    role, reason, role_schools = role_from_facts(facts, principals, rules)
    return StaffUser(
        clever_id=clever_id,
        first_name=text(name.get("first")) or "",
        middle_name=text(name.get("middle")),
        last_name=text(name.get("last")) or "",
        email=text(obj.get("email")),
        clever_roles=facts.held,
        titles=facts.titles,
        department=text(staff.get("department")),
        staff_permissions=tuple(sorted(set(id_list(staff.get("roles"))))),  # order carries no meaning
        school_clever_ids=facts.schools,
        synced_role=role,
        role_reason=reason,
        role_school_clever_ids=role_schools,
    )
