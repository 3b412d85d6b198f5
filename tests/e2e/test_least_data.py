"""Least data, end to end: connecting asks Clever only for the scopes the product uses, so the
scope-honouring simulator serves no student or contact object at all; and when Clever over-shares
anyway, nothing about students is stored."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import wait_until
from expectations import assert_no_student_data
from sqlalchemy import select

from clever_client.oauth import SCOPES
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.events_poller import poll_district
from storage.tables import classrooms

pytestmark = pytest.mark.e2e


def student_changes(stack: Any, period: str) -> str:
    """A new student, and a section whose enrolment and period change; returns the section id."""
    district_id = stack.sim.district.id
    snapshot = stack.sim.snapshot()
    section = next(s for s in snapshot["sections"] if s.get("students"))
    student = {"roles": {"student": {"school": section["school"], "grade": "4", "sis_id": "S-9"}}}
    stack.sim.mutate(
        district_id,
        {"op": "create", "resource": "users", "data": student},
        {"op": "update", "resource": "sections", "id": section["id"],
         "data": {"period": period, "students": section["students"][1:]}},
    )  # fmt: skip
    return str(section["id"])


def poll_and_wait(stack: Any, section_id: str, period: str) -> None:
    """The events poller, as the scheduler runs it; the worker applies what it published."""
    settings = Settings.from_env(stack.env)
    broker = make_broker(settings.broker_url)
    rt = Runtime(settings, broker=broker)
    try:
        assert poll_district(rt, stack.sim.district.id).published >= 1
    finally:
        broker.close()
        rt.engine.dispose()

    def applied() -> bool:
        with stack.engine.connect() as conn:
            query = select(classrooms.c.period).where(classrooms.c.clever_id == section_id)
            return conn.execute(query).scalar() == period

    wait_until(applied, what="the section event to be applied")


def test_least_scopes_mean_no_student_object_is_ever_served(make_stack: Any) -> None:
    stack = make_stack(schools=2)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    (run,) = stack.wait_for_runs(district_id, 1)
    assert run["status"] == "succeeded", run["error"]
    assert stack.sim.token_scopes() == list(SCOPES)

    poll_and_wait(stack, student_changes(stack, "P-honoured"), "P-honoured")
    assert stack.sim.student_objects_served() == 0
    assert_no_student_data(stack.engine, stack.sim.snapshot(), stack.sim.requests())

    # Clever over-shares: student events reach the poller, which drops them before RabbitMQ.
    stack.sim.set_overshare(True)
    stack.sim.clear_requests()
    poll_and_wait(stack, student_changes(stack, "P-overshared"), "P-overshared")
    assert stack.sim.student_objects_served() >= 1
    assert_no_student_data(stack.engine, stack.sim.snapshot(), stack.sim.requests())
