"""The ids a full sync saw, per entity type, for mark-and-sweep when the run ends."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Table, and_, delete, select

from domain.deletion_guard import SweepFacts
from storage.database import json_array_set, one_json_array
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


def sweep_facts(
    conn: Connection, table: Table, district_id: str, run_id: str, entity_type: str
) -> SweepFacts:
    """The district's active rows in `table` against the ids the run saw of `entity_type`."""
    return SweepFacts.of(active_ids(conn, table, district_id), seen_ids(conn, run_id, entity_type))


def active_ids(conn: Connection, table: Table, district_id: str) -> set[str]:
    """The clever ids of the district's active rows in `table`.

    PostgreSQL sends them as one JSON array: for 200,000 classrooms a row each cost about three
    times as much, almost all of it in building the rows. (Comparing the two sets in PostgreSQL
    instead depends on the plan: on tables not yet analyzed an anti-join was planned as a nested
    loop, and a set difference sorted both sides on disk.)"""
    is_active = and_(table.c.district_id == district_id, table.c.active.is_(True))
    if conn.dialect.name != "postgresql":
        return set(conn.scalars(select(table.c.clever_id).where(is_active)))
    return json_array_set(
        conn.execute(select(one_json_array(table.c.clever_id)).where(is_active)).scalar_one()
    )


def forget_run(conn: Connection, run_id: str) -> None:
    conn.execute(delete(run_seen_pages).where(run_seen_pages.c.run_id == run_id))
