"""Operators' commands run as an operator runs them (`rostersync sync|approve|discard|disconnect|
purge|runs` in a shell) against a deployment: PostgreSQL, RabbitMQ, the simulator, the gateway and
a worker process."""

from __future__ import annotations

import getpass
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select

from storage.tables import audit_log, deletion_receipts, districts, staff_users

pytestmark = pytest.mark.e2e

OPERATOR = f"cli:{getpass.getuser()}"


def cli(stack: Any, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rostersync.cli", *args],
        env={**stack.env, "COLUMNS": "80"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line_failure(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The command failed with exactly one line on stderr and no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def audit_actions(stack: Any, district_id: str) -> list[tuple[str, str]]:
    with stack.engine.connect() as conn:
        query = select(audit_log.c.actor, audit_log.c.action).where(audit_log.c.district_id == district_id)
        return [(r.actor, r.action) for r in conn.execute(query.order_by(audit_log.c.id))]


def test_sync_runs_and_the_held_run_decisions_from_the_command_line(make_stack: Any) -> None:
    stack = make_stack(schools=2)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)

    synced = cli(stack, "sync", district_id, "--kind", "reconcile")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.startswith("sync requested: run ")
    run = stack.wait_for_runs(district_id, 2)[-1]
    assert (run["kind"], run["status"], run["requested_by"]) == ("reconcile", "succeeded", OPERATOR)
    assert (OPERATOR, "sync.requested") in audit_actions(stack, district_id)

    # Nothing held yet: approve and discard refuse in one line and change nothing.
    assert "has no run held for review" in one_line_failure(cli(stack, "approve", district_id))

    # A mass removal is held by the deletion guard; a new request waits for the decision.
    teachers = len(stack.sim.snapshot()["users_by_role"]["teacher"])
    removed = stack.sim.remove_users(district_id, role="teacher", count=teachers // 2)
    assert cli(stack, "sync", district_id).returncode == 0
    held = stack.wait_for_runs(district_id, 3)[-1]
    assert held["status"] == "held", held["error"]
    refusal = one_line_failure(cli(stack, "sync", district_id))
    assert f"rostersync approve {district_id}" in refusal

    discarded = cli(stack, "discard", district_id)
    assert discarded.returncode == 0, discarded.stderr
    assert discarded.stdout.strip() == f"run {held['id']} discarded: discarded"
    with stack.engine.connect() as conn:
        active = conn.execute(
            select(staff_users.c.active).where(staff_users.c.clever_id.in_(removed))
        ).scalars()
        assert set(active) == {True}, "a discarded run deactivates nothing"

    assert cli(stack, "sync", district_id).returncode == 0
    assert stack.wait_for_runs(district_id, 4)[-1]["status"] == "held"
    approved = cli(stack, "approve", district_id)
    assert approved.returncode == 0, approved.stderr
    assert "approved: succeeded" in approved.stdout
    with stack.engine.connect() as conn:
        active = conn.execute(
            select(staff_users.c.active).where(staff_users.c.clever_id.in_(removed))
        ).scalars()
        assert set(active) == {False}
    actions = audit_actions(stack, district_id)
    assert (OPERATOR, "sync.discarded") in actions and (OPERATOR, "sync.approved") in actions

    listing = cli(stack, "runs", district_id)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert sum(district_id in line for line in lines) == 4  # one row per run
    assert "staff deactivated=" in listing.stdout and "discarded" in listing.stdout


def test_disconnect_and_purge_refuse_unknown_districts_and_purge_asks_first(make_stack: Any) -> None:
    stack = make_stack(schools=1)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)
    unknown = "0" * 24

    for command in (
        ("sync", unknown),
        ("approve", unknown),
        ("disconnect", unknown),
        ("purge", unknown, "--yes"),
    ):
        assert one_line_failure(cli(stack, *command)).endswith(f"unknown district {unknown}")
    with stack.engine.connect() as conn:
        receipts = conn.execute(select(deletion_receipts.c.district_id)).scalars().all()
    assert receipts == [], "no receipt for a district that never existed"

    # Without --yes the purge asks for the district id; any other answer deletes nothing.
    cancelled = cli(stack, "purge", district_id, stdin="yes\n")
    assert cancelled.returncode == 1 and "Traceback" not in cancelled.stderr
    assert cancelled.stderr.strip().splitlines()[-1].endswith("purge cancelled: nothing was deleted")
    with stack.engine.connect() as conn:
        assert (
            conn.execute(select(districts.c.status).where(districts.c.id == district_id)).scalar() == "active"
        )

    disconnected = cli(stack, "disconnect", district_id)
    assert disconnected.returncode == 0, disconnected.stderr
    with stack.engine.connect() as conn:
        row = conn.execute(select(districts).where(districts.c.id == district_id)).one()
    assert (row.status, row.token_ciphertext) == ("disconnected", None)
    assert (OPERATOR, "district.disconnected") in audit_actions(stack, district_id)
    assert "is disconnected" in one_line_failure(cli(stack, "sync", district_id))

    purged = cli(stack, "purge", district_id, stdin=f"{district_id}\n")
    assert purged.returncode == 0, purged.stderr
    with stack.engine.connect() as conn:
        assert conn.execute(select(districts.c.id).where(districts.c.id == district_id)).first() is None
        assert (
            conn.execute(select(staff_users.c.id).where(staff_users.c.district_id == district_id)).first()
            is None
        )
        receipt = conn.execute(select(deletion_receipts)).one()
    assert (receipt.district_id, receipt.requested_by) == (district_id, OPERATOR)
