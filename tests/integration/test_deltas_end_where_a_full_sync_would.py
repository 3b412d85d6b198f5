"""Deltas end where a full sync would, on real PostgreSQL against the simulator over HTTP.

Changes are made through the simulator's mutation API, polled from its Events API and applied
as the events worker applies them; then a full sync runs through the same services the ingest,
apply and reconcile actors call, and must change nothing for the rows the events wrote. The
messages travel through an in-process broker that the test drains itself, one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from domain.mapping import map_user
from domain.positions import position_from_time
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.apply import apply_page
from services.apply_event import apply_event
from services.events_poller import poll_district
from services.finish_run import finish_run
from services.ingest import ingest_run
from services.sync_requests import request_sync
from simulator.state import SimulatorState
from simulator.testing import FakeClock, in_process_simulator
from storage import connections, runs
from storage.tables import processed_messages, staff_users, terms
from storage.upserts import upsert_entities

A_YEAR = 365 * 24 * 3600


class Deployment:
    """A district connected to the simulator, with the messages its actors would consume."""

    def __init__(self, rt: Runtime, client: httpx.Client, state: SimulatorState, clock: FakeClock) -> None:
        self.rt, self.client, self.state, self.clock = rt, client, state, clock
        self.district_id = next(iter(state.districts))
        self.outcomes: list[str] = []
        self.pages: list[dict[str, Any]] = []  # every apply_page message's arguments, in order
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ingest_run": lambda kw: ingest_run(rt, kw["run_id"], kw["generation"]),
            "apply_page": lambda kw: (self.pages.append(kw), apply_page(rt, **kw)),
            "finish_run": lambda kw: finish_run(rt, kw["run_id"], kw["generation"]),
            "apply_event": lambda kw: self.outcomes.append(apply_event(rt, kw["event"], source=kw["source"])),
        }

    def drain(self) -> None:
        """Consume every queued message, in order, until none is left."""
        broker = self.rt.broker
        assert broker is not None
        busy = True
        while busy:
            busy = False
            for queue in list(broker.queues.values()):
                while not queue.empty():
                    message = dramatiq.Message.decode(queue.get_nowait())
                    self._handlers[message.actor_name](dict(message.kwargs))
                    busy = True

    def full_sync(self) -> dict[str, Any]:
        ticket = request_sync(self.rt, self.district_id, kind="full", requested_by="test")
        self.drain()
        with self.rt.engine.connect() as conn:
            run = runs.get_run(conn, ticket.run_id)
        assert run is not None and run["status"] == "succeeded", run and run["error"]
        return dict(run)

    def mutate(self, *ops: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.post(f"/_sim/districts/{self.district_id}/mutate", json=list(ops))
        response.raise_for_status()
        return list(response.json()["results"])

    def poll_and_apply(self) -> list[str]:
        self.outcomes = []
        poll_district(self.rt, self.district_id)
        self.drain()
        return self.outcomes

    def snapshot(self) -> dict[str, Any]:
        return dict(self.client.get(f"/_sim/districts/{self.district_id}/snapshot").json())


@pytest.fixture
def deployment(clean_postgres: str) -> Iterator[Deployment]:
    # The simulator's clock makes its ids: it starts at this machine's time, and a test moves it on.
    clock = FakeClock(time.time())
    with in_process_simulator(schools=2, clock=clock) as (client, state):
        settings = Settings(
            database_url=clean_postgres,
            encryption_keys=(f"k1:{Fernet.generate_key().decode()}",),
            clever_api_base=str(client.base_url).rstrip("/"),
            clever_oauth_base=str(client.base_url).rstrip("/"),
            clever_client_id=state.config.client_id,
            clever_client_secret=state.config.client_secret,
        )
        rt = Runtime(settings, broker=make_broker(None))
        district_id = next(iter(state.districts))
        with rt.engine.begin() as conn:
            connections.save_connection(
                conn,
                district_id,
                name=None,
                token_ciphertext=rt.keyring.encrypt(state.token_of(district_id) or ""),
                token_id=None,
                scopes=[],
                authorized_by=None,
            )
        yield Deployment(rt, client, state, clock)
        rt.engine.dispose()


def staff_rows(dep: Deployment, *ids: str) -> dict[str, dict[str, Any]]:
    with dep.rt.engine.connect() as conn:
        rows = conn.execute(select(staff_users).where(staff_users.c.clever_id.in_(ids)))
        return {r.clever_id: dict(r._mapping) for r in rows}


def term_rows(dep: Deployment) -> dict[str, dict[str, Any]]:
    with dep.rt.engine.connect() as conn:
        return {r.clever_id: dict(r._mapping) for r in conn.execute(select(terms))}


WRITTEN = ("id", "content_hash", "source_position", "updated_at", "active")


def unchanged_by_the_sync(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    """The full sync found these rows as the events left them and wrote none of them."""
    for clever_id, row in before.items():
        columns = [k for k in (*WRITTEN, "synced_role", "role_reason", "role_school_clever_ids") if k in row]
        assert {k: after[clever_id][k] for k in columns} == {k: row[k] for k in columns}, clever_id


# ---------------------------------------------------------------------------------- positions


def test_a_row_pinned_by_a_future_position_is_repaired_by_the_next_full_sync(deployment: Deployment) -> None:
    dep = deployment
    dep.full_sync()
    teachers = dep.snapshot()["users_by_role"]["teacher"]
    pinned, same, tombstoned, left = (t["id"] for t in teachers[:4])
    future = position_from_time(datetime.now(UTC) + timedelta(days=365))
    with dep.rt.engine.begin() as conn:  # as the webhook let through before positions were bounded
        obj = next(u for u in teachers if u["id"] == pinned)
        stale = map_user({**obj, "name": {**obj["name"], "last": "Pinned"}}, principals={})
        assert stale is not None
        upsert_entities(conn, staff_users, dep.district_id, [stale], future)
        # Only the position moved: the row is otherwise exactly what its Clever object maps to.
        conn.execute(
            update(staff_users)
            .where(staff_users.c.clever_id.in_([same, left]))
            .values(source_position=future)
        )
        conn.execute(
            update(staff_users)
            .where(staff_users.c.clever_id == tombstoned)
            .values(active=False, deleted=True, source_position=future)
        )
    clever_last_name = next(u for u in teachers if u["id"] == pinned)["name"]["last"]
    dep.client.post(
        f"/_sim/districts/{dep.district_id}/users/remove", json={"ids": [left]}
    ).raise_for_status()

    second = dep.full_sync()

    rows = staff_rows(dep, pinned, same, tombstoned, left)
    assert rows[pinned]["last_name"] == clever_last_name, "the full sync wrote what Clever says"
    assert rows[tombstoned]["active"] and not rows[tombstoned]["deleted"], "the future tombstone is lifted"
    assert not rows[left]["active"], "gone from Clever, deactivated whatever its position said"
    assert {row["source_position"] for row in rows.values()} == {second["source_position"]}
    assert second["counters"]["staff"]["updated"] == 2 and second["counters"]["staff"]["restored"] == 1

    # Once repaired, later events apply again, the user's deletion too.
    dep.mutate(
        {"op": "update", "resource": "users", "id": pinned, "data": {"name": {"last": "Later"}}},
        {"op": "delete", "resource": "users", "id": tombstoned},
    )
    assert dep.poll_and_apply() == ["applied"] * 3  # the removal of `left` before the sync, too
    rows = staff_rows(dep, pinned, tombstoned)
    assert rows[pinned]["last_name"] == "Later"
    assert not rows[tombstoned]["active"]


def test_the_poller_skips_an_event_from_the_future_and_keeps_its_cursor(deployment: Deployment) -> None:
    dep = deployment
    dep.full_sync()
    teacher = dep.snapshot()["users_by_role"]["teacher"][0]["id"]
    (now,) = dep.mutate(
        {"op": "update", "resource": "users", "id": teacher, "data": {"name": {"last": "Now"}}}
    )
    dep.clock.advance(A_YEAR)  # Clever's clock (and so its next id) runs a year ahead
    (ahead,) = dep.mutate(
        {"op": "update", "resource": "users", "id": teacher, "data": {"name": {"last": "Ahead"}}}
    )
    assert ahead["event_id"] > now["event_id"]

    result = poll_district(dep.rt, dep.district_id)

    assert (result.published, result.skipped_future) == (1, 1)
    dep.drain()
    assert staff_rows(dep, teacher)[teacher]["last_name"] == "Now"
    with dep.rt.engine.connect() as conn:
        district = connections.get_district(conn, dep.district_id)
    assert district is not None and district["events_cursor"] == now["event_id"]
    assert poll_district(dep.rt, dep.district_id).skipped_future == 1, "skipped again, never applied"


def test_an_event_from_the_future_already_queued_is_not_applied(deployment: Deployment) -> None:
    dep = deployment
    dep.full_sync()
    teacher = dep.snapshot()["users_by_role"]["teacher"][0]
    ahead = position_from_time(datetime.now(UTC) + timedelta(days=1))[:8] + "0" * 15 + "1"
    raw = {"id": ahead, "type": "users.updated", "data": {"object": {**teacher, "name": {"last": "Ahead"}}}}
    assert apply_event(dep.rt, raw, source="webhook") == "future"
    assert staff_rows(dep, teacher["id"])[teacher["id"]]["last_name"] == teacher["name"]["last"]


# ------------------------------------------------------------------------------------ id case


def test_the_same_event_id_in_two_cases_is_applied_once(deployment: Deployment) -> None:
    dep = deployment
    dep.full_sync()
    teacher = dep.snapshot()["users_by_role"]["teacher"][0]
    # A minute ahead: newer than the full sync, well within the allowed clock skew.
    event_id = position_from_time(datetime.now(UTC) + timedelta(minutes=1))[:8] + "abcdef0123456789"
    first = {
        "id": event_id.upper(),
        "type": "users.updated",
        "data": {"object": {**teacher, "name": {"last": "A"}}},
    }
    again = {**first, "id": event_id, "data": {"object": {**teacher, "name": {"last": "B"}}}}

    assert apply_event(dep.rt, first, source="webhook") == "applied"
    assert apply_event(dep.rt, again, source="poll") == "duplicate"

    row = staff_rows(dep, teacher["id"])[teacher["id"]]
    assert (row["last_name"], row["source_position"]) == ("A", event_id)
    with dep.rt.engine.connect() as conn:
        keys = conn.execute(select(processed_messages.c.key).where(processed_messages.c.kind == "event"))
        assert [k for (k,) in keys if event_id in k.lower()] == [f"event:{event_id}"]


def test_a_first_sync_writes_without_reading_and_an_event_racing_it_keeps_its_row(
    deployment: Deployment,
) -> None:
    dep = deployment
    teacher = dep.snapshot()["users_by_role"]["teacher"][0]
    event_id = position_from_time(datetime.now(UTC) + timedelta(minutes=1))[:8] + "abcdef0123456789"
    event = {
        "id": event_id,
        "type": "users.updated",
        "data": {"object": {**teacher, "name": {"last": "Raced"}}},
    }
    applying, raced = dep._handlers["apply_page"], []

    def event_first(kw: dict[str, Any]) -> Any:
        # Applied after the crawl read the teacher and before any page of the first sync.
        if not raced:
            raced.append(apply_event(dep.rt, event, source="webhook"))
        return applying(kw)

    dep._handlers["apply_page"] = event_first
    first = dep.full_sync()
    assert raced == ["applied"]
    assert dep.pages and all(page["table_was_empty"] for page in dep.pages)
    with dep.rt.engine.connect() as conn:
        _, counters = runs.page_totals(conn, first["id"])
    assert counters["staff"]["outdated"] == 1 and counters["staff"]["updated"] == 0
    assert staff_rows(dep, teacher["id"])[teacher["id"]]["last_name"] == "Raced"

    dep.pages.clear()
    dep.full_sync()
    assert dep.pages and not any(page["table_was_empty"] for page in dep.pages)
    assert staff_rows(dep, teacher["id"])[teacher["id"]]["last_name"] == "Raced"


# ------------------------------------------------------------------------------ principals


def plain_teachers(dep: Deployment, count: int) -> list[dict[str, Any]]:
    """Teachers with an email and nothing but the teacher role's CONTRIBUTOR."""
    with dep.rt.engine.connect() as conn:
        ids = conn.execute(
            select(staff_users.c.clever_id)
            .where(staff_users.c.synced_role == "CONTRIBUTOR", staff_users.c.email.is_not(None))
            .order_by(staff_users.c.clever_id)
        ).scalars()
        wanted = list(ids)
    users = {u["id"]: u for u in dep.snapshot()["users"]}
    return [users[clever_id] for clever_id in wanted[:count]]


