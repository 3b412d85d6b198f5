"""Deltas between full syncs: Clever events pushed to the signed webhook or pulled by the poller
are applied once, in order per entity, and survive a broker outage at the gateway."""

from __future__ import annotations

import json
import random
import time
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from conftest import WEBHOOK_SECRET, wait_until
from sqlalchemy import func, select
from tcp_proxy import TcpProxy

from domain.positions import position_from_time
from gateway.webhook_signature import signature_header
from storage.tables import processed_messages, staff_users, sync_runs

pytestmark = pytest.mark.e2e


def connected(make_stack: Any, **kwargs: Any) -> Any:
    stack = make_stack(**kwargs)
    stack.connect_via_oauth()
    stack.wait_for_runs(stack.sim.district.id, 1)
    return stack


def a_teacher(stack: Any) -> dict[str, Any]:
    snapshot = stack.sim.snapshot()
    return dict(snapshot["users_by_role"]["teacher"][0])


def last_name(stack: Any, clever_id: str) -> str | None:
    with stack.engine.connect() as conn:
        query = select(staff_users.c.last_name).where(staff_users.c.clever_id == clever_id)
        return conn.execute(query).scalar()


def rename(stack: Any, user: dict[str, Any], **name: str) -> None:
    """Change a user's name in the simulator, which records a users.updated event."""
    stack.sim.mutate(stack.sim.district.id, op="update", resource="users", id=user["id"], data={"name": name})


def post_signed(url: str, payload: Any, secret: str = WEBHOOK_SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "Clever-Signature": signature_header(secret, int(time.time()), body),
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def user_event(event_id: str, user: dict[str, Any], last: str) -> dict[str, Any]:
    changed = {**user, "name": {**user["name"], "last": last}}
    return {
        "id": event_id,
        "type": "users.updated",
        "created": "2026-11-28T12:00:00.000Z",
        "data": {"object": changed, "previous_attributes": {"name": {"last": user["name"]["last"]}}},
    }


def newer_ids(count: int) -> list[str]:
    """Event ids after anything the simulator has recorded (ids start with their unix time)."""
    base = int(position_from_time_now(), 16)
    return [f"{base + n:024x}" for n in range(1, count + 1)]


def position_from_time_now() -> str:
    from datetime import UTC, datetime, timedelta

    return position_from_time(datetime.now(UTC) + timedelta(seconds=5))


def test_events_pushed_to_the_webhook_are_applied(make_stack: Any) -> None:
    stack = connected(make_stack, schools=1)
    stack.sim.set_webhook(f"{stack.gateway_url}/webhooks/clever", WEBHOOK_SECRET)
    teacher = a_teacher(stack)

    rename(stack, teacher, last="Nguyễn-O'Neil")
    wait_until(lambda: last_name(stack, teacher["id"]) == "Nguyễn-O'Neil", what="the pushed event")
    deliveries = stack.sim.webhook_deliveries()
    assert deliveries and all(d["ok"] for d in deliveries), deliveries
    assert len(stack.runs(stack.sim.district.id)) == 1, "a delta must not need a full sync"


def test_repeated_and_shuffled_events_end_in_the_newest_state(make_stack: Any) -> None:
    stack = connected(make_stack, schools=1)
    teacher = a_teacher(stack)
    ids = newer_ids(5)
    events = [user_event(event_id, teacher, f"Version {n}") for n, event_id in enumerate(ids, 1)]
    deliveries = [*events, events[2], events[2]]
    random.Random(4).shuffle(deliveries)
    url = f"{stack.gateway_url}/webhooks/clever"
    for event in deliveries:
        assert post_signed(url, event).status_code == 202

    def all_processed() -> bool:
        with stack.engine.connect() as conn:
            keys = [f"event:{event_id}" for event_id in ids]
            query = select(func.count()).where(processed_messages.c.key.in_(keys))
            return conn.execute(query).scalar_one() == len(ids)

    wait_until(all_processed, what="every event to be processed")
    assert last_name(stack, teacher["id"]) == "Version 5"


def test_with_the_broker_unreachable_the_webhook_answers_503_and_loses_nothing(make_stack: Any) -> None:
    stack = make_stack(schools=1, gateway=False)
    rabbit = urlparse(stack.env["BROKER_URL"])
    proxy = TcpProxy(rabbit.hostname or "127.0.0.1", rabbit.port or 5672)
    proxy.start()
    stack.env["BROKER_URL"] = stack.env["BROKER_URL"].replace(
        f"{rabbit.hostname}:{rabbit.port or 5672}", f"127.0.0.1:{proxy.port}"
    )
    stack.start_gateway()
    stack.connect_via_oauth()
    stack.wait_for_runs(stack.sim.district.id, 1)
    teacher = a_teacher(stack)
    (event_id,) = newer_ids(1)
    event = user_event(event_id, teacher, "Delivered Later")
    url = f"{stack.gateway_url}/webhooks/clever"

    proxy.stop()
    refused = post_signed(url, event)
    assert refused.status_code == 503 and refused.headers.get("Retry-After")
    assert last_name(stack, teacher["id"]) != "Delivered Later"

    proxy.start()
    wait_until(lambda: post_signed(url, event).status_code == 202, what="the gateway to accept again")
    wait_until(lambda: last_name(stack, teacher["id"]) == "Delivered Later", what="the retried event")
    proxy.stop()


def test_the_poller_brings_changes_without_a_full_sync(make_stack: Any) -> None:
    stack = connected(make_stack, schools=1, extra_env={"EVENTS_POLL_SECONDS": "1"})
    stack._spawn("scheduler", "--tick", "0.5")
    teacher = a_teacher(stack)
    rename(stack, teacher, last="Polled")
    wait_until(lambda: last_name(stack, teacher["id"]) == "Polled", what="the polled event")
    assert len(stack.runs(stack.sim.district.id)) == 1


def test_an_expired_events_cursor_leads_to_a_full_sync(make_stack: Any) -> None:
    stack = connected(make_stack, schools=1, extra_env={"EVENTS_POLL_SECONDS": "1"})
    district_id = stack.sim.district.id
    teacher = a_teacher(stack)
    rename(stack, teacher, last="Seen By Resync")
    stack.sim.expire_events(district_id, all=True)
    stack._spawn("scheduler", "--tick", "0.5")

    runs = stack.wait_for_runs(district_id, 2)
    assert runs[-1]["requested_by"] == "events-poller"
    assert runs[-1]["status"] == "succeeded", runs[-1]["error"]
    assert last_name(stack, teacher["id"]) == "Seen By Resync"
    with stack.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sync_runs)).scalar_one() == 2


def test_events_turned_off_for_the_app_lead_to_one_full_sync_not_a_loop(make_stack: Any) -> None:
    stack = connected(make_stack, schools=1, extra_env={"EVENTS_POLL_SECONDS": "1"})
    district_id = stack.sim.district.id
    stack.sim.set_events_enabled(False, district_id)
    stack._spawn("scheduler", "--tick", "0.5")

    runs = stack.wait_for_runs(district_id, 2)
    assert (runs[-1]["requested_by"], runs[-1]["status"]) == ("events-poller", "succeeded")
    time.sleep(3)  # several poll intervals: no further full sync while events stay off
    assert len(stack.runs(district_id)) == 2
