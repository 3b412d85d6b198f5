"""The outbox: messages written in the transaction whose commit they must follow.

A row holds the whole Dramatiq message (ids and timestamp included), so whoever publishes it,
right after the commit or the relay later, sends the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from sqlalchemy import Connection, RowMapping, delete, select, update

from messaging import queues
from storage.tables import outbox


def message_for(
    kind: str, actor_name: str, kwargs: dict[str, Any], *, lane: str | None = None
) -> dramatiq.Message:
    """The message `Runtime.publish` would send."""
    return dramatiq.Message(
        queue_name=queues.queue_name(kind, lane), actor_name=actor_name, args=(), kwargs=kwargs, options={}
    )


def add(
    conn: Connection,
    kind: str,
    actor_name: str,
    kwargs: dict[str, Any],
    *,
    lane: str | None = None,
    delay_seconds: float = 0.0,
    now: datetime,
) -> int:
    """Write a message to publish once this transaction commits; returns its row id."""
    message = message_for(kind, actor_name, kwargs, lane=lane)
    row = conn.execute(
        outbox.insert()
        .values(
            queue_name=message.queue_name,
            message=message.asdict(),
            available_at=now + timedelta(seconds=max(delay_seconds, 0.0)),
        )
        .returning(outbox.c.id)
    ).one()
    return int(row.id)


def claim(
    conn: Connection,
    *,
    ids: Sequence[int] | None = None,
    due_before: datetime | None = None,
    limit: int = 100,
) -> list[RowMapping]:
    """Lock rows to publish: the given ids, or those due before a moment, oldest first.

    SKIP LOCKED lets relays and the publish after a commit run side by side: a row one of them
    holds is left to it. (SQLite has no row locks; it has one writer at a time instead.)"""
    query = select(outbox).order_by(outbox.c.id).limit(limit)
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    if due_before is not None:
        query = query.where(outbox.c.available_at <= due_before)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [row._mapping for row in conn.execute(query)]


def remove(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(outbox).where(outbox.c.id.in_(list(ids))))


def record_failure(conn: Connection, row_id: int, error: str) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(attempts=outbox.c.attempts + 1, last_error=error[:1000])
    )


def pending(conn: Connection) -> list[RowMapping]:
    """Every row not yet published, oldest first (for operators and tests)."""
    return [row._mapping for row in conn.execute(select(outbox).order_by(outbox.c.id))]