def test_a_principal_change_re_derives_roles_at_the_event_as_a_full_sync_would(
    deployment: Deployment,
) -> None:
    dep = deployment
    dep.full_sync()
    snapshot = dep.snapshot()
    school = snapshot["schools"][0]
    teacher, other = plain_teachers(dep, 2)
    with dep.rt.engine.begin() as conn:  # a manual role the sync must never touch
        conn.execute(
            update(staff_users)
            .where(staff_users.c.clever_id == other["id"])
            .values(override_role="RESTRICTED_VIEWER")
        )
    before = staff_rows(dep, teacher["id"], other["id"])
    assert before[teacher["id"]]["synced_role"] == "CONTRIBUTOR"

    # The teacher becomes the school's principal: a SCHOOL_ADMIN of that school, at the event.
    dep.mutate(
        {
            "op": "update",
            "resource": "schools",
            "id": school["id"],
            "data": {"principal": {"email": teacher["email"].upper()}},
        }
    )
    assert dep.poll_and_apply() == ["applied"]
    rows = staff_rows(dep, teacher["id"])
    assert rows[teacher["id"]]["synced_role"] == "SCHOOL_ADMIN"
    assert rows[teacher["id"]]["role_school_clever_ids"] == [school["id"]]
    assert "principal email" in rows[teacher["id"]]["role_reason"]
    assert rows[teacher["id"]]["source_position"] == before[teacher["id"]]["source_position"]
    run = dep.full_sync()
    unchanged_by_the_sync(rows, staff_rows(dep, teacher["id"]))
    assert run["counters"]["staff"]["updated"] == 0

    # The principal moves on to the other teacher: the first loses the role, the second gets it.
    dep.mutate(
        {
            "op": "update",
            "resource": "schools",
            "id": school["id"],
            "data": {"principal": {"email": other["email"]}},
        }
    )
    assert dep.poll_and_apply() == ["applied"]
    rows = staff_rows(dep, teacher["id"], other["id"])
    assert rows[teacher["id"]]["synced_role"] == "CONTRIBUTOR"
    assert rows[teacher["id"]]["role_reason"] == before[teacher["id"]]["role_reason"]
    assert rows[other["id"]]["synced_role"] == "SCHOOL_ADMIN"
    assert rows[other["id"]]["override_role"] == "RESTRICTED_VIEWER", "the override is never written"
    run = dep.full_sync()
    unchanged_by_the_sync(rows, staff_rows(dep, teacher["id"], other["id"]))
    assert run["counters"]["staff"]["updated"] == 0

    # The school goes: nobody is its principal any more.
    dep.mutate({"op": "delete", "resource": "schools", "id": school["id"]})
    assert dep.poll_and_apply() == ["applied"]
    rows = staff_rows(dep, other["id"])
    assert rows[other["id"]]["synced_role"] == "CONTRIBUTOR"
    dep.full_sync()
    unchanged_by_the_sync(rows, staff_rows(dep, other["id"]))


