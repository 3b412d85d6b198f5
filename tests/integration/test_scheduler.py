"""The scheduler on real PostgreSQL: two schedulers on the same night enqueue one reconcile per
district, and the next due time lives in the database so a restart does not repeat it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.schedule import next_local_occurrence, parse_local_time
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.scheduler import tick
from storage import connections
from storage.tables import districts, sync_runs

DISTRICTS = ("a" * 24, "b" * 24)


@pytest.fixture
def rt(clean_postgres: str) -> Iterator[Runtime]:
    runtime = Runtime(
        Settings(database_url=clean_postgres, reconcile_local_time="02:30"), broker=make_broker(None)
    )
    with runtime.engine.begin() as conn:
        for district_id, zone in zip(DISTRICTS, ("America/New_York", "America/Los_Angeles"), strict=True):
            connections.save_connection(
                conn,
                district_id,
                name=None,
                token_ciphertext="k:t",
                token_id=None,
                scopes=[],
                authorized_by=None,
            )
            connections.update_district(conn, district_id, timezone=zone, events_cursor="")
    yield runtime
    runtime.engine.dispose()


def reconcile_runs(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        rows = conn.execute(select(sync_runs.c.district_id).where(sync_runs.c.kind == "reconcile"))
        return sorted(r.district_id for r in rows)


def test_two_schedulers_on_one_night_enqueue_one_reconcile_per_district(rt: Runtime) -> None:
    evening = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    tick(rt, scheduler_id="first", now=evening)  # learns each district's next local 02:30
    with rt.engine.connect() as conn:
        due = dict(conn.execute(select(districts.c.id, districts.c.next_reconcile_at)).all())
    assert due[DISTRICTS[0]] == next_local_occurrence(evening, parse_local_time("02:30"), "America/New_York")
    assert due[DISTRICTS[1]] - due[DISTRICTS[0]] == timedelta(hours=3)

    night = max(due.values()) + timedelta(minutes=1)
    barrier = threading.Barrier(2)

    def scheduler(name: str) -> None:
        barrier.wait()
        tick(rt, scheduler_id=name, now=night)

    threads = [threading.Thread(target=scheduler, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reconcile_runs(rt) == sorted(DISTRICTS)

    # A restarted scheduler a minute later finds the next night already due tomorrow.
    tick(rt, scheduler_id="restarted", now=night + timedelta(minutes=1))
    assert reconcile_runs(rt) == sorted(DISTRICTS)
    with rt.engine.connect() as conn:
        later = dict(conn.execute(select(districts.c.id, districts.c.next_reconcile_at)).all())
    assert all(later[d] - due[d] == timedelta(days=1) for d in DISTRICTS)


def test_polls_are_enqueued_once_per_interval_whoever_ticks(rt: Runtime) -> None:
    now = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    first = tick(rt, scheduler_id="first", now=now)
    second = tick(rt, scheduler_id="second", now=now + timedelta(seconds=1))
    assert first["poll"] == len(DISTRICTS) and second["poll"] == 0
