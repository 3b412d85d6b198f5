"""What the database must hold after a full sync of a simulated district, derived from the
simulator's own snapshot with the role rules of the design written out independently."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, text

from storage.tables import classrooms, metadata, staff_users, tenants, terms

STAFF_ROLES = ("district_admin", "staff", "teacher")


def expected_role(user: dict[str, Any], principal_emails: set[str]) -> str:
    roles = user.get("roles") or {}
    titles = [str((r or {}).get("title") or "") for r in roles.values() if isinstance(r, dict)]
    email = (user.get("email") or "").strip().lower()
    if "district_admin" in roles or any(re.search("district administrator", t, re.I) for t in titles):
        return "DISTRICT_ADMIN"
    if email in principal_emails or any(
        re.search(r"\bprincipal\b(?!')|school administrator", t, re.I) for t in titles
    ):
        return "SCHOOL_ADMIN"
    staff_title = str((roles.get("staff") or {}).get("title") or "")
    if "teacher" in roles or (
        "staff" in roles and (not staff_title or re.search("teacher|staff", staff_title, re.I))
    ):
        return "CONTRIBUTOR"
    return "RESTRICTED_VIEWER"


def staff_of(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["id"]: u for u in snapshot["users"] if any(r in (u.get("roles") or {}) for r in STAFF_ROLES)}


def active_rows(conn: Connection, table: Table, district_id: str) -> dict[str, Any]:
    query = select(table).where(table.c.district_id == district_id, table.c.active)
    return {row.clever_id: row for row in conn.execute(query)}


def assert_database_matches(engine: Engine, district_id: str, snapshot: dict[str, Any]) -> None:
    principal_emails = {
        (s.get("principal") or {}).get("email", "").strip().lower()
        for s in snapshot["schools"]
        if (s.get("principal") or {}).get("email")
    }
    expected_staff = staff_of(snapshot)
    with engine.connect() as conn:
        staff, schools, rooms, term_rows = (
            active_rows(conn, table, district_id) for table in (staff_users, tenants, classrooms, terms)
        )
    assert set(staff) == set(expected_staff), "staff users differ from the simulator's"
    wrong_roles = {
        cid: (row.synced_role, expected_role(expected_staff[cid], principal_emails))
        for cid, row in staff.items()
        if row.synced_role != expected_role(expected_staff[cid], principal_emails)
    }
    assert not wrong_roles, f"roles differ: {wrong_roles}"
    for cid, row in staff.items():
        user = expected_staff[cid]
        assert (row.first_name, row.last_name) == (user["name"]["first"], user["name"]["last"])
        assert row.email == (user.get("email") or None)
    assert set(schools) == {s["id"] for s in snapshot["schools"]} | {district_id}
    for school in snapshot["schools"]:
        row = schools[school["id"]]
        assert (row.kind, row.parent_clever_id, row.name) == ("school", district_id, school["name"])
    assert set(rooms) == {s["id"] for s in snapshot["sections"]}
    for section in snapshot["sections"]:
        row = rooms[section["id"]]
        teachers = section.get("teachers") or [section["teacher"]]
        primary = section.get("teacher") or teachers[0]
        assert row.teacher_clever_ids[0] == primary
        assert set(row.teacher_clever_ids) == set(teachers) | {primary}
        assert row.period == (section.get("period") or None)
        assert row.term_clever_id == (section.get("term_id") or None)
        assert row.school_clever_id == section["school"]
    assert set(term_rows) == {t["id"] for t in snapshot["terms"]}


def assert_no_student_data(engine: Engine, snapshot: dict[str, Any], requests: list[dict[str, Any]]) -> None:
    """Not one student or contact id in any table, and never asked for."""
    private = [
        u["id"] for u in snapshot["users"] if {"student", "contact"} & set((u.get("roles") or {}).keys())
    ]
    assert private, "the simulated district must have students and contacts to prove anything"
    pattern = re.compile("|".join(private))
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for (row_text,) in conn.execute(text(f'SELECT row_to_json(t)::text FROM "{table.name}" t')):
                match = pattern.search(row_text)
                assert match is None, f"student/contact id {match.group(0)} stored in {table.name}"
    for request in requests:
        query = dict(request["query"])
        path = request["path"]
        assert query.get("role") not in ("student", "contact"), f"asked for {query.get('role')}s"
        assert not re.search(r"students|contacts|mystudents|mycontacts", path), f"requested {path}"
        if path.rstrip("/").endswith("/users"):
            assert query.get("role") in STAFF_ROLES, "listed users without a staff-side role filter"
