"""The gateway against real PostgreSQL and RabbitMQ: a 202 means the message is in the queue,
and a broker that cannot be reached means 503 + Retry-After with nothing left half-done."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import build_app
from gateway.identity import Principal
from gateway.oauth_routes import STATE_PURPOSE, session_digest
from gateway.oauth_state import issue_state
from gateway.sessions import COOKIE_NAME, encode_session, session_key
from gateway.webhook_signature import signature_header
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage.tables import districts, oauth_states, staff_users

pytestmark = pytest.mark.integration

SECRET = "integration-webhook-secret"
ADMIN_TOKEN = "integration-admin-token"
CLOSED_PORT_URL = "amqp://guest:guest@127.0.0.1:1/%2F"
DISTRICT_ID = "5b2ad81a709e300001e2cd7a"
STAFF_ID = "5b2ad81a709e300001e2c0a1"


@contextmanager
def gateway(database_url: str, broker_url: str) -> Iterator[tuple[Runtime, TestClient]]:
    settings = Settings(
        database_url=database_url,
        broker_url=broker_url,
        encryption_keys=(f"it:{Fernet.generate_key().decode()}",),
        webhook_secrets=(SECRET,),
        admin_tokens=(ADMIN_TOKEN,),
        public_base_url="https://sync.example.test",
    )
    broker = make_broker(broker_url)
    rt = Runtime(settings, broker=broker)
    try:
        with TestClient(build_app(rt), follow_redirects=False) as client:
            yield rt, client
    finally:
        broker.close()
        rt.engine.dispose()


def queue_depth(broker_url: str, name: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        declared = connection.channel().queue_declare(queue=name, passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


def signed_post(client: TestClient, body: Any) -> Any:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "Clever-Signature": signature_header(SECRET, int(time.time()), raw),
    }
    return client.post("/webhooks/clever", content=raw, headers=headers)


def signed_in_state(rt: Runtime, client: TestClient) -> str:
    """A district admin's session cookie on `client`, and an OAuth state started from it."""
    principal = Principal(sub="ada", role="district_admin", tenant="tenant-a", credential="session")
    session_id = "integration-session-0001"
    cookie = encode_session(session_key(rt), principal, session_id, time.time() + 600)
    client.cookies.set(COOKIE_NAME, cookie)
    binding = f"|{session_digest(session_id)}|tenant-a"
    return issue_state(rt.keyring.signing_key(STATE_PURPOSE), binding=binding)


def school_event(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "schools.updated",
        "created": "2024-09-03T16:09:40.000Z",
        "data": {
            "object": {"id": "58da8c58155b940248000007", "name": "Pineapple"},
            "previous_attributes": {"name": "Old"},
        },
    }


def test_a_signed_webhook_is_in_the_rabbitmq_queue_when_answered(
    clean_postgres: str, broker_url: str, queue_prefix: str
) -> None:
    with gateway(clean_postgres, broker_url) as (_, client):
        events = [school_event("6a0000000000000000000001"), school_event("6a0000000000000000000002")]
        response = signed_post(client, events)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "dropped": 0}
    assert queue_depth(broker_url, f"{queue_prefix}events") == 2


def test_callback_publishes_the_connect_message_and_refuses_a_replay(
    clean_postgres: str, broker_url: str, queue_prefix: str
) -> None:
    with gateway(clean_postgres, broker_url) as (rt, client):
        state = signed_in_state(rt, client)
        first = client.get("/oauth/clever/callback", params={"code": "c1", "state": state})
        replay = client.get("/oauth/clever/callback", params={"code": "c2", "state": state})
    assert first.status_code == 303
    assert replay.status_code == 400
    assert queue_depth(broker_url, f"{queue_prefix}connect") == 1


def test_broker_unreachable_means_503_and_the_nonce_is_released(
    clean_postgres: str, queue_prefix: str
) -> None:
    with gateway(clean_postgres, CLOSED_PORT_URL) as (rt, client):
        webhook = signed_post(client, school_event("6a0000000000000000000001"))
        state = signed_in_state(rt, client)
        callback = client.get("/oauth/clever/callback", params={"code": "c", "state": state})
        with rt.engine.connect() as conn:
            remaining = conn.execute(select(oauth_states.c.nonce)).all()
    assert webhook.status_code == 503
    assert int(webhook.headers["retry-after"]) > 0
    assert webhook.json() == {"error": "message broker unavailable; retry later"}
    assert callback.status_code == 503
    assert int(callback.headers["retry-after"]) > 0
    assert remaining == []


def test_admin_override_and_listing_on_postgresql(
    clean_postgres: str, broker_url: str, queue_prefix: str
) -> None:
    with gateway(clean_postgres, broker_url) as (rt, client):
        with rt.engine.begin() as conn:
            conn.execute(districts.insert().values(id=DISTRICT_ID, name="One", status="active"))
            conn.execute(
                staff_users.insert().values(
                    district_id=DISTRICT_ID,
                    clever_id=STAFF_ID,
                    source_position="p",
                    first_name="Ada",
                    last_name="L",
                    synced_role="CONTRIBUTOR",
                    role_reason="Clever role teacher",
                    titles=["Teacher"],
                )
            )
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        changed = client.patch(f"/v1/staff/{STAFF_ID}", json={"role": "DISTRICT_ADMIN"}, headers=auth)
        listed = client.get(f"/v1/districts/{DISTRICT_ID}/staff", headers=auth).json()
        sync = client.post(f"/v1/districts/{DISTRICT_ID}/sync", headers=auth)
    assert changed.status_code == 200
    assert [(s["id"], s["synced_role"], s["role"]) for s in listed["staff"]] == [
        (STAFF_ID, "CONTRIBUTOR", "DISTRICT_ADMIN")
    ]
    assert sync.status_code == 202 and sync.json()["created"] is True
    assert queue_depth(broker_url, f"{queue_prefix}ingest") == 1
