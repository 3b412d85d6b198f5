from __future__ import annotations

from typing import Any

import pytest

from domain.entities import Role, RoleRule, TenantKind, Term
from domain.mapping import (
    InvalidObject,
    is_person_we_keep,
    map_course,
    map_district,
    map_school,
    map_section,
    map_term,
    map_user,
    strip_students,
)
from domain.terms import term_natural_key

DISTRICT = "58da8a43cc70ab00017a1a87"
SCHOOL = "58da8c58155b940248000007"


def test_map_district() -> None:
    obj: dict[str, Any] = {
        "id": DISTRICT,
        "name": "#DEMO ISD",
        "state": "running",
        "ext": {"bells": {"*": []}},
    }
    tenant = map_district(obj)
    assert (tenant.clever_id, tenant.kind, tenant.parent_clever_id, tenant.name) == (
        DISTRICT,
        TenantKind.DISTRICT,
        None,
        "#DEMO ISD",
    )
    assert tenant.ext == {"bells": {"*": []}}
    obj["ext"]["bells"]["*"].append(1)  # the entity does not share the payload's objects
    assert tenant.ext == {"bells": {"*": []}}


def test_map_school_full() -> None:
    obj = {
        "id": SCHOOL,
        "district": DISTRICT,
        "name": "Pineapple Elementary School",
        "sis_id": "13K123",
        "school_number": "13K123",
        "low_grade": "TransitionalKindergarten",
        "high_grade": "5",
        "phone": "(718) 555-4567",
        "principal": {"email": "ceciliar@mailinator.com", "name": "Cecilia Roderick"},
        "ext": {"charter_school": "N"},
    }
    school = map_school(obj)
    assert school.kind is TenantKind.SCHOOL
    assert school.parent_clever_id == DISTRICT
    assert (school.principal_name, school.principal_email) == ("Cecilia Roderick", "ceciliar@mailinator.com")
    assert (school.low_grade, school.high_grade, school.phone) == (
        "TransitionalKindergarten",
        "5",
        "(718) 555-4567",
    )
    assert (school.sis_id, school.school_number, school.ext) == ("13K123", "13K123", {"charter_school": "N"})


def test_map_school_minimal_tolerates_missing_and_null_fields() -> None:
    school = map_school({"id": SCHOOL, "principal": None, "name": None, "ext": None, "phone": ""})
    assert (school.name, school.principal_email, school.phone, school.parent_clever_id, school.ext) == (
        "",
        None,
        None,
        None,
        {},
    )


def test_map_term_and_course() -> None:
    assert map_term({"id": "t1", "name": "S1", "start_date": "2012-08-01", "end_date": "2012-12-01"}) == Term(
        "t1", "S1", "2012-08-01", "2012-12-01"
    )
    assert map_term({"id": "t2", "district": DISTRICT}) == Term("t2", None, None, None)
    course = map_course({"id": "c1", "name": "Algebra I", "number": 101})
    assert (course.name, course.number) == ("Algebra I", "101")


def test_objects_without_id_are_rejected() -> None:
    with pytest.raises(InvalidObject, match="no id"):
        map_section({"name": "x"})
    with pytest.raises(InvalidObject, match="expected a JSON object"):
        map_term(["not", "an", "object"])  # type: ignore[arg-type]


SECTION: dict[str, Any] = {
    "id": "58da8c6a894273be68000182",
    "school": SCHOOL,
    "name": "Sixth Grade Advisory - Madison - 4",
    "period": "4",
    "subject": "homeroom/advisory",
    "grade": "6",
    "teacher": "t-primary",
    "teachers": ["t-co1", "t-primary", "t-co2", "t-co1"],
    "students": ["s1", "s2"],
    "term_id": "5b42365868c8d6104f634d34",
    "course": "5970d4de35e9e69741000277",
    "section_number": "",
    "sis_id": "587",
    "lms_status": {"synced_in_lms": True},  # v3.1
}


def test_map_section_orders_teachers_and_keeps_fields() -> None:
    room = map_section(SECTION)
    assert room.teacher_clever_ids == ("t-primary", "t-co1", "t-co2")
    assert (room.period, room.subject, room.grade, room.sis_id) == ("4", "homeroom/advisory", "6", "587")
    assert (room.term_clever_id, room.course_clever_id, room.section_number) == (
        "5b42365868c8d6104f634d34",
        "5970d4de35e9e69741000277",
        None,
    )


def test_map_section_never_reads_students() -> None:
    class NoStudents(dict[str, Any]):
        def __getitem__(self, key: str) -> Any:
            assert key != "students"
            return super().__getitem__(key)

        def get(self, key: str, default: Any = None) -> Any:
            assert key != "students"
            return super().get(key, default)

    room = map_section(NoStudents(SECTION))
    assert "s1" not in repr(room)


