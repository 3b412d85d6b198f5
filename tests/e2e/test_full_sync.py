"""Connect a district through the real OAuth flow and sync it in full through the gateway,
RabbitMQ and worker processes, against PostgreSQL and the Clever simulator."""

from __future__ import annotations

from typing import Any

import pytest
from expectations import assert_database_matches, assert_no_student_data
from sqlalchemy import select, text

from storage.planner_statistics import BULK_ROWS
from storage.tables import districts, staff_users

pytestmark = pytest.mark.e2e


def totals(run: Any, outcome: str) -> int:
    return sum(c.get(outcome, 0) for c in (run["counters"] or {}).values())


def test_connecting_a_district_syncs_everything_and_nothing_about_students(make_stack: Any) -> None:
    stack = make_stack(schools=10)
    page = stack.connect_via_oauth()
    assert page.status_code == 200 and "/connect/" in str(page.url)

    district_id = stack.sim.district.id
    (run,) = stack.wait_for_runs(district_id, 1)
    assert run["status"] == "succeeded", run["error"]
    assert run["kind"] == "full"
    snapshot = stack.sim.snapshot()
    assert_database_matches(stack.engine, district_id, snapshot)
    assert_no_student_data(stack.engine, snapshot, stack.sim.requests())
    assert totals(run, "created") > 0

    with stack.engine.connect() as conn:
        connection = conn.execute(select(districts).where(districts.c.id == district_id)).one()
    assert connection.status == "active"
    assert connection.token_ciphertext and stack.sim.district.token not in connection.token_ciphertext

    with stack.admin() as admin:
        summary = admin.get(f"/v1/districts/{district_id}").json()
        listed_runs = admin.get(f"/v1/districts/{district_id}/runs").json()
        schedules = admin.get(f"/v1/districts/{district_id}/bell-schedules", params={"limit": 200}).json()
    assert stack.sim.district.token not in str(summary)
    assert listed_runs["runs"][0]["status"] == "succeeded"

    # Bell schedules: from the district's ext field where it has one, else the sections' periods.
    carried = snapshot["district"]["ext"]["bell_schedule"]
    by_school = {s["school_id"]: s for s in schedules["bell_schedules"]}
    assert set(by_school) == {s["id"] for s in snapshot["schools"]}
    for school_id, schedule in by_school.items():
        assert schedule["source"] == "clever"
        if school_id in carried:
            expected = [(p["period"], p["start"], p["end"]) for p in carried[school_id]]
            assert [(p["label"], p["start"], p["end"]) for p in schedule["periods"]] == expected
        else:
            periods = {s.get("period") for s in snapshot["sections"] if s["school"] == school_id}
            assert {p["label"] for p in schedule["periods"]} == periods - {None, ""}

    # The first sync filled the classrooms: the planner counts them at once, not when
    # autovacuum next wakes. The 11 tenants are too few to be worth an ANALYZE.
    with stack.engine.connect() as conn:
        counted = dict(
            conn.execute(
                text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('classrooms', 'tenants')")
            ).all()
        )
        classrooms = conn.execute(text("SELECT count(*) FROM classrooms")).scalar_one()
    assert classrooms >= BULK_ROWS and counted["classrooms"] == classrooms
    assert counted["tenants"] <= 0


def test_a_replayed_connect_and_a_resync_change_nothing_and_keep_manual_roles(make_stack: Any) -> None:
    stack = make_stack(schools=2)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)

    with stack.engine.connect() as conn:
        teacher = conn.execute(
            select(staff_users.c.clever_id).where(staff_users.c.synced_role == "CONTRIBUTOR").limit(1)
        ).scalar_one()
    with stack.admin() as admin:
        changed = admin.patch(f"/v1/staff/{teacher}", json={"role": "SCHOOL_ADMIN"})
        assert changed.status_code == 200, changed.text
        requested = admin.post(f"/v1/districts/{district_id}/sync")
        assert requested.status_code == 202

    second = stack.wait_for_runs(district_id, 2)[-1]
    assert second["status"] == "succeeded", second["error"]
    assert totals(second, "created") == totals(second, "updated") == totals(second, "deactivated") == 0
    assert totals(second, "unchanged") > 0
    with stack.engine.connect() as conn:
        row = conn.execute(select(staff_users).where(staff_users.c.clever_id == teacher)).one()
        connections = conn.execute(select(districts)).all()
    assert (row.synced_role, row.override_role) == ("CONTRIBUTOR", "SCHOOL_ADMIN")
    assert len(connections) == 1
