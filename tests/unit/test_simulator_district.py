"""The generated district: deterministic and realistically messy."""

from __future__ import annotations

import re

import pytest

from simulator.district import District, generate_district
from simulator.ids import LiveIds, id_timestamp


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district(7, 12)


def test_same_seed_same_data() -> None:
    a, b = generate_district(3, 4), generate_district(3, 4)
    assert a.district == b.district
    assert a.users == b.users
    assert a.sections == b.sections
    assert a.schools == b.schools and a.terms == b.terms and a.courses == b.courses


def test_other_seed_or_index_gives_other_ids() -> None:
    a, b, c = generate_district(3, 2), generate_district(4, 2), generate_district(3, 2, index=1)
    ids_a = {u["id"] for u in a.users}
    assert not ids_a & {u["id"] for u in b.users}
    assert not ids_a & {u["id"] for u in c.users}
    assert a.id != b.id != c.id


def test_ids_are_24_hex_and_ascending(district: District) -> None:
    for objects in (district.schools, district.users, district.sections, district.terms, district.courses):
        ids = [o["id"] for o in objects]
        assert ids == sorted(ids)
        assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    assert len({u["id"] for u in district.users}) == len(district.users)


def test_every_school_has_principal_user_and_assistant_principal(district: District) -> None:
    staff = district.users_by_role()["staff"]
    for school in district.schools:
        email = school["principal"]["email"].lower()
        principals = [u for u in staff if u.get("email", "").lower() == email]
        assert len(principals) == 1, school["name"]
        assert principals[0]["roles"]["staff"]["title"] == "Principal"
        assert (
            school["principal"]["name"] == f"{principals[0]['name']['first']} {principals[0]['name']['last']}"
        )
        aps = [
            u
            for u in staff
            if school["id"] in u["roles"]["staff"]["schools"]
            and u["roles"]["staff"].get("title") in ("Assistant Principal", "Vice Principal")
        ]
        assert aps, school["name"]
    # Clever does not normalise emails: some schools spell the principal's email in another case.
    assert any(s["principal"]["email"] != s["principal"]["email"].lower() for s in district.schools)


def test_realistic_mix(district: District) -> None:
    by_role = district.users_by_role()
    assert all(by_role[r] for r in ("district_admin", "staff", "teacher", "student", "contact"))
    role_sets = [frozenset(u["roles"]) for u in district.users]
    assert frozenset({"teacher", "staff"}) in role_sets
    assert frozenset({"staff", "district_admin"}) in role_sets
    assert frozenset({"teacher", "staff", "district_admin"}) in role_sets
    # students and contacts never share a user object with other roles
    assert all(len(r) == 1 for r in role_sets if r & {"student", "contact"})
    staff_titles = [u["roles"]["staff"].get("title", "<missing>") for u in by_role["staff"]]
    for title in ("Principal", "Assistant Principal", "", "<missing>", "Counselor", "Librarian"):
        assert title in staff_titles
    teacher_titles = {u["roles"]["teacher"].get("title", "<missing>") for u in by_role["teacher"]}
    assert "" in teacher_titles and "<missing>" in teacher_titles
    assert any(re.fullmatch(r"Grade \d+ Teacher", t) for t in teacher_titles)
    da_titles = {u["roles"]["district_admin"].get("title", "<missing>") for u in by_role["district_admin"]}
    assert "Superintendent" in da_titles and "District Administrator" in da_titles
    assert any("email" not in u for u in district.staff_like_users())
    names = " ".join(f"{u['name']['first']} {u['name']['last']}" for u in district.users)
    assert "'" in names and re.search(r"[éëñóíáöü]", names)
    assert all("schools" not in u["roles"]["district_admin"] for u in by_role["district_admin"])


def test_sections_terms_courses(district: District) -> None:
    teacher_ids = {u["id"] for u in district.users_by_role()["teacher"]}
    student_ids = {u["id"] for u in district.students}
    term_ids, course_ids = {t["id"] for t in district.terms}, {c["id"] for c in district.courses}
    school_ids = {s["id"] for s in district.schools}
    periods = set()
    for section in district.sections:
        assert section["school"] in school_ids
        assert section["teacher"] == section["teachers"][0] and set(section["teachers"]) <= teacher_ids
        assert set(section["students"]) <= student_ids and len(section["students"]) <= 8
        assert section["term_id"] is None or section["term_id"] in term_ids
        assert section["course"] in course_ids
        assert "classroom" in section["ext"]
        periods.add(section["period"])
    assert {"1", "8", "Homeroom"} <= periods
    assert any(len(s["teachers"]) > 1 for s in district.sections)
    assert any(s["term_id"] is None for s in district.sections)
    assert any("start_date" not in t and "name" in t for t in district.terms)  # a term with only a name
    assert any("start_date" in t and "end_date" in t for t in district.terms)


def test_bell_schedule_in_district_ext(district: District) -> None:
    bell = district.district["ext"]["bell_schedule"]
    school_ids = {s["id"] for s in district.schools}
    assert bell and set(bell) <= school_ids and len(bell) < len(school_ids)
    for periods in bell.values():
        for p in periods:
            assert re.fullmatch(r"\d\d:\d\d", p["start"]) and p["start"] < p["end"]
        assert [p["period"] for p in periods][-8:] == [str(i) for i in range(1, 9)]


def test_size_per_school(district: District) -> None:
    per_school = len(district.staff_like_users()) / len(district.schools)
    assert 50 <= per_school <= 70
    assert 150 <= len(district.sections) / len(district.schools) <= 250
    assert 20 <= len(district.students) / len(district.schools) <= 40


def test_live_ids_strictly_increase_and_lead_with_time() -> None:
    now = [1_750_000_000.0]
    ids = LiveIds("abcdef0123", clock=lambda: now[0], floor="68000000aaaaaaaaaa000000")
    seen = [ids.next() for _ in range(5)]
    now[0] -= 100  # clock going backwards must not break ordering
    seen += [ids.next() for _ in range(3)]
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert id_timestamp(seen[0]) == 1_750_000_000
