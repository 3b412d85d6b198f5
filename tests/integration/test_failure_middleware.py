"""Failed messages on real RabbitMQ and PostgreSQL, through Dramatiq workers with the project's
middleware: a message that can never succeed is recorded at once with its cause; an
infrastructure error is retried (not dead-lettered) until its budget is spent, then recorded;
a recorded message is replayed once its cause is fixed, and applied."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
import sqlalchemy.exc
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from sqlalchemy import select
from waiting import wait_until

from messaging.broker import make_broker
from rostersync.crypto import KeyringError
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services import failed_messages as service
from services.mapping_for_apply import InvalidPage
from storage.tables import failed_messages

DISTRICT = "5a0c0b7e8f1d2c3b4a596877"
BUDGET_HOURS = 4 / 3600  # four seconds of infrastructure retries


@dataclass
class Deployment:
    rt: Runtime
    broker: RabbitmqBroker
    prefix: str
    calls: Counter[str] = field(default_factory=Counter)
    applied: list[str] = field(default_factory=list)
    key_known: threading.Event = field(default_factory=threading.Event)

    def rows(self) -> list[Any]:
        with self.rt.engine.connect() as conn:
            return [r._mapping for r in conn.execute(select(failed_messages).order_by(failed_messages.c.id))]

    def dead_letters(self, queue: str) -> int:
        return int(self.broker.get_queue_message_counts(self.prefix + queue)[2])


@pytest.fixture
def deployment(clean_postgres: str, broker_url: str, queue_prefix: str) -> Iterator[Deployment]:
    rt = Runtime(Settings(database_url=clean_postgres, broker_url=broker_url, encryption_keys=()))
    broker = make_broker(broker_url, retry_infra_hours=BUDGET_HOURS, failure_engine=lambda: rt.engine)
    assert isinstance(broker, RabbitmqBroker)
    rt.broker = broker
    d = Deployment(rt, broker, queue_prefix)

    def apply_page(*, district_id: str, key: str, items: list[Any]) -> None:
        d.calls[key] += 1
        raise InvalidPage(f"{key} item 1: object has no id (owner t1@example.org)")

    def flaky_apply(*, district_id: str, key: str, failures: int) -> None:
        d.calls[key] += 1
        if d.calls[key] <= failures:
            raise sqlalchemy.exc.OperationalError(
                "SELECT 1", {}, ConnectionRefusedError("connection refused")
            )
        d.applied.append(key)

    def poll_events(*, district_id: str) -> None:
        d.calls["poll"] += 1
        if not d.key_known.is_set():
            raise KeyringError("no key 'k2' in ENCRYPTION_KEYS")
        d.applied.append("poll")

    apply_queue, events_queue = f"{queue_prefix}apply", f"{queue_prefix}events"
    dramatiq.actor(apply_page, broker=broker, queue_name=apply_queue, throws=(InvalidPage,))
    # No retries of its own: only the infrastructure policy can retry it.
    dramatiq.actor(flaky_apply, broker=broker, queue_name=apply_queue, max_retries=0)
    dramatiq.actor(poll_events, broker=broker, queue_name=events_queue, retry_when=lambda n, exc: False)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield d
    finally:
        worker.stop()
        broker.close()
        rt.engine.dispose()


def test_a_message_that_can_never_succeed_is_recorded_at_once_with_its_cause(deployment: Deployment) -> None:
    d = deployment
    d.broker.get_actor("apply_page").send(district_id=DISTRICT, key="r1:users:teacher:0:0", items=[{}])
    [row] = wait_until(d.rows, "the failed message")
    assert d.calls["r1:users:teacher:0:0"] == 1  # not retried
    assert row["actor"] == "apply_page" and row["queue"] == f"{d.prefix}apply"
    assert row["district_id"] == DISTRICT and row["idempotency_key"] == "r1:users:teacher:0:0"
    assert row["cause"] == "InvalidPage: r1:users:teacher:0:0 item 1: object has no id (owner [email])"
    assert row["attempts"] == 1 and row["status"] == "waiting"
    assert row["message"]["kwargs"]["items"] == [{}]
    assert "traceback" not in row["message"]["options"]


def test_an_infrastructure_outage_is_waited_out_not_dead_lettered(deployment: Deployment) -> None:
    d = deployment
    d.broker.get_actor("flaky_apply").send(district_id=DISTRICT, key="outage", failures=2)
    wait_until(lambda: d.applied == ["outage"], "the page applied after the outage")
    assert d.calls["outage"] == 3
    assert d.rows() == [] and d.dead_letters("apply") == 0


def test_an_infrastructure_error_is_recorded_only_once_its_budget_is_spent(deployment: Deployment) -> None:
    d = deployment
    d.broker.get_actor("flaky_apply").send(district_id=DISTRICT, key="down", failures=1_000)
    wait_until(lambda: d.calls["down"] >= 2, "a retry")
    assert d.rows() == [] and d.dead_letters("apply") == 0  # retried, not dead-lettered
    [row] = wait_until(d.rows, "the failed message once the budget is spent")
    assert row["attempts"] == d.calls["down"] >= 3
    assert row["cause"] == "OperationalError (ConnectionRefusedError): connection refused"
    budget = BUDGET_HOURS * 3600
    assert (row["last_failed_at"] - row["first_failed_at"]).total_seconds() >= budget


def test_a_failed_message_is_replayed_once_its_cause_is_fixed(deployment: Deployment) -> None:
    d = deployment
    d.broker.get_actor("poll_events").send(district_id=DISTRICT)
    [row] = wait_until(d.rows, "the failed poll")
    assert row["cause"] == "KeyringError: no key 'k2' in ENCRYPTION_KEYS"

    # Replayed before the fix: it fails again, and the same row is waiting again.
    service.replay(d.rt, row["id"], by="test")
    wait_until(lambda: d.rows()[0]["attempts"] == 2, "the second failure")
    assert [r["status"] for r in d.rows()] == ["waiting"]

    d.key_known.set()
    replayed = service.replay(d.rt, row["id"], by="test")
    assert replayed["status"] == "replayed" and replayed["resolved_by"] == "test"
    wait_until(lambda: d.applied == ["poll"], "the replayed poll applied")
    assert d.calls["poll"] == 3
    with pytest.raises(service.NotWaiting):
        service.replay(d.rt, row["id"], by="test")
