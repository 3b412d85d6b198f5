"""Processed-message keys, recorded in the transaction that applied the message."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, String, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

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
    unique = sorted(set(keys))  # one order of index locks for every concurrent writer
    if conn.dialect.name == "postgresql":
        params = {"keys": unique, "district_id": district_id, "kind": kind}
        return set(conn.execute(_claim_keys(), params).scalars())
    insert = dialect_insert(conn)
    stmt = (
        insert(processed_messages)
        .values([{"key": key, "district_id": district_id, "kind": kind} for key in unique])
        .on_conflict_do_nothing(index_elements=[processed_messages.c.key])
        .returning(processed_messages.c.key)
    )
    return set(conn.execute(stmt).scalars())


@functools.cache
def _claim_keys() -> Any:
    """The keys travel as one array parameter: a VALUES row per key would make a new statement
    for every batch size, and building and parsing it cost more than the insert itself."""
    keys = func.unnest(bindparam("keys", type_=ARRAY(String))).table_valued("key").render_derived()
    rows = select(keys.c.key, bindparam("district_id", type_=String), bindparam("kind", type_=String))
    return (
        postgresql.insert(processed_messages)
        .from_select(["key", "district_id", "kind"], rows)
        .on_conflict_do_nothing(index_elements=[processed_messages.c.key])
        .returning(processed_messages.c.key)
    )
