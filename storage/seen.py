"""The ids a full sync saw, per entity type, for mark-and-sweep when the run ends."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, select

from storage.database import dialect_insert
from storage.tables import run_seen


def record_seen(conn: Connection, run_id: str, entity_type: str, clever_ids: Iterable[str]) -> None:
    rows = [{"run_id": run_id, "entity_type": entity_type, "clever_id": cid} for cid in clever_ids]
    if not rows:
        return
    insert = dialect_insert(conn)
    conn.execute(insert(run_seen).on_conflict_do_nothing(), rows)


def seen_ids(conn: Connection, run_id: str, entity_type: str) -> set[str]:
    query = select(run_seen.c.clever_id).where(
        run_seen.c.run_id == run_id, run_seen.c.entity_type == entity_type
    )
    return {cid for (cid,) in conn.execute(query)}


def forget_run(conn: Connection, run_id: str) -> None:
    conn.execute(delete(run_seen).where(run_seen.c.run_id == run_id))