@pytest.mark.parametrize(
    ("teacher", "teachers", "expected"),
    [
        ("t1", None, ("t1",)),
        (None, ["t2", "t1"], ("t2", "t1")),
        (None, None, ()),
        ("", ["", "t1"], ("t1",)),
    ],
)
def test_section_teacher_fallbacks(
    teacher: str | None, teachers: list[str] | None, expected: tuple[str, ...]
) -> None:
    assert map_section({"id": "x", "teacher": teacher, "teachers": teachers}).teacher_clever_ids == expected


def test_strip_students_copies() -> None:
    stripped = strip_students(SECTION)
    assert "students" not in stripped
    assert "students" in SECTION
    assert stripped["teachers"] == SECTION["teachers"]


def multi_role_user() -> dict[str, Any]:
    return {
        "id": "5faac8b7bc447500a10ae857",
        "email": "Robin_Plant@example.org",
        "name": {"first": "Robin", "last": "Plant", "middle": "M"},
        "roles": {
            "teacher": {"school": "s3", "schools": ["s3", "s1"], "title": "High School Arts Teacher"},
            "staff": {
                "schools": ["s2"],
                "title": "Arts Department Chair",
                "department": "Arts",
                "roles": ["School Tech Lead", "Attendance"],
            },
            "district_admin": {"title": ""},
        },
    }


def test_map_user_multi_role() -> None:
    staff = map_user(multi_role_user(), {})
    assert staff is not None
    assert staff.clever_roles == ("district_admin", "staff", "teacher")
    assert staff.titles == ("Arts Department Chair", "High School Arts Teacher")
    assert staff.school_clever_ids == ("s1", "s2", "s3")
    assert staff.staff_permissions == ("Attendance", "School Tech Lead")
    assert (staff.department, staff.email, staff.middle_name) == ("Arts", "Robin_Plant@example.org", "M")
    assert (staff.synced_role, staff.role_reason, staff.role_school_clever_ids) == (
        Role.DISTRICT_ADMIN,
        "Clever role district_admin",
        (),
    )


def test_map_user_passes_principals_and_rules() -> None:
    obj = multi_role_user()
    del obj["roles"]["district_admin"]
    staff = map_user(obj, {"robin_plant@example.org": ("s9",)})
    assert staff is not None and (staff.synced_role, staff.role_school_clever_ids) == (
        Role.SCHOOL_ADMIN,
        ("s9",),
    )
    ruled = map_user(obj, {}, (RoleRule("chair", Role.RESTRICTED_VIEWER),))
    assert ruled is not None and ruled.synced_role is Role.RESTRICTED_VIEWER


def test_map_user_minimal_staff() -> None:
    staff = map_user({"id": "u1", "name": {"first": "José", "last": "Núñez"}, "roles": {"staff": {}}}, {})
    assert staff is not None
    assert (staff.first_name, staff.last_name, staff.middle_name, staff.email) == (
        "José",
        "Núñez",
        None,
        None,
    )
    assert (staff.titles, staff.school_clever_ids, staff.staff_permissions) == ((), (), ())
    assert staff.synced_role is Role.CONTRIBUTOR


def test_map_user_without_name_object() -> None:
    staff = map_user({"id": "u1", "name": None, "roles": {"teacher": {"schools": None}}}, {})
    assert staff is not None and (staff.first_name, staff.last_name) == ("", "")


@pytest.mark.parametrize(
    "roles",
    [
        {"student": {"grade": "5", "school": SCHOOL}},
        {"contact": {"student_relationships": [{"student": "s1"}]}},
        {},
        {"teacher": None},
        None,
    ],
)
def test_students_contacts_and_roleless_users_are_not_kept(roles: Any) -> None:
    obj = {"id": "u1", "name": {"first": "A", "last": "B"}, "roles": roles}
    assert not is_person_we_keep(obj)
    assert map_user(obj, {}) is None


def test_clever_roles_never_lists_student_or_contact() -> None:
    # Clever does not combine them; if it ever did, only the staff side would be kept.
    obj = {"id": "u1", "roles": {"teacher": {}, "student": {"grade": "9"}}}
    staff = map_user(obj, {})
    assert staff is not None and staff.clever_roles == ("teacher",)


def test_term_natural_key() -> None:
    assert term_natural_key(Term("a", "Y1", "2016-08-01", "2017-06-01")) == ("Y1", "2016-08-01", "2017-06-01")
    assert term_natural_key(Term("a", "S1", None, None)) == ("S1", None, None)
    assert term_natural_key(Term("a", None, None, None)) is None
    assert term_natural_key(Term("a", "", "", "")) is None
    churned_old, churned_new = (
        Term("old", "S2", "2012-12-02", "2013-06-01"),
        Term("new", "S2", "2012-12-02", "2013-06-01"),
    )
    assert term_natural_key(churned_old) == term_natural_key(churned_new)
