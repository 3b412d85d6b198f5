"""Failed messages as an operator meets them: a worker still running with the key list from
before `rostersync keys rotate` fails the run and the event poll with the cause in words; the
operator lists them (API and CLI), restarts the worker with the current keys, replays the poll
(which then applies the change) and drops the crawl of the failed run."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest
from conftest import Stack, wait_until
from cryptography.fernet import Fernet
from sqlalchemy import select

from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage.tables import failed_messages, staff_users

pytestmark = pytest.mark.e2e

OLD_KEYS = f"k1:{Fernet.generate_key().decode()}"
NEW_KEYS = f"k2:{Fernet.generate_key().decode()},{OLD_KEYS}"
MISSING_KEY = "no key 'k2' in ENCRYPTION_KEYS"


def cli(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rostersync.cli", *args],
        env={**stack.env, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def waiting_rows(stack: Stack) -> list[Any]:
    with stack.engine.connect() as conn:
        query = select(failed_messages).where(failed_messages.c.status == "waiting")
        return [r._mapping for r in conn.execute(query.order_by(failed_messages.c.id))]


def last_name(stack: Stack, clever_id: str) -> str | None:
    with stack.engine.connect() as conn:
        return conn.execute(
            select(staff_users.c.last_name).where(staff_users.c.clever_id == clever_id)
        ).scalar()


def publish_poll(stack: Stack, district_id: str) -> None:
    broker = make_broker(stack.env["BROKER_URL"])
    try:
        Runtime(Settings(), broker=broker).publish("events", "poll_events", {"district_id": district_id})
    finally:
        broker.close()


def test_a_worker_with_the_old_keys_leaves_failed_messages_an_operator_replays(make_stack: Any) -> None:
    stack = make_stack(schools=1, extra_env={"ENCRYPTION_KEYS": OLD_KEYS})
    district = stack.sim.district.id
    stack.connect_via_oauth()
    assert stack.wait_for_runs(district, 1)[0]["status"] == "succeeded"
    old_worker = stack.processes[0]

    rotated = cli(stack, "keys", "rotate", ENCRYPTION_KEYS=NEW_KEYS)
    assert rotated.returncode == 0, rotated.stderr

    # The worker still has only k1: the sync and the event poll fail, each with the cause.
    with stack.admin() as admin:
        assert admin.post(f"/v1/districts/{district}/sync", json={"kind": "full"}).status_code == 202
    run = stack.wait_for_runs(district, 2)[-1]
    assert run["status"] == "failed"
    assert run["error"].startswith(f"KeyringError: {MISSING_KEY}")
    teacher = stack.sim.snapshot()["users_by_role"]["teacher"][0]
    stack.sim.mutate(
        district, op="update", resource="users", id=teacher["id"], data={"name": {"last": "Okafor"}}
    )
    publish_poll(stack, district)
    rows = wait_until(
        lambda: len(waiting_rows(stack)) == 2 and waiting_rows(stack), what="two failed messages"
    )
    crawl, poll = sorted(rows, key=lambda r: r["actor"])
    assert (crawl["actor"], poll["actor"]) == ("ingest_run", "poll_events")
    assert all(r["cause"].startswith(f"KeyringError: {MISSING_KEY}") for r in rows)
    assert all(r["district_id"] == district and r["attempts"] == 1 for r in rows)

    with stack.admin() as admin:
        listed = admin.get("/v1/failed-messages", params={"district_id": district}).json()
    assert {r["id"] for r in listed["failed_messages"]} == {crawl["id"], poll["id"]}
    assert all(MISSING_KEY in r["cause"] for r in listed["failed_messages"])

    listing = cli(stack, "failed", "list", "--district", district)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert any(
        line.split()[0] == str(poll["id"]) and "poll_events" in line and MISSING_KEY in line for line in lines
    )

    # The fix: the worker restarted with the current key list; then the poll is replayed.
    stack.kill(old_worker, signal.SIGTERM)
    stack.env["ENCRYPTION_KEYS"] = NEW_KEYS
    stack.start_worker()
    replay = cli(stack, "failed", "replay", str(poll["id"]))
    assert replay.returncode == 0, replay.stderr
    assert f"replayed {poll['id']}" in replay.stdout
    wait_until(lambda: last_name(stack, teacher["id"]) == "Okafor", what="the replayed poll's event applied")

    # The crawl of a run that already failed has nothing left to do: dropped.
    dropped = cli(stack, "failed", "drop", str(crawl["id"]))
    assert dropped.returncode == 0 and f"dropped {crawl['id']}" in dropped.stdout
    again = cli(stack, "failed", "replay", str(crawl["id"]))
    assert again.returncode == 1 and "already dropped" in again.stdout
    assert waiting_rows(stack) == []
    with stack.admin() as admin:
        done = admin.get("/v1/failed-messages", params={"status": "all", "district_id": district}).json()
    assert {r["id"]: r["status"] for r in done["failed_messages"]} == {
        crawl["id"]: "dropped",
        poll["id"]: "replayed",
    }
