"""The ids a full sync saw, per entity type, for mark-and-sweep when the run ends."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Text, bindparam, delete, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from storage.database import dialect_insert
from storage.tables import run_seen


def record_seen(conn: Connection, run_id: str, entity_type: str, clever_ids: Iterable[str]) -> None:
    ids = list(clever_ids)
    if not ids:
        return
    insert = dialect_insert(conn)
    if conn.dialect.name == "postgresql":
        # One statement with one array parameter for the whole page, not a row at a time.
        ids_param = bindparam("ids", ids, type_=ARRAY(Text))
        source = select(literal(run_id), literal(entity_type), func.unnest(ids_param))
        statement = insert(run_seen).from_select(["run_id", "entity_type", "clever_id"], source)
        conn.execute(statement.on_conflict_do_nothing())
        return
    rows = [{"run_id": run_id, "entity_type": entity_type, "clever_id": cid} for cid in ids]
    conn.execute(insert(run_seen).on_conflict_do_nothing(), rows)


def seen_ids(conn: Connection, run_id: str, entity_type: str) -> set[str]:
    query = select(run_seen.c.clever_id).where(
        run_seen.c.run_id == run_id, run_seen.c.entity_type == entity_type
    )
    return {cid for (cid,) in conn.execute(query)}


def forget_run(conn: Connection, run_id: str) -> None:
    conn.execute(delete(run_seen).where(run_seen.c.run_id == run_id))
