"""District-bound webhook secrets against real RabbitMQ: a refused batch leaves the queue empty."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from gateway.app import build_app
from gateway.webhook_signature import signature_header
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings

pytestmark = pytest.mark.integration

OWN = "5b2ad81a709e300001e2cd7a"
FOREIGN = "5b2ad81a709e300001e2cd7b"
BOUND = "whsec-bound-to-7a"


@contextmanager
def gateway(database_url: str, broker_url: str) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "ENCRYPTION_KEYS": f"it:{Fernet.generate_key().decode()}",
            "WEBHOOK_SECRETS": f"{OWN}={BOUND}",
        }
    )
    broker = make_broker(broker_url)
    rt = Runtime(settings, broker=broker)
    try:
        with TestClient(build_app(rt), follow_redirects=False) as client:
            yield client
    finally:
        broker.close()
        rt.engine.dispose()


def queue_depth(broker_url: str, name: str) -> int:
    """Messages waiting in a queue; a queue nobody declared yet holds none."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        declared = connection.channel().queue_declare(queue=name, passive=True)
        return int(declared.method.message_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return 0
        raise
    finally:
        if connection.is_open:
            connection.close()


def school_event(event_id: str, district: str) -> dict[str, Any]:
    obj = {"id": "58da8c58155b940248000007", "district": district, "name": "Pineapple"}
    return {"id": event_id, "type": "schools.updated", "created": None, "data": {"object": obj}}


def post(client: TestClient, body: Any) -> Any:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "Clever-Signature": signature_header(BOUND, int(time.time()), raw),
    }
    return client.post("/webhooks/clever", content=raw, headers=headers)


def test_a_bound_secret_reaches_rabbitmq_only_for_its_district(
    clean_postgres: str, broker_url: str, queue_prefix: str
) -> None:
    with gateway(clean_postgres, broker_url) as client:
        mixed = post(client, [school_event("6a0000000000000000000001", OWN),
                              school_event("6a0000000000000000000002", FOREIGN)])  # fmt: skip
        assert mixed.status_code == 403
        assert "bound to another district" in mixed.json()["error"]
        assert queue_depth(broker_url, f"{queue_prefix}events") == 0
        own = post(client, school_event("6a0000000000000000000003", OWN))
    assert own.status_code == 202
    assert queue_depth(broker_url, f"{queue_prefix}events") == 1
