"""Processed-message keys, recorded in the transaction that applied the message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from storage.database import dialect_insert
from storage.tables import processed_messages


def claim(
    conn: Connection,
    key: str,
    *,
    district_id: str,
    kind: str,
    run_id: str | None = None,
    counters: dict[str, Any] | None = None,
) -> bool:
    """Record `key`; False when it was already recorded (the message is a redelivery)."""
    insert = dialect_insert(conn)
    stmt = (
        insert(processed_messages)
        .values(key=key, district_id=district_id, kind=kind, run_id=run_id, counters=counters)
        .on_conflict_do_nothing(index_elements=[processed_messages.c.key])
        .returning(processed_messages.c.key)
    )
    return conn.execute(stmt).first() is not None


def claim_many(conn: Connection, keys: Sequence[str], *, district_id: str, kind: str) -> set[str]:
    """Record every key in one statement; returns those recorded now (the others were already)."""
    if not keys:
        return set()
    insert = dialect_insert(conn)
    stmt = (
        insert(processed_messages)
        .values([{"key": key, "district_id": district_id, "kind": kind} for key in dict.fromkeys(keys)])
        .on_conflict_do_nothing(index_elements=[processed_messages.c.key])
        .returning(processed_messages.c.key)
    )
    return set(conn.execute(stmt).scalars())
