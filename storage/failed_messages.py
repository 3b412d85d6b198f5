"""The failed_messages table: messages that gave up, for operators to list, replay or drop.

Every lookup takes an optional district and an optional `scope` (a WHERE clause on the
district column, for a caller that may reach only some districts): a message outside them is
then simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, select, update

from storage.database import dialect_insert
from storage.runs import now
from storage.tables import failed_messages

WAITING = "waiting"
REPLAYED = "replayed"
DROPPED = "dropped"
STATUSES = (WAITING, REPLAYED, DROPPED)


@dataclass(frozen=True)
class Failure:
    """What is recorded when a message gives up."""

    message_id: str
    queue: str
    actor: str
    district_id: str | None
    idempotency_key: str | None
    cause: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    message: dict[str, Any]


def record(conn: Connection, failure: Failure) -> int:
    """Insert the failure, or update the row of the same message (a replay that failed again):
    it is waiting again, with the new cause, and its attempts add up."""
    values = {
        "message_id": failure.message_id,
        "queue": failure.queue,
        "actor": failure.actor,
        "district_id": failure.district_id,
        "idempotency_key": failure.idempotency_key,
        "cause": failure.cause,
        "attempts": failure.attempts,
        "first_failed_at": failure.first_failed_at,
        "last_failed_at": failure.last_failed_at,
        "message": failure.message,
        "status": WAITING,
    }
    stmt = dialect_insert(conn)(failed_messages).values(**values)
    table = failed_messages.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.message_id],
        set_={
            "queue": stmt.excluded.queue,
            "cause": stmt.excluded.cause,
            "attempts": table.attempts + stmt.excluded.attempts,
            "last_failed_at": stmt.excluded.last_failed_at,
            "message": stmt.excluded.message,
            "status": WAITING,
            "resolved_by": None,
            "resolved_at": None,
        },
    ).returning(table.id)
    return int(conn.execute(stmt).scalar_one())


Scope = ColumnElement[bool] | None


def _within(query: Select[Any], district_id: str | None, scope: Scope) -> Select[Any]:
    if district_id is not None:
        query = query.where(failed_messages.c.district_id == district_id)
    if scope is not None:
        query = query.where(scope)
    return query


def get(
    conn: Connection, failed_id: int, *, district_id: str | None = None, scope: Scope = None
) -> RowMapping | None:
    query = _within(select(failed_messages).where(failed_messages.c.id == failed_id), district_id, scope)
    return conn.execute(query).mappings().first()


def get_for_update(
    conn: Connection, failed_id: int, *, district_id: str | None = None, scope: Scope = None
) -> RowMapping | None:
    """The row, locked until the transaction ends, so two replays of it cannot both go out."""
    query = _within(select(failed_messages).where(failed_messages.c.id == failed_id), district_id, scope)
    return conn.execute(query.with_for_update()).mappings().first()


def page(
    conn: Connection,
    *,
    district_id: str | None = None,
    scope: Scope = None,
    status: str | None = WAITING,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[RowMapping], int | None]:
    """A keyset page, oldest first, and the cursor of the next page (None on the last)."""
    query = _within(
        select(failed_messages).order_by(failed_messages.c.id).limit(limit + 1), district_id, scope
    )
    if status is not None:
        query = query.where(failed_messages.c.status == status)
    if after is not None:
        query = query.where(failed_messages.c.id > after)
    rows = list(conn.execute(query).mappings())
    if len(rows) > limit:
        return rows[:limit], int(rows[limit - 1]["id"])
    return rows, None


def waiting_ids(conn: Connection, *, district_id: str | None = None, scope: Scope = None) -> list[int]:
    query = _within(
        select(failed_messages.c.id).where(failed_messages.c.status == WAITING), district_id, scope
    )
    return [int(i) for i in conn.execute(query.order_by(failed_messages.c.id)).scalars()]


def resolve(conn: Connection, failed_id: int, status: str, *, by: str) -> bool:
    """Mark a waiting row replayed or dropped; False when it was not waiting (any more)."""
    result = conn.execute(
        update(failed_messages)
        .where(failed_messages.c.id == failed_id, failed_messages.c.status == WAITING)
        .values(status=status, resolved_by=by, resolved_at=now())
    )
    return bool(result.rowcount)
