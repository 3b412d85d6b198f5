"""Publish outbox rows: right after the commit that wrote them, and later by the relay.

The publish right after a commit is the fast path; a failure there only leaves the row behind
(logged), and the relay, which the scheduler runs on every tick, publishes it once the broker
is back. Each row is published with publisher confirms (the broker's `enqueue` waits for them)
and deleted in the transaction that locked it, so a row is published at least once; the actors
are idempotent, so a row published twice (a crash between the confirm and the delete) is
harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import structlog
from sqlalchemy.exc import SQLAlchemyError

from rostersync.runtime import Runtime
from storage import outbox, runs

log = structlog.get_logger(__name__)

# The relay leaves fresh rows to the publish that follows their commit.
RELAY_GRACE_SECONDS = 5.0
BATCH = 100


def publish_after_commit(rt: Runtime, ids: Sequence[int]) -> int:
    """The fast path: publish these rows now. Never raises: what fails stays for the relay."""
    if not ids:
        return 0
    try:
        published, _ = _publish(rt, ids=ids, due_before=None)
    except SQLAlchemyError as exc:
        log.warning("outbox.left_for_relay", rows=list(ids), error=type(exc).__name__)
        return 0
    return published


def drain(rt: Runtime, *, grace_seconds: float = RELAY_GRACE_SECONDS, now: datetime | None = None) -> int:
    """Publish every due row left behind; stops at the first publish that fails."""
    total = 0
    while True:
        moment = now or runs.now()
        published, failed = _publish(rt, ids=None, due_before=moment - timedelta(seconds=grace_seconds))
        total += published
        if failed or published < BATCH:
            break
    if total:
        log.info("outbox.relayed", messages=total)
    return total


def _publish(rt: Runtime, *, ids: Sequence[int] | None, due_before: datetime | None) -> tuple[int, bool]:
    """(rows published, whether a publish failed)."""
    published: list[int] = []
    failed = False
    with rt.engine.begin() as conn:
        for row in outbox.claim(conn, ids=ids, due_before=due_before, limit=BATCH):
            try:
                _send(rt, row)
            except Exception as exc:  # any broker failure: the row stays, with why
                failed = True
                outbox.record_failure(conn, row["id"], f"{type(exc).__name__}: {exc}")
                log.warning("outbox.publish_failed", row=row["id"], error=type(exc).__name__)
                break
            published.append(row["id"])
        outbox.remove(conn, published)
    return len(published), failed


def _send(rt: Runtime, row: Any) -> None:
    broker = rt.broker or dramatiq.get_broker()
    message: dramatiq.Message = dramatiq.Message(**row["message"])
    if message.queue_name not in broker.get_declared_queues():
        broker.declare_queue(message.queue_name)
    wait = runs.aware(row["available_at"]) - runs.now()
    delay_ms = int(wait.total_seconds() * 1000)
    broker.enqueue(message, delay=delay_ms if delay_ms > 0 else None)
