"""Users removed from Clever are deactivated by the next full sync and restored when they come
back; a mass removal is held for review instead of applied."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from storage.tables import staff_users

pytestmark = pytest.mark.e2e


def active_of(stack: Any, clever_ids: list[str]) -> dict[str, bool]:
    with stack.engine.connect() as conn:
        rows = conn.execute(
            select(staff_users.c.clever_id, staff_users.c.active).where(
                staff_users.c.clever_id.in_(clever_ids)
            )
        )
        return {cid: active for cid, active in rows}


def sync_and_wait(stack: Any, district_id: str, runs_before: int) -> Any:
    with stack.admin() as admin:
        assert admin.post(f"/v1/districts/{district_id}/sync").status_code == 202
    return stack.wait_for_runs(district_id, runs_before + 1)[-1]


def test_a_removed_user_is_deactivated_and_restored_when_it_comes_back(make_stack: Any) -> None:
    stack = make_stack(schools=2)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)
    users = {u["id"]: u for u in stack.sim.snapshot()["users"]}

    (removed,) = stack.sim.remove_users(district_id, role="teacher", count=1)
    run = sync_and_wait(stack, district_id, 1)
    assert run["status"] == "succeeded", run["error"]
    assert run["counters"]["staff"]["deactivated"] == 1
    assert active_of(stack, [removed]) == {removed: False}

    stack.sim.mutate(district_id, op="create", resource="users", data=users[removed])
    run = sync_and_wait(stack, district_id, 2)
    assert run["status"] == "succeeded", run["error"]
    assert run["counters"]["staff"]["restored"] == 1
    assert active_of(stack, [removed]) == {removed: True}


def test_a_mass_removal_is_held_until_an_admin_approves_it(make_stack: Any) -> None:
    stack = make_stack(schools=2)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)
    teachers = len(stack.sim.snapshot()["users_by_role"]["teacher"])

    removed = stack.sim.remove_users(district_id, role="teacher", count=teachers // 2)
    run = sync_and_wait(stack, district_id, 1)
    assert run["status"] == "held"
    assert set(active_of(stack, removed).values()) == {True}, "a held run must deactivate nothing"

    with stack.admin() as admin:
        approved = admin.post(f"/v1/runs/{run['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert set(active_of(stack, removed).values()) == {False}
