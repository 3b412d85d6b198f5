"""What rostersync keeps of a district, after mapping from Clever.

Each entity is a frozen value: the sync compares its content hash with the stored one and
writes only when they differ. Clever ids are kept as opaque strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    DISTRICT_ADMIN = "DISTRICT_ADMIN"
    SCHOOL_ADMIN = "SCHOOL_ADMIN"
    CONTRIBUTOR = "CONTRIBUTOR"
    RESTRICTED_VIEWER = "RESTRICTED_VIEWER"


class EntityType(StrEnum):
    """Kinds of synced rows; each has a table of its own."""

    TENANT = "tenant"
    TERM = "term"
    COURSE = "course"
    CLASSROOM = "classroom"
    STAFF = "staff"


class TenantKind(StrEnum):
    DISTRICT = "district"
    SCHOOL = "school"


@dataclass(frozen=True, slots=True)
class Tenant:
    """The district itself, or one of its schools as a child tenant."""

    clever_id: str
    kind: TenantKind
    parent_clever_id: str | None
    name: str
    sis_id: str | None = None
    school_number: str | None = None
    low_grade: str | None = None
    high_grade: str | None = None
    principal_name: str | None = None
    principal_email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    ext: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Term:
    clever_id: str
    name: str | None
    start_date: str | None  # ISO date, as Clever sends it
    end_date: str | None


@dataclass(frozen=True, slots=True)
class Course:
    clever_id: str
    name: str | None
    number: str | None


@dataclass(frozen=True, slots=True)
class Classroom:
    """A Clever section. Never carries students."""

    clever_id: str
    school_clever_id: str
    name: str
    period: str | None
    subject: str | None
    grade: str | None
    teacher_clever_ids: tuple[str, ...]  # primary teacher first, then co-teachers
    term_clever_id: str | None
    course_clever_id: str | None
    section_number: str | None
    sis_id: str | None


@dataclass(frozen=True, slots=True)
class StaffUser:
    """One person, whatever mix of Clever roles (district_admin, staff, teacher) they hold."""

    clever_id: str
    first_name: str
    middle_name: str | None
    last_name: str
    email: str | None
    clever_roles: tuple[str, ...]  # sorted Clever role names held
    titles: tuple[str, ...]  # raw titles, one per Clever role that has one
    department: str | None
    staff_permissions: tuple[str, ...]  # roles.staff.roles, e.g. "School Tech Lead"
    school_clever_ids: tuple[str, ...]  # every school of every role, sorted
    synced_role: Role
    role_reason: str  # why the synced role was chosen, for admins to audit
    role_school_clever_ids: tuple[str, ...]  # schools a SCHOOL_ADMIN administers


@dataclass(frozen=True, slots=True)
class RoleRule:
    """A district's own rule, tried before the default mapping: title pattern → role."""

    pattern: str  # a regular expression, matched case-insensitively against each title
    role: Role


@dataclass(frozen=True, slots=True)
class BellPeriod:
    label: str
    start_time: str | None = None  # "HH:MM", local time of the school
    end_time: str | None = None


class ScheduleSource(StrEnum):
    MANUAL = "manual"
    CLEVER = "clever"


@dataclass(frozen=True, slots=True)
class BellSchedule:
    school_clever_id: str
    source: ScheduleSource
    periods: tuple[BellPeriod, ...]


Entity = Tenant | Term | Course | Classroom | StaffUser


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, in order; `dataclasses.fields` rebuilds its tuple every call,
    which costs more than reading the fields of an entity."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names
