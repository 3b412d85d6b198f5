"""Several Clever events in one transaction on real PostgreSQL: each keeps its own position,
so the rows end as they would after applying the events one at a time."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from domain.events import parse_event
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.apply_event import SourcedEvent, apply_event, apply_events
from storage import connections
from storage.tables import classrooms, staff_users

DISTRICT = "5a0c0b7e8f1d2c3b4a596877"
GONE = "5a0c0b7e8f1d2c3b4a596800"  # a district that disconnected
_ids = itertools.count(0x6000000000000000000000A0)


@pytest.fixture
def rt(clean_postgres: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=clean_postgres, encryption_keys=()), broker=make_broker(None))
    with runtime.engine.begin() as conn:
        for district in (DISTRICT, GONE):
            connections.save_connection(
                conn, district, name="T", token_ciphertext="x:y", token_id=None, scopes=[], authorized_by=None
            )
        connections.update_district(conn, GONE, status="disconnected")
    yield runtime
    runtime.engine.dispose()


def teacher(n: int, last: str, district: str = DISTRICT) -> dict[str, Any]:
    return {
        "id": f"{n:024x}",
        "district": district,
        "name": {"first": "Ada", "last": last},
        "email": f"t{n}@example.org",
        "roles": {"teacher": {"title": "Teacher", "school": "s1", "schools": ["s1"]}},
    }


def event(obj: dict[str, Any], action: str = "updated", resource: str = "users") -> SourcedEvent:
    raw = {"id": f"{next(_ids):024x}", "type": f"{resource}.{action}", "data": {"object": obj}}
    return SourcedEvent(parse_event(raw), "webhook")


def staff(rt: Runtime) -> dict[str, tuple[str, bool]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(select(staff_users.c.clever_id, staff_users.c.last_name, staff_users.c.active))
        return {r.clever_id: (r.last_name, r.active) for r in rows}


def test_a_batch_ends_as_the_events_one_at_a_time_would(rt: Runtime) -> None:
    older, newer = event(teacher(1, "Older")), event(teacher(1, "Newer"))
    created, deleted = event(teacher(2, "Two"), "created"), event(teacher(2, "Two"), "deleted")
    still_staff = event(teacher(3, "Three"))
    no_longer_staff = event({**teacher(3, "Three"), "roles": {}})
    lost_then_back = [event({**teacher(4, "Four"), "roles": {}}), event(teacher(4, "Four"))]
    batch = [newer, older, deleted, created, no_longer_staff, still_staff, *reversed(lost_then_back)]
    assert apply_events(rt, batch) == ["applied"] * 8
    rows = staff(rt)
    assert rows[f"{1:024x}"] == ("Newer", True), "the newest event wins whatever the order in the batch"
    assert rows[f"{2:024x}"] == ("Two", False), "a delete after the create leaves a tombstone"
    assert rows[f"{3:024x}"] == ("Three", False), "losing every staff role deactivates"
    assert rows[f"{4:024x}"] == ("Four", True), "a newer event giving the role back wins"


def test_duplicates_noise_and_other_districts_are_told_apart_in_one_batch(rt: Runtime) -> None:
    first = event(teacher(1, "One"))
    again = SourcedEvent(first.event, "poll")
    section = {"id": "c" * 24, "district": DISTRICT, "school": "s1", "name": "Math"}
    noise = event(section, resource="sections")  # no previous_attributes: nothing we keep changed
    elsewhere = event(teacher(5, "Five", district=GONE))
    unknown = event(teacher(6, "Six", district="f" * 24))
    outcomes = apply_events(rt, [first, again, noise, elsewhere, unknown])
    assert outcomes == ["applied", "duplicate", "noise", "disconnected", "unknown_district"]
    assert (
        apply_event(
            rt,
            dict(first.event.__dict__ | {"data": {"object": first.event.object}}) | {"type": "users.updated"},
            source="poll",
        )
        == "duplicate"
    )
    assert set(staff(rt)) == {f"{1:024x}"}
    with rt.engine.connect() as conn:
        assert conn.execute(select(classrooms.c.clever_id)).all() == []


def test_a_school_event_in_the_batch_counts_for_the_users_after_it(rt: Runtime) -> None:
    school = {
        "id": "5" * 24,
        "district": DISTRICT,
        "name": "Lincoln Elementary",
        "principal": {"name": "Ada B", "email": "T7@Example.org"},
    }
    user_first, school_event = event(teacher(7, "Seven")), event(school, "created", resource="schools")
    assert apply_events(rt, [user_first, school_event]) == ["applied", "applied"]
    with rt.engine.connect() as conn:
        role, schools = conn.execute(
            select(staff_users.c.synced_role, staff_users.c.role_school_clever_ids)
        ).one()
    assert (role, schools) == ("SCHOOL_ADMIN", ["5" * 24])


def test_an_event_that_changes_nothing_stored_writes_nothing(rt: Runtime) -> None:
    apply_events(rt, [event(teacher(8, "Eight"))])
    columns = (staff_users.c.updated_at, staff_users.c.source_position, staff_users.c.source_hash)
    with rt.engine.connect() as conn:
        before = conn.execute(select(*columns)).one()
    # Clever fields the mapping does not read: the row is what it was, position and source hash
    # included (the next sync maps this object again and records its hash then).
    unread_field = event({**teacher(8, "Eight"), "sis_id": "new-sis-id", "last_modified": "2026-11-30"})
    assert apply_events(rt, [unread_field]) == ["applied"]
    with rt.engine.connect() as conn:
        assert conn.execute(select(*columns)).one() == before
