"""Replay or drop a failed message (the operator's side of the failed_messages table).

A replay sends the recorded message again to its queue, under the same message id (so a
replay that fails again updates the same row) with a fresh retry count, and marks the row
replayed in the same transaction: the row changes only once RabbitMQ confirmed the message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import structlog
from sqlalchemy import Connection, RowMapping

from rostersync.runtime import Runtime
from storage import failed_messages
from storage.failed_messages import DROPPED, REPLAYED, WAITING, Scope
from storage.tables import audit_log

log = structlog.get_logger(__name__)


class NotWaiting(Exception):
    """The failed message was already replayed or dropped."""


def fresh_message(stored: dict[str, Any]) -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=stored["queue_name"],
        actor_name=stored["actor_name"],
        args=tuple(stored.get("args") or ()),
        kwargs=dict(stored.get("kwargs") or {}),
        options=dict(stored.get("options") or {}),
        message_id=stored["message_id"],
        message_timestamp=int(time.time() * 1000),  # a fresh age, for AgeLimit
    )


def replay(
    rt: Runtime, failed_id: int, *, by: str, district_id: str | None = None, scope: Scope = None
) -> RowMapping:
    """Re-enqueue one waiting message; LookupError if unknown (in the district), NotWaiting if
    it was resolved already. Broker errors propagate and leave the row waiting."""
    broker = rt.broker or dramatiq.get_broker()
    with rt.engine.begin() as conn:
        row = _waiting(conn, failed_id, district_id, scope)
        message = fresh_message(row["message"])
        if message.queue_name not in broker.get_declared_queues():
            broker.declare_queue(message.queue_name)
        broker.enqueue(message)
        _resolve(conn, row, REPLAYED, by)
    # Only the kind of actor in logs: a person's `sub` stays in the audit log.
    log.info(
        "failed_message.replayed", failed_message_id=failed_id, actor=row["actor"], by=by.partition(":")[0]
    )
    return _reloaded(rt, failed_id)


def drop(
    rt: Runtime, failed_id: int, *, by: str, district_id: str | None = None, scope: Scope = None
) -> RowMapping:
    with rt.engine.begin() as conn:
        row = _waiting(conn, failed_id, district_id, scope)
        _resolve(conn, row, DROPPED, by)
    log.info(
        "failed_message.dropped", failed_message_id=failed_id, actor=row["actor"], by=by.partition(":")[0]
    )
    return _reloaded(rt, failed_id)


@dataclass
class BulkReplay:
    replayed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # resolved meanwhile by someone else


def replay_waiting(
    rt: Runtime, *, by: str, district_id: str | None = None, scope: Scope = None
) -> BulkReplay:
    """Replay every waiting message (of one district, or all); stops at the first broker error."""
    with rt.engine.connect() as conn:
        ids = failed_messages.waiting_ids(conn, district_id=district_id, scope=scope)
    outcome = BulkReplay()
    for failed_id in ids:
        try:
            replay(rt, failed_id, by=by, district_id=district_id, scope=scope)
        except (LookupError, NotWaiting):
            outcome.skipped.append(failed_id)
            continue
        outcome.replayed.append(failed_id)
    return outcome


def _waiting(conn: Connection, failed_id: int, district_id: str | None, scope: Scope) -> RowMapping:
    row = failed_messages.get_for_update(conn, failed_id, district_id=district_id, scope=scope)
    if row is None:
        raise LookupError(failed_id)
    if row["status"] != WAITING:
        raise NotWaiting(f"failed message {failed_id} was already {row['status']}")
    return row


def _resolve(conn: Connection, row: RowMapping, status: str, by: str) -> None:
    failed_messages.resolve(conn, row["id"], status, by=by)
    conn.execute(
        audit_log.insert().values(
            district_id=row["district_id"],
            actor=by,
            action=f"failed_message.{status}",
            subject=str(row["id"]),
            details={"actor": row["actor"], "queue": row["queue"], "message_id": row["message_id"]},
        )
    )


def _reloaded(rt: Runtime, failed_id: int) -> RowMapping:
    with rt.engine.connect() as conn:
        row = failed_messages.get(conn, failed_id)
    assert row is not None
    return row