def test_a_second_full_sync_after_a_principal_event_skips_the_users(deployment: Deployment) -> None:
    dep = deployment
    dep.full_sync()
    snapshot = dep.snapshot()
    (teacher,) = plain_teachers(dep, 1)
    dep.mutate(
        {
            "op": "update",
            "resource": "schools",
            "id": snapshot["schools"][0]["id"],
            "data": {"principal": {"email": teacher["email"]}},
        }
    )
    dep.poll_and_apply()
    dep.full_sync()  # maps the re-derived users once more, finds them unchanged, keeps their source
    with dep.rt.engine.connect() as conn:
        missing = conn.execute(
            select(staff_users.c.clever_id).where(staff_users.c.source_hash.is_(None))
        ).all()
    assert missing == []


# ------------------------------------------------------------------------------------- terms


def test_a_term_whose_id_churns_through_events_keeps_its_row(deployment: Deployment) -> None:
    dep = deployment
    dep.full_sync()
    old = dep.snapshot()["terms"][0]
    row_before = term_rows(dep)[old["id"]]
    fields = {k: old[k] for k in ("name", "start_date", "end_date")}

    _, created = dep.mutate(
        {"op": "delete", "resource": "terms", "id": old["id"]},
        {"op": "create", "resource": "terms", "data": fields},
    )
    assert dep.poll_and_apply() == ["applied", "applied"]

    rows = term_rows(dep)
    assert old["id"] not in rows
    new = rows[created["id"]]
    assert new["id"] == row_before["id"], "the same row, under the new id"
    assert new["active"] and not new["deleted"]
    assert (new["name"], new["start_date"], new["end_date"]) == (
        old["name"],
        old["start_date"],
        old["end_date"],
    )
    run = dep.full_sync()
    unchanged_by_the_sync({created["id"]: new}, term_rows(dep))
    assert len(term_rows(dep)) == len(rows)
    assert run["counters"]["term"]["created"] == 0 and run["counters"]["term"]["updated"] == 0
