"""Batched actors on real RabbitMQ and PostgreSQL, through a Dramatiq worker with the project's
middleware: messages waiting together are applied in one call and each is acked; a message the
batch refuses, or that fails once the batch is applied one at a time, is recorded alone with
its cause while the others are applied; an infrastructure error is waited out, not recorded;
an unbatched actor on the same queue is processed as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
import sqlalchemy.exc
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware.time_limit import TimeLimitExceeded
from sqlalchemy import select
from waiting import wait_until

from messaging.batching import BatchingWorkerThread, Outcome
from messaging.broker import make_broker
from messaging.infrastructure import is_infrastructure
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage.tables import failed_messages

BUDGET_HOURS = 60 / 3600


class Refused(ValueError):
    """What the batch function answers for a message it cannot apply."""


def outage() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


@dataclass
class Deployment:
    rt: Runtime
    broker: RabbitmqBroker
    queue: str
    batches: list[list[str]] = field(default_factory=list)  # the names in each batch call
    alone: list[str] = field(default_factory=list)  # names applied through the actor itself
    applied: list[str] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    database_down: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)  # set: batches wait
    lock: threading.Lock = field(default_factory=threading.Lock)
    worker: dramatiq.Worker | None = None

    def start(self, threads: int = 8) -> dramatiq.Worker:
        self.worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=100)
        self.worker.start()
        return self.worker

    def start_together(self, *names: str, threads: int = 8) -> None:
        """Sends the messages and starts the worker; the first batch waits until all are in it."""
        self.held.set()
        self.send(*names)
        self.start(threads=threads)
        wait_until(lambda: self.counts()[0] == 0, "every message delivered to the worker")
        self.held.clear()

    def send(self, *names: str) -> None:
        for name in names:
            self.broker.get_actor("apply_item").send(name=name)

    def failed(self) -> list[Any]:
        with self.rt.engine.connect() as conn:
            return [r._mapping for r in conn.execute(select(failed_messages).order_by(failed_messages.c.id))]

    def counts(self) -> tuple[int, int, int]:
        """(ready, delayed, dead-lettered) messages of the queue."""
        ready, delayed, dead = self.broker.get_queue_message_counts(self.queue)
        return int(ready), int(delayed), int(dead)


PREFETCH = 40


@pytest.fixture
def deployment(clean_postgres: str, broker_url: str, queue_prefix: str) -> Iterator[Deployment]:
    rt = Runtime(Settings(database_url=clean_postgres, broker_url=broker_url, encryption_keys=()))
    broker = make_broker(
        broker_url, retry_infra_hours=BUDGET_HOURS, failure_engine=lambda: rt.engine, prefetch=PREFETCH
    )
    assert isinstance(broker, RabbitmqBroker)
    rt.broker = broker
    d = Deployment(rt, broker, f"{queue_prefix}events")

    def outcome_of(name: str) -> Outcome:
        if d.database_down.is_set():
            raise outage()
        if name.startswith("refused"):
            return Refused(f"{name} cannot be applied")
        return None

    def apply_together(calls: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        names = [str(kwargs["name"]) for kwargs in calls]
        while d.held.is_set():
            time.sleep(0.01)
        with d.lock:
            d.batches.append(names)
        if any(name.startswith("poison") for name in names):
            raise RuntimeError("the batch cannot be applied as a whole")
        if any(name.startswith("slow") for name in names):
            raise TimeLimitExceeded()  # what TimeLimit raises in the leader's thread
        outcomes = [outcome_of(name) for name in names]
        with d.lock:
            d.applied += [name for name, outcome in zip(names, outcomes, strict=True) if outcome is None]
        return outcomes

    def apply_item(*, name: str) -> None:
        with d.lock:
            d.alone.append(name)
        if name.startswith("poison"):
            raise Refused(f"{name} cannot be applied")
        if (outcome := outcome_of(name)) is not None:
            raise outcome
        with d.lock:
            d.applied.append(name)

    def poll(*, name: str) -> None:
        with d.lock:
            d.polled.append(name)

    dramatiq.actor(
        apply_item,
        broker=broker,
        queue_name=d.queue,
        retry_when=lambda retries, exc: is_infrastructure(exc),  # as the events actor's policy
        throws=(Refused,),
        batch=apply_together,
    )
    dramatiq.actor(poll, broker=broker, queue_name=d.queue)
    try:
        yield d
    finally:
        if d.worker is not None:
            d.worker.stop()
        broker.close()
        rt.engine.dispose()


def test_the_workers_threads_are_batching_threads(deployment: Deployment) -> None:
    worker = deployment.start(threads=3)
    assert len(worker.workers) == 3
    assert all(isinstance(thread, BatchingWorkerThread) for thread in worker.workers)


def test_a_few_threads_hold_as_many_messages_as_the_prefetch_says(deployment: Deployment) -> None:
    d = deployment
    d.held.set()  # the first batch waits: nothing is acked
    d.send(*(f"item-{n}" for n in range(PREFETCH + 20)))
    worker = d.start(threads=2)
    assert worker.consumers[d.queue].prefetch == PREFETCH  # not Dramatiq's twice the threads
    wait_until(lambda: d.counts()[0] == 20, "the prefetch taken, the rest left in the queue")
    d.held.clear()
    wait_until(lambda: len(d.applied) == PREFETCH + 20, "every message applied")


def test_messages_waiting_together_are_applied_in_one_call_and_each_is_acked(deployment: Deployment) -> None:
    d = deployment
    names = [f"item-{n}" for n in range(30)]
    d.start_together(*names)
    wait_until(lambda: len(d.applied) == 30, "every message applied")
    assert sorted(d.applied) == sorted(names)
    assert sum(len(batch) for batch in d.batches) == 30 and d.alone == []
    assert len(d.batches) < 30 and max(len(batch) for batch in d.batches) > 1
    wait_until(lambda: d.counts() == (0, 0, 0), "every message acked")
    assert d.failed() == []


def test_a_message_the_batch_refuses_is_recorded_alone_and_the_others_are_applied(
    deployment: Deployment,
) -> None:
    d = deployment
    d.send("a", "refused-b", "c")
    d.start()
    [row] = wait_until(d.failed, "the refused message recorded")
    assert row["cause"] == "Refused: refused-b cannot be applied" and row["attempts"] == 1
    assert row["message"]["kwargs"] == {"name": "refused-b"}
    wait_until(lambda: sorted(d.applied) == ["a", "c"], "the others applied")
    wait_until(lambda: d.counts() == (0, 0, 1), "the refused message dead-lettered, the others acked")


def test_a_batch_that_raises_is_applied_one_at_a_time_and_only_the_culprit_fails(
    deployment: Deployment,
) -> None:
    d = deployment
    d.start_together("a", "poison-b", "c", "d", threads=4)
    [row] = wait_until(d.failed, "the culprit recorded")
    assert row["cause"] == "Refused: poison-b cannot be applied"
    wait_until(lambda: sorted(d.applied) == ["a", "c", "d"], "the others applied")
    assert "poison-b" in d.alone and len(d.alone) >= 2  # its batch was applied one at a time
    wait_until(lambda: d.counts() == (0, 0, 1), "only the culprit dead-lettered")


def test_a_leader_interrupted_mid_batch_ends_each_of_its_messages_and_leads_on(
    deployment: Deployment,
) -> None:
    d = deployment
    d.start_together("a", "slow-b", "c", threads=3)
    rows = wait_until(lambda: len(d.failed()) == 2 and d.failed(), "the interrupted batch recorded")
    assert {row["message"]["kwargs"]["name"] for row in rows} == {"slow-b", "c"}
    assert {row["cause"] for row in rows} == {"TimeLimitExceeded"}
    d.send("after")
    wait_until(lambda: sorted(d.applied) == ["a", "after"], "the next message applied")
    wait_until(lambda: d.counts() == (0, 0, 2), "the interrupted ones dead-lettered, the rest acked")


def test_a_database_outage_is_waited_out_by_each_message_not_recorded(deployment: Deployment) -> None:
    d = deployment
    d.database_down.set()
    d.send("a", "b")
    d.start()
    wait_until(lambda: len(d.alone) >= 4, "each message tried alone, then retried")
    assert d.failed() == [] and d.counts()[2] == 0
    d.database_down.clear()
    wait_until(lambda: sorted(d.applied) == ["a", "b"], "both applied once the database is back")
    wait_until(lambda: d.counts() == (0, 0, 0), "both acked")
    assert d.failed() == []


def test_an_unbatched_actor_on_the_same_queue_is_processed_as_before(deployment: Deployment) -> None:
    d = deployment
    d.send("a")
    d.broker.get_actor("poll").send(name="p")
    d.send("b")
    d.start(threads=2)
    wait_until(lambda: sorted(d.applied) == ["a", "b"] and d.polled == ["p"], "both actors' messages")
    wait_until(lambda: d.counts() == (0, 0, 0), "every message acked")


def test_worker_join_returns_once_every_batched_message_is_acked(deployment: Deployment) -> None:
    d = deployment
    d.send(*(f"item-{n}" for n in range(20)))
    worker = d.start(threads=4)
    wait_until(lambda: len(d.applied) == 20, "every message applied")
    worker.join()  # counts a work-queue item done only once its message is acked
    assert d.counts() == (0, 0, 0)
