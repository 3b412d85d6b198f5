"""Guarded multi-row upserts of synced entities: one SELECT and at most one INSERT per batch.

A row is written only when its content hash differs (or it was inactive) and the incoming
source position is not older than the stored one, so redeliveries, replays and out-of-order
events converge and an unchanged reconcile writes nothing. The same guard is repeated in the
SQL `ON CONFLICT ... WHERE`, which keeps concurrent writers safe.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson
from sqlalchemy import Connection, Table, Text, any_, bindparam, cast, column, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from domain.entities import Entity
from domain.hashing import content_hash

_BOOKKEEPING = {"id", "district_id", "clever_id", "created_at"}
_NEVER_SYNCED = {"override_role", "override_set_by", "override_set_at"}


@dataclass
class UpsertOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    stale: int = 0  # older than what is stored; ignored
    written_ids: list[str] = field(default_factory=list)

    def as_counters(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "restored": self.restored,
            "stale": self.stale,
        }


def entity_row(entity: Entity) -> dict[str, Any]:
    """Entity → column values (tuples become JSON lists, enums their values)."""
    row: dict[str, Any] = {}
    for f in fields(entity):  # not asdict(): it deep-copies every value, a hot spot per page
        value = getattr(entity, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        row[f.name] = value
    return row


def upsert_entities(
    conn: Connection,
    table: Table,
    district_id: str,
    entities: Sequence[Entity],
    position: str,
    *,
    deleted: bool = False,
) -> UpsertOutcome:
    """Write entities that changed; `deleted` writes tombstones (inactive, kept for ordering)."""
    outcome = UpsertOutcome()
    # Last one wins when a batch repeats an id. Rows are built only for what will be written:
    # in a nightly reconcile that is almost nothing.
    incoming: dict[str, tuple[Entity, str]] = {e.clever_id: (e, content_hash(e)) for e in entities}
    if not incoming:
        return outcome
    existing = _existing(conn, table, district_id, incoming.keys())
    now = datetime.now(UTC)
    to_write: list[dict[str, Any]] = []
    for clever_id, (entity, digest) in incoming.items():
        stored = existing.get(clever_id)
        if stored is not None and stored["source_position"] > position:
            outcome.stale += 1
            continue
        if stored is not None and not deleted:
            same = stored["content_hash"] == digest
            if same and stored["active"]:
                outcome.unchanged += 1
                continue
            if not stored["active"]:
                outcome.restored += 1
            else:
                outcome.updated += 1
        elif stored is not None and deleted:
            if stored["deleted"]:
                outcome.unchanged += 1
                continue
            outcome.updated += 1
        else:
            outcome.created += 1
        row = entity_row(entity)
        row.update(
            content_hash=digest,
            district_id=district_id,
            source_position=position,
            active=not deleted,
            deleted=deleted,
            deactivated_at=now if deleted else None,
            updated_at=now,
        )
        to_write.append(row)
        outcome.written_ids.append(clever_id)
    if to_write:
        write_rows(conn, table, to_write)
    return outcome


def write_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """The guarded upsert of a batch: on PostgreSQL one statement for the whole batch (the rows
    travel as one JSON document), elsewhere an executemany."""
    keys = tuple(rows[0].keys())
    statement = _guarded_upsert(table, keys, conn.dialect.name)
    if conn.dialect.name != "postgresql":
        conn.execute(statement, rows)
        return
    try:
        document = orjson.dumps(rows).decode()
    except TypeError:  # integers beyond 64 bits in an `ext` field
        document = json.dumps(rows, default=str)
    conn.execute(statement, {"rows": document})


def _existing(conn: Connection, table: Table, district_id: str, clever_ids: Iterable[str]) -> dict[str, Any]:
    ids = list(clever_ids)
    found: dict[str, Any] = {}
    columns = (
        table.c.clever_id,
        table.c.content_hash,
        table.c.source_position,
        table.c.active,
        table.c.deleted,
    )
    for start in range(0, len(ids), 5_000):  # stay well under SQLite's bound-parameter limit
        batch = ids[start : start + 5_000]
        query = select(*columns).where(table.c.district_id == district_id)
        if conn.dialect.name == "postgresql":
            # One array parameter instead of thousands of placeholders; and lock what we compare
            # against, so a concurrent writer cannot slip in between the comparison and the write
            # (SQLite serializes writers anyway).
            query = query.where(table.c.clever_id == any_(bindparam("ids", batch, type_=ARRAY(Text))))
            query = query.with_for_update()
        else:
            query = query.where(table.c.clever_id.in_(batch))
        found.update({r.clever_id: r._mapping for r in conn.execute(query)})
    return found


@functools.cache
def _guarded_upsert(table: Table, keys: tuple[str, ...], dialect: str) -> Any:
    """Built once per table and column set: building the statement costs more than an event's
    whole round trip to PostgreSQL."""
    if dialect == "postgresql":
        # Per-row INSERTs (what executemany sends) cost a round of parsing and planning per row;
        # here the batch arrives as one JSON document, unpacked by PostgreSQL.
        records = (
            func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
            .table_valued(*(column(key, table.c[key].type) for key in keys))
            .render_derived(with_types=True)
        )
        source = select(*(records.c[key] for key in keys))
        stmt: Any = postgresql.insert(table).from_select(list(keys), source)
    else:
        stmt = sqlite.insert(table)
    updatable = [k for k in keys if k not in _BOOKKEEPING and k not in _NEVER_SYNCED]
    return stmt.on_conflict_do_update(
        index_elements=[table.c.district_id, table.c.clever_id],
        set_={k: stmt.excluded[k] for k in updatable},
        where=(table.c.source_position <= stmt.excluded.source_position)
        & (
            table.c.content_hash.is_distinct_from(stmt.excluded.content_hash)
            | (table.c.active != stmt.excluded.active)
            | (table.c.deleted != stmt.excluded.deleted)
        ),
    )


def deactivate_entities(
    conn: Connection, table: Table, district_id: str, ids: list[str], position: str
) -> int:
    """Soft-delete rows Clever no longer shows, unless a newer source already wrote them."""
    done, now = 0, datetime.now(UTC)
    for start in range(0, len(ids), 5_000):
        result = conn.execute(
            update(table)
            .where(
                table.c.district_id == district_id,
                table.c.clever_id.in_(ids[start : start + 5_000]),
                table.c.active.is_(True),
                table.c.source_position <= position,
            )
            .values(active=False, deactivated_at=now, source_position=position, updated_at=now)
        )
        done += result.rowcount
    return done
