from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_gateway_support import (
    ADMIN_TOKEN,
    DISTRICT,
    FINGERPRINT,
    OTHER_ADMIN_TOKEN,
    OTHER_DISTRICT,
    Harness,
)

from domain.entities import BellPeriod, BellSchedule, ScheduleSource
from storage.schedules import save_schedule
from storage.tables import audit_log, classrooms, terms

STAFF = "5b2ad81a709e300001e2c0a1"
TWIN = "5b2ad81a709e300001e2c0a2"
UNKNOWN_STAFF = "5b2ad81a709e300001e2c0ff"
SCHOOL = "5b2ad81a709e300001e2c051"
SCHOOL_2 = "5b2ad81a709e300001e2c052"
FOREIGN_SCHOOL = "5b2ad81a709e300001e2c059"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        harness.add_district()
        harness.add_district(OTHER_DISTRICT)
        yield harness


def pages(h: Harness, path: str, key: str = "staff", **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a keyset-paginated listing, following `next`."""
    collected, after = [], None
    while True:
        query = {**params, **({"after": after} if after else {})}
        body = h.client.get(path, params=query, headers=h.admin()).json()
        collected.append(body[key])
        after = body["next"]
        if after is None:
            return collected


# --- listings -------------------------------------------------------------------------------


def test_staff_pages_cover_every_active_row_of_the_district_once(h: Harness) -> None:
    for n in range(5):
        h.add_staff(f"u{n}")
    h.add_staff("gone", active=False)
    h.add_staff("foreign", district_id=OTHER_DISTRICT)
    got = pages(h, f"/v1/districts/{DISTRICT}/staff", limit=2)
    assert [[row["id"] for row in page] for page in got] == [["u0", "u1"], ["u2", "u3"], ["u4"]]
    with_inactive = pages(h, f"/v1/districts/{DISTRICT}/staff", limit=50, include_inactive="true")
    assert [row["id"] for row in with_inactive[0]] == ["u0", "u1", "u2", "u3", "u4", "gone"]
    assert with_inactive[0][-1]["active"] is False


def test_staff_row_shows_roles_and_why(h: Harness) -> None:
    h.add_staff(
        "p1",
        synced_role="SCHOOL_ADMIN",
        role_reason="title 'Principal'",
        titles=["Principal"],
        school_clever_ids=["s1", "s2"],
        role_school_clever_ids=["s1"],
    )
    [row] = h.client.get(f"/v1/districts/{DISTRICT}/staff", headers=h.admin()).json()["staff"]
    assert row["synced_role"] == "SCHOOL_ADMIN" and row["override_role"] is None
    assert row["role"] == "SCHOOL_ADMIN" and row["role_reason"] == "title 'Principal'"
    assert (row["titles"], row["schools"], row["role_schools"]) == (["Principal"], ["s1", "s2"], ["s1"])
    assert row["active"] is True


def test_other_listings_are_scoped_to_the_district(h: Harness) -> None:
    h.add_school("s1")
    h.add_school("s9", district_id=OTHER_DISTRICT)
    with h.rt.engine.begin() as conn:
        conn.execute(
            classrooms.insert().values(
                district_id=DISTRICT,
                clever_id="c1",
                source_position="p",
                school_clever_id="s1",
                name="Algebra",
                period="1",
                teacher_clever_ids=["u1"],
            )
        )
        conn.execute(
            terms.insert().values(
                district_id=DISTRICT,
                clever_id="t1",
                source_position="p",
                name="Fall",
                start_date="2024-08-20",
                end_date="2024-12-20",
            )
        )
    base = f"/v1/districts/{DISTRICT}"
    schools = h.client.get(f"{base}/schools", headers=h.admin()).json()
    assert [s["id"] for s in schools["schools"]] == ["s1"] and schools["next"] is None
    [classroom] = h.client.get(f"{base}/classrooms", headers=h.admin()).json()["classrooms"]
    assert (classroom["id"], classroom["school_id"], classroom["teacher_ids"]) == ("c1", "s1", ["u1"])
    [term] = h.client.get(f"{base}/terms", headers=h.admin()).json()["terms"]
    assert (term["id"], term["start_date"]) == ("t1", "2024-08-20")
    assert h.client.get(f"/v1/districts/{'f' * 24}/staff", headers=h.admin()).status_code == 404


def test_bad_cursor_is_422(h: Harness) -> None:
    response = h.client.get(f"/v1/districts/{DISTRICT}/staff", params={"after": "abc"}, headers=h.admin())
    assert response.status_code == 422


# --- role override --------------------------------------------------------------------------


def test_override_sets_only_the_override_columns_and_is_audited(h: Harness) -> None:
    h.add_staff(STAFF)
    before = h.staff_row(STAFF)
    response = h.client.patch(f"/v1/staff/{STAFF}", json={"role": "SCHOOL_ADMIN"}, headers=h.admin())
    assert response.status_code == 200
    body = response.json()
    assert (body["synced_role"], body["override_role"], body["role"]) == (
        "CONTRIBUTOR",
        "SCHOOL_ADMIN",
        "SCHOOL_ADMIN",
    )
    after = h.staff_row(STAFF)
    assert after.override_set_by == f"admin:{FINGERPRINT}" and after.override_set_at is not None
    untouched = ("synced_role", "role_reason", "content_hash", "source_position", "updated_at")
    assert all(getattr(after, name) == getattr(before, name) for name in untouched)
    with h.rt.engine.connect() as conn:
        [audit] = conn.execute(select(audit_log)).all()
    assert (audit.district_id, audit.action, audit.subject) == (DISTRICT, "staff.role_override_set", STAFF)
    assert audit.actor == f"admin:{FINGERPRINT}" and ADMIN_TOKEN not in str(audit.details)
    assert audit.details == {"from": None, "to": "SCHOOL_ADMIN"}


def test_override_cleared_with_null(h: Harness) -> None:
    h.add_staff(STAFF, override_role="RESTRICTED_VIEWER", override_set_by="admin:x")
    response = h.client.patch(f"/v1/staff/{STAFF}", json={"role": None}, headers=h.admin(OTHER_ADMIN_TOKEN))
    assert (response.json()["override_role"], response.json()["role"]) == (None, "CONTRIBUTOR")
    row = h.staff_row(STAFF)
    assert (row.override_role, row.override_set_by, row.override_set_at) == (None, None, None)


@pytest.mark.parametrize("body", [{"role": "KING"}, {"role": 3}, {"roles": "SCHOOL_ADMIN"}, {}])
def test_override_with_an_invalid_role_is_422(h: Harness, body: dict[str, Any]) -> None:
    h.add_staff(STAFF)
    response = h.client.patch(f"/v1/staff/{STAFF}", json=body, headers=h.admin())
    assert response.status_code == 422
    assert h.staff_row(STAFF).override_role is None


def test_override_of_unknown_or_ambiguous_staff(h: Harness) -> None:
    assert (
        h.client.patch(f"/v1/staff/{UNKNOWN_STAFF}", json={"role": None}, headers=h.admin()).status_code
        == 404
    )
    h.add_staff(TWIN)
    h.add_staff(TWIN, district_id=OTHER_DISTRICT)
    ambiguous = h.client.patch(f"/v1/staff/{TWIN}", json={"role": "CONTRIBUTOR"}, headers=h.admin())
    assert ambiguous.status_code == 409
    scoped = h.client.patch(
        f"/v1/staff/{TWIN}?district_id={OTHER_DISTRICT}", json={"role": "CONTRIBUTOR"}, headers=h.admin()
    )
    assert scoped.status_code == 200


# --- bell schedules -------------------------------------------------------------------------


def schedules(h: Harness) -> dict[str, dict[str, Any]]:
    body = h.client.get(f"/v1/districts/{DISTRICT}/bell-schedules", headers=h.admin()).json()
    items = body["bell_schedules"]
    return {item["school_id"]: item for item in items}


def test_manual_schedule_wins_over_clever_until_deleted(h: Harness) -> None:
    h.add_school(SCHOOL)
    h.add_school(SCHOOL_2)
    clever = BellSchedule(SCHOOL, ScheduleSource.CLEVER, (BellPeriod("1", "08:00", "08:50"),))
    with h.rt.engine.begin() as conn:
        save_schedule(conn, DISTRICT, clever)
    assert schedules(h)[SCHOOL]["source"] == "clever"
    assert schedules(h)[SCHOOL_2] == {
        "school_id": SCHOOL_2,
        "school_name": f"School {SCHOOL_2}",
        "source": None,
        "periods": [],
        "has_manual": False,
        "has_clever": False,
    }
    manual = {
        "periods": [
            {"label": "Homeroom", "start": "07:45", "end": "08:05"},
            {"label": "1", "start": "08:10", "end": "09:00"},
        ]
    }
    path = f"/v1/districts/{DISTRICT}/schools/{SCHOOL}/bell-schedule"
    saved = h.client.put(path, json=manual, headers=h.admin())
    assert saved.status_code == 200 and saved.json()["has_clever"] is True
    s1 = schedules(h)[SCHOOL]
    assert (s1["source"], s1["has_manual"], s1["has_clever"]) == ("manual", True, True)
    assert s1["periods"] == manual["periods"]
    assert h.client.delete(path, headers=h.admin()).status_code == 204
    assert schedules(h)[SCHOOL]["source"] == "clever"
    assert h.client.delete(path, headers=h.admin()).status_code == 404


@pytest.mark.parametrize(
    "periods",
    [
        [{"label": "1", "start": "8:00", "end": "08:50"}],
        [{"label": "1", "start": "24:00", "end": "24:30"}],
        [{"label": "1", "start": "09:00", "end": "09:00"}],
        [{"label": "1", "start": "10:00", "end": "09:00"}],
        [{"label": "", "start": "08:00", "end": "09:00"}],
        [{"label": "1", "start": "08:00"}],
        [],
    ],
)
def test_invalid_manual_schedule_is_422(h: Harness, periods: list[dict[str, str]]) -> None:
    h.add_school(SCHOOL)
    path = f"/v1/districts/{DISTRICT}/schools/{SCHOOL}/bell-schedule"
    assert h.client.put(path, json={"periods": periods}, headers=h.admin()).status_code == 422
    assert schedules(h)[SCHOOL]["source"] is None


def test_manual_schedule_needs_a_school_of_the_district(h: Harness) -> None:
    h.add_school(FOREIGN_SCHOOL, district_id=OTHER_DISTRICT)
    body = {"periods": [{"label": "1", "start": "08:00", "end": "09:00"}]}
    path = f"/v1/districts/{DISTRICT}/schools/{FOREIGN_SCHOOL}/bell-schedule"
    response = h.client.put(path, json=body, headers=h.admin())
    assert response.status_code == 404
    assert response.json() == {"error": "school not found"}
