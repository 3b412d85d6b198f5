from __future__ import annotations

from typing import Any

import pytest

from domain.entities import Role, RoleRule, Tenant, TenantKind
from domain.roles import (
    effective_role,
    invalid_rules,
    normalize_email,
    principal_index,
    resolve_role,
    user_school_ids,
    user_titles,
)

S1, S2, S3 = "58da8c58155b940248000007", "58da8c58155b940248000008", "58da8c58155b940248000009"


def user(email: str | None = "pat@example.org", **roles: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": "5faac8b7bc447500a10ae857", "name": {"first": "Pat", "last": "Lee"}}
    if email is not None:
        obj["email"] = email
    obj["roles"] = roles
    return obj


def staff(title: str | None = None, schools: tuple[str, ...] = (S1,), **extra: Any) -> dict[str, Any]:
    role: dict[str, Any] = {"schools": list(schools), **extra}
    if title is not None:
        role["title"] = title
    return role


def teacher(title: str | None = None, school: str = S1, schools: tuple[str, ...] = (S1,)) -> dict[str, Any]:
    role: dict[str, Any] = {"school": school, "schools": list(schools)}
    if title is not None:
        role["title"] = title
    return role


NO_PRINCIPALS: dict[str, tuple[str, ...]] = {}


# --- the default mapping, one step at a time -------------------------------------------------


def test_clever_district_admin_role_is_district_admin() -> None:
    role, reason, schools = resolve_role(user(district_admin={}), NO_PRINCIPALS, ())
    assert (role, reason, schools) == (Role.DISTRICT_ADMIN, "Clever role district_admin", ())


def test_district_admin_beats_every_other_role_and_title() -> None:
    obj = user(district_admin={"title": ""}, staff=staff("Principal"), teacher=teacher("Math Teacher"))
    assert resolve_role(obj, {"pat@example.org": (S1,)}, ())[0] is Role.DISTRICT_ADMIN


@pytest.mark.parametrize(
    "title", ["District Administrator", "Assistant district administrator", "DISTRICT-ADMINISTRATOR"]
)
def test_district_administrator_title_is_district_admin(title: str) -> None:
    role, reason, schools = resolve_role(user(staff=staff(title)), NO_PRINCIPALS, ())
    assert role is Role.DISTRICT_ADMIN
    assert title in reason
    assert schools == ()


@pytest.mark.parametrize(
    "title",
    [
        "Principal",
        "Assistant Principal",
        "Vice Principal",
        "Vice-Principal",
        "PRINCIPAL",
        "principal (interim)",
        "School Administrator",
        "school  administrator",
    ],
)
def test_principal_titles_are_school_admin_for_the_users_schools(title: str) -> None:
    role, reason, schools = resolve_role(user(staff=staff(title, schools=(S2, S1))), NO_PRINCIPALS, ())
    assert role is Role.SCHOOL_ADMIN
    assert schools == (S1, S2)
    assert f"'{title}'" in reason


@pytest.mark.parametrize(
    "title",
    [
        "Principal's Secretary",
        "Principal\u2019s Secretary",
        "Principals Council Liaison",
        "Principalship Coordinator",
        "District Administrator's Assistant",
    ],
)
def test_words_that_only_contain_principal_are_not_school_admin(title: str) -> None:
    role, _, schools = resolve_role(user(staff=staff(title)), NO_PRINCIPALS, ())
    assert role is Role.RESTRICTED_VIEWER
    assert schools == ()


def test_bare_school_admin_title_is_not_school_administrator() -> None:
    # Some districts stamp "School Admin" on every staff member.
    assert resolve_role(user(staff=staff("School Admin")), NO_PRINCIPALS, ())[0] is Role.RESTRICTED_VIEWER


def test_teacher_titled_assistant_principal_is_school_admin() -> None:
    obj = user(teacher=teacher("Assistant Principal", school=S3, schools=(S3,)))
    assert resolve_role(obj, NO_PRINCIPALS, ())[::2] == (Role.SCHOOL_ADMIN, (S3,))


def test_principal_email_match_is_case_insensitive_and_stripped() -> None:
    obj = user(email="  CecilaR@Mailinator.COM ", staff=staff("Counselor", schools=(S3,)))
    role, reason, schools = resolve_role(obj, {"cecilar@mailinator.com": (S1, S2)}, ())
    assert role is Role.SCHOOL_ADMIN
    assert schools == (S1, S2)  # the principal's schools, not the user's
    assert "principal email of 2 school(s)" in reason
    assert "cecilar" not in reason.lower()  # emails never end up in audit text or logs


def test_title_and_email_match_union_their_schools() -> None:
    obj = user(email="p@x.org", staff=staff("Principal", schools=(S3,)))
    role, reason, schools = resolve_role(obj, {"p@x.org": (S1,)}, ())
    assert (role, schools) == (Role.SCHOOL_ADMIN, (S1, S3))
    assert "title 'Principal'" in reason and "email" in reason


def test_principal_email_match_beats_teacher_role() -> None:
    obj = user(email="teach@x.org", teacher=teacher("Grade 5 Teacher"))
    assert resolve_role(obj, {"teach@x.org": (S2,)}, ())[::2] == (Role.SCHOOL_ADMIN, (S2,))


def test_missing_email_never_matches_a_principal() -> None:
    obj = user(email=None, staff=staff("Counselor"))
    assert resolve_role(obj, {"": (S1,)}, ())[0] is Role.RESTRICTED_VIEWER


def test_principal_title_without_schools_falls_through() -> None:
    role, reason, schools = resolve_role(user(staff=staff("Principal", schools=())), NO_PRINCIPALS, ())
    assert (role, schools) == (Role.RESTRICTED_VIEWER, ())
    assert "no schools" in reason


def test_teacher_role_is_contributor() -> None:
    assert resolve_role(user(teacher=teacher("Kindergarten Teacher")), NO_PRINCIPALS, ()) == (
        Role.CONTRIBUTOR,
        "Clever role teacher",
        (),
    )


def test_teacher_role_without_title_is_contributor() -> None:
    assert resolve_role(user(teacher={}), NO_PRINCIPALS, ())[0] is Role.CONTRIBUTOR


@pytest.mark.parametrize("title", [None, "", "   "])
def test_staff_with_empty_or_missing_title_is_contributor(title: str | None) -> None:
    role, reason, _ = resolve_role(user(staff=staff(title)), NO_PRINCIPALS, ())
    assert role is Role.CONTRIBUTOR
    assert "no title" in reason


@pytest.mark.parametrize(
    "title", ["Substitute Teacher", "Teacher's Aide", "Support Staff", "Co-Teacher", "STAFF"]
)
def test_staff_title_saying_teacher_or_staff_is_contributor(title: str) -> None:
    assert resolve_role(user(staff=staff(title)), NO_PRINCIPALS, ())[0] is Role.CONTRIBUTOR


@pytest.mark.parametrize(
    "title",
    ["Math Specialist", "Counselor", "Literacy Specialist", "Staffing Coordinator", "Directrice d'école"],
)
def test_other_staff_titles_are_restricted_viewer(title: str) -> None:
    role, reason, schools = resolve_role(user(staff=staff(title)), NO_PRINCIPALS, ())
    assert (role, schools) == (Role.RESTRICTED_VIEWER, ())
    assert f"'{title}'" in reason


def test_counselor_who_also_teaches_is_contributor() -> None:
    obj = user(staff=staff("Counselor"), teacher=teacher("Health Teacher"))
    assert resolve_role(obj, NO_PRINCIPALS, ())[0] is Role.CONTRIBUTOR


def test_user_without_staff_side_roles_is_restricted() -> None:
    assert resolve_role(user(student={"grade": "5"}), NO_PRINCIPALS, ())[0] is Role.RESTRICTED_VIEWER
    assert resolve_role({"id": "x"}, NO_PRINCIPALS, ())[0] is Role.RESTRICTED_VIEWER


# --- district rules ------------------------------------------------------------------------------


def test_district_rule_comes_before_defaults_with_reason() -> None:
    obj = user(staff=staff("District Science Coach"))
    rules = (RoleRule(pattern="coach", role=Role.CONTRIBUTOR),)
    assert resolve_role(obj, NO_PRINCIPALS, rules) == (
        Role.CONTRIBUTOR,
        "district rule /coach/ matched title 'District Science Coach'",
        (),
    )


def test_district_rule_can_demote_a_principal_title() -> None:
    rules = (RoleRule(pattern=r"^principal clerk$", role=Role.RESTRICTED_VIEWER),)
    assert (
        resolve_role(user(staff=staff("Principal Clerk")), NO_PRINCIPALS, rules)[0] is Role.RESTRICTED_VIEWER
    )


def test_district_rule_beats_clever_district_admin_role() -> None:
    obj = user(district_admin={"title": "IT Help Desk"})
    rules = (RoleRule(pattern="help desk", role=Role.RESTRICTED_VIEWER),)
    assert resolve_role(obj, NO_PRINCIPALS, rules)[0] is Role.RESTRICTED_VIEWER


def test_first_matching_district_rule_wins() -> None:
    rules = (
        RoleRule(pattern="nurse", role=Role.RESTRICTED_VIEWER),
        RoleRule(pattern="head", role=Role.SCHOOL_ADMIN),
        RoleRule(pattern="head", role=Role.DISTRICT_ADMIN),
    )
    obj = user(staff=staff("Head of School", schools=(S2, S1)))
    role, reason, schools = resolve_role(obj, NO_PRINCIPALS, rules)
    assert (role, schools) == (Role.SCHOOL_ADMIN, (S1, S2))
    assert reason == "district rule /head/ matched title 'Head of School'"


def test_district_rule_is_case_insensitive_and_checks_every_title() -> None:
    obj = user(staff=staff("Counselor"), teacher=teacher("DEAN of Students"))
    rules = (RoleRule(pattern="dean", role=Role.SCHOOL_ADMIN),)
    assert resolve_role(obj, NO_PRINCIPALS, rules)[:2] == (
        Role.SCHOOL_ADMIN,
        "district rule /dean/ matched title 'DEAN of Students'",
    )


def test_district_school_admin_rule_without_schools_falls_through() -> None:
    rules = (RoleRule(pattern="dean", role=Role.SCHOOL_ADMIN),)
    obj = user(staff=staff("Dean", schools=()))
    assert resolve_role(obj, NO_PRINCIPALS, rules)[0] is Role.RESTRICTED_VIEWER


def test_district_admin_rule_has_no_school_scope() -> None:
    rules = (RoleRule(pattern="superintendent", role=Role.DISTRICT_ADMIN),)
    assert resolve_role(user(staff=staff("Superintendent")), NO_PRINCIPALS, rules)[::2] == (
        Role.DISTRICT_ADMIN,
        (),
    )


def test_invalid_rule_never_matches_and_is_reported() -> None:
    bad = RoleRule(pattern="(unclosed", role=Role.DISTRICT_ADMIN)
    good = RoleRule(pattern="coach", role=Role.CONTRIBUTOR)
    assert (
        resolve_role(user(staff=staff("(unclosed coach")), NO_PRINCIPALS, (bad, good))[0] is Role.CONTRIBUTOR
    )
    assert invalid_rules([bad, good]) == [bad]


def test_rules_match_accented_titles() -> None:
    rules = (RoleRule(pattern="directrice", role=Role.SCHOOL_ADMIN),)
    obj = user(staff=staff("DIRECTRICE d\u2019École"))
    assert resolve_role(obj, NO_PRINCIPALS, rules)[0] is Role.SCHOOL_ADMIN


# --- helpers -------------------------------------------------------------------------------------


def test_user_titles_in_role_order_deduplicated() -> None:
    obj = user(
        teacher=teacher(" Math Teacher "),
        staff=staff("Math Teacher"),
        district_admin={"title": "Curriculum Lead"},
    )
    assert user_titles(obj) == ("Curriculum Lead", "Math Teacher")


def test_user_school_ids_union_sorted() -> None:
    obj = user(staff=staff(schools=(S3, S1)), teacher={"school": S2, "schools": [S1, None, ""]})
    assert user_school_ids(obj) == (S1, S2, S3)


def test_principal_index_normalizes_and_groups() -> None:
    def school(cid: str, email: str | None) -> Tenant:
        return Tenant(cid, TenantKind.SCHOOL, "d", "n", principal_email=email)

    index = principal_index([school(S2, "LS@x.org"), school(S1, " ls@x.org"), school(S3, None)])
    assert index == {"ls@x.org": (S1, S2)}
    assert normalize_email("  A@B.C ") == "a@b.c"
    assert normalize_email("   ") is None


def test_effective_role_prefers_override() -> None:
    assert effective_role(Role.CONTRIBUTOR, None) is Role.CONTRIBUTOR
    assert effective_role(Role.CONTRIBUTOR, Role.SCHOOL_ADMIN) is Role.SCHOOL_ADMIN
    assert effective_role(Role.DISTRICT_ADMIN, Role.RESTRICTED_VIEWER) is Role.RESTRICTED_VIEWER
