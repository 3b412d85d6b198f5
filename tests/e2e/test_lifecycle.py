"""The connection's lifecycle: disconnect keeps the data and drops queued work, reconnecting
reconciles, a nightly reconcile reports drift, internal services can request a sync over
RabbitMQ, and a purge leaves nothing of the district but a receipt."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pika
import pytest
from conftest import wait_until
from sqlalchemy import func, select, text

from storage.tables import deletion_receipts, districts, metadata, staff_users

pytestmark = pytest.mark.e2e


def staff_count(stack: Any) -> int:
    with stack.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(staff_users)).scalar_one())


def queue_depth(stack: Any, kind: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["BROKER_URL"]))
    try:
        declared = connection.channel().queue_declare(f"{stack.env['QUEUE_PREFIX']}{kind}", passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


def test_disconnect_drops_queued_work_keeps_data_and_reconnect_reconciles(make_stack: Any) -> None:
    stack = make_stack(schools=1, workers=0)
    worker = stack.start_worker()
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)
    kept = staff_count(stack)

    # With no worker running, a sync request waits in RabbitMQ; then the district disconnects.
    stack.kill(worker)
    with stack.admin() as admin:
        assert admin.post(f"/v1/districts/{district_id}/sync").status_code == 202
        disconnected = admin.post(f"/v1/districts/{district_id}/disconnect")
    assert disconnected.status_code == 200, disconnected.text
    assert disconnected.json()["status"] == "disconnected"
    (removed,) = stack.sim.remove_users(district_id, role="teacher", count=1)

    stack.start_worker()
    wait_until(lambda: queue_depth(stack, "ingest") == 0, what="the queued ingest message to be consumed")
    runs = stack.wait_for_runs(district_id, 2)
    assert runs[-1]["status"] == "cancelled"
    time.sleep(1)  # give a wrongly kept message time to do harm
    with stack.engine.connect() as conn:
        district = conn.execute(select(districts).where(districts.c.id == district_id)).one()
    assert (district.status, district.token_ciphertext, district.generation) == ("disconnected", None, 2)
    assert staff_count(stack) == kept, "a disconnected district's data stays as it was"

    stack.connect_via_oauth()
    reconnect = stack.wait_for_runs(district_id, 3)[-1]
    assert (reconnect["kind"], reconnect["status"]) == ("reconnect", "succeeded"), reconnect["error"]
    assert reconnect["counters"]["staff"]["deactivated"] == 1
    with stack.engine.connect() as conn:
        active = conn.execute(select(staff_users.c.active).where(staff_users.c.clever_id == removed)).scalar()
    assert active is False


def test_a_nightly_reconcile_reports_the_drift_deltas_missed(make_stack: Any) -> None:
    stack = make_stack(schools=1)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)
    teacher = stack.sim.snapshot()["users_by_role"]["teacher"][0]
    stack.sim.mutate(
        district_id, op="update", resource="users", id=teacher["id"], data={"name": {"first": "Drifted"}}
    )

    with stack.admin() as admin:
        assert admin.post(f"/v1/districts/{district_id}/sync", json={"kind": "reconcile"}).status_code == 202
    run = stack.wait_for_runs(district_id, 2)[-1]
    assert (run["kind"], run["status"], run["drift"]) == ("reconcile", "succeeded", 1)


def test_an_internal_service_can_request_a_sync_by_publishing_to_rabbitmq(make_stack: Any) -> None:
    stack = make_stack(schools=1)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)

    message = {
        "queue_name": f"{stack.env['QUEUE_PREFIX']}ingest",
        "actor_name": "request_sync",
        "args": [],
        "kwargs": {"district_id": district_id, "kind": "full", "requested_by": "billing-service"},
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["BROKER_URL"]))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(
        exchange="",
        routing_key=message["queue_name"],
        body=json.dumps(message).encode(),
        properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        mandatory=True,
    )
    connection.close()

    run = stack.wait_for_runs(district_id, 2)[-1]
    assert (run["requested_by"], run["status"]) == ("billing-service", "succeeded")


def test_a_purge_leaves_nothing_of_the_district_but_a_receipt(make_stack: Any) -> None:
    stack = make_stack(schools=1)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)
    with stack.admin() as admin:
        teacher = stack.sim.snapshot()["users_by_role"]["teacher"][0]["id"]
        assert admin.patch(f"/v1/staff/{teacher}", json={"role": "SCHOOL_ADMIN"}).status_code == 200
        assert admin.post(f"/v1/districts/{district_id}/deletion").status_code == 202

    def receipt() -> Any:
        with stack.engine.connect() as conn:
            return conn.execute(select(deletion_receipts)).first()

    found = wait_until(receipt, what="the deletion receipt")
    assert found.counts["staff_users"] > 0 and found.district_id == district_id
    assert "@" not in json.dumps(found.counts)
    with stack.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "deletion_receipts":
                continue
            rows = conn.execute(
                text(f'SELECT count(*) FROM "{table.name}" t WHERE row_to_json(t)::text LIKE :needle'),
                {"needle": f"%{district_id}%"},
            ).scalar_one()
            assert rows == 0, f"{table.name} still holds rows of the purged district"
