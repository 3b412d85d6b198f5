"""The ids a full sync saw, per entity type, for mark-and-sweep when the run ends."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, select

from storage.tables import run_seen_pages


def record_seen(conn: Connection, run_id: str, entity_type: str, clever_ids: Iterable[str]) -> None:
    ids = list(clever_ids)
    if ids:
        conn.execute(run_seen_pages.insert().values(run_id=run_id, entity_type=entity_type, clever_ids=ids))


def seen_ids(conn: Connection, run_id: str, entity_type: str) -> set[str]:
    query = select(run_seen_pages.c.clever_ids).where(
        run_seen_pages.c.run_id == run_id, run_seen_pages.c.entity_type == entity_type
    )
    seen: set[str] = set()
    for (ids,) in conn.execute(query):
        seen.update(ids)
    return seen


def forget_run(conn: Connection, run_id: str) -> None:
    conn.execute(delete(run_seen_pages).where(run_seen_pages.c.run_id == run_id))
