"""The events poller against the simulator over HTTP: what it publishes carries no student data,
and the cursor moves past what was published."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.events_poller import poll_district
from simulator.testing import SimulatorHandle, start_simulator
from storage import connections
from storage.migrate import upgrade


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    handle = start_simulator(schools=1)
    yield handle
    handle.stop()


@pytest.fixture
def rt(sim: SimulatorHandle, tmp_path: Path) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'poller.sqlite3'}"
    upgrade(url)
    runtime = Runtime(
        Settings(
            database_url=url,
            clever_api_base=sim.base_url,
            clever_oauth_base=sim.base_url,
            clever_client_id=sim.client_id,
            clever_client_secret=sim.client_secret,
        ),
        broker=make_broker(None),
    )
    latest = sim.district_info()[0]["latest_event_id"]
    with runtime.engine.begin() as conn:
        connections.save_connection(
            conn,
            sim.district.id,
            name=None,
            token_ciphertext=runtime.keyring.encrypt(sim.district.token or ""),
            token_id=None,
            scopes=[],
            authorized_by=None,
        )
        connections.update_district(conn, sim.district.id, events_cursor=latest)
    yield runtime
    runtime.engine.dispose()


def test_polled_section_events_reach_rabbitmq_without_their_students(
    rt: Runtime, sim: SimulatorHandle
) -> None:
    snapshot = sim.snapshot()
    section = next(s for s in snapshot["sections"] if s.get("students"))
    student_ids = {u["id"] for u in snapshot["users_by_role"]["student"]}
    (result,) = sim.mutate(
        sim.district.id,
        op="update",
        resource="sections",
        id=section["id"],
        data={"period": "9", "students": section["students"][1:]},
    )

    assert poll_district(rt, sim.district.id).published == 1
    assert rt.broker is not None
    published = [json.loads(m) for m in rt.broker.queues["events"].queue]  # type: ignore[attr-defined]
    assert [m["kwargs"]["event"]["id"] for m in published] == [result["event_id"]]
    body = json.dumps(published)
    assert not any(student in body for student in student_ids)
    with rt.engine.connect() as conn:
        assert connections.get_district(conn, sim.district.id)["events_cursor"] == result["event_id"]
