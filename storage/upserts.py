"""Guarded multi-row upserts of synced entities: one SELECT and at most one INSERT per batch.

A row is written only when its content hash differs (or it was inactive) and the incoming
source position is not older than the stored one, so redeliveries, replays and out-of-order
events converge and an unchanged reconcile writes nothing. The comparison reads without locking
(a row lock is itself a write: locking a page of unchanged rows would dirty every heap page it
touches); the same guard is repeated in the SQL `ON CONFLICT ... WHERE`, which keeps concurrent
writers safe, and the statement returns the rows it wrote, so the counters stay exact when a
newer write lands between the read and the write.

A stored position from the future (beyond now plus the allowed clock skew: a sender's clock ran
ahead, or a forged id) orders nothing: any source may overwrite that row, and the row then takes
the writer's position, so a full sync repairs what such a position pinned.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import orjson
from sqlalchemy import (
    Boolean,
    Connection,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSON, JSONB

from domain.entities import Entity, field_names
from domain.hashing import content_hash
from domain.positions import DEFAULT_CLOCK_SKEW_SECONDS, future_bound
from storage.database import json_array_set, one_json_array

_BOOKKEEPING = {"id", "district_id", "clever_id", "created_at"}
_NEVER_SYNCED = {"override_role", "override_set_by", "override_set_at"}

Change = Literal["created", "updated", "restored", "unchanged", "stale"]


@dataclass
class UpsertOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    stale: int = 0  # older than what is stored; ignored
    written_ids: list[str] = field(default_factory=list)

    def count(self, change: Change) -> None:
        setattr(self, change, getattr(self, change) + 1)

    def as_counters(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "restored": self.restored,
            # The run counter's documented name; runs stored before it say "stale".
            "outdated": self.stale,
        }


def entity_row(entity: Entity) -> dict[str, Any]:
    """Entity → column values. Tuples and string enums stay as they are: JSON (the document
    PostgreSQL unpacks, SQLAlchemy's JSON type elsewhere) writes them as arrays and values."""
    # Not asdict(): it deep-copies every value, a hot spot per page.
    return {name: getattr(entity, name) for name in field_names(type(entity))}


class Version(NamedTuple):
    """One source's state of an entity: what it says, where in Clever's order, and whether it
    says the entity was deleted."""

    entity: Entity
    position: str
    deleted: bool = False
    source_hash: str | None = None  # of the Clever object the entity was mapped from


def upsert_entities(
    conn: Connection,
    table: Table,
    district_id: str,
    entities: Sequence[Entity],
    position: str,
    *,
    deleted: bool = False,
    source_hashes: Sequence[str | None] | None = None,
    skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
    table_was_empty: bool = False,
) -> UpsertOutcome:
    """Write entities that changed; `deleted` writes tombstones (inactive, kept for ordering)."""
    sources = source_hashes if source_hashes is not None else [None] * len(entities)
    versions = [Version(e, position, deleted, h) for e, h in zip(entities, sources, strict=True)]
    return upsert_versions(
        conn, table, district_id, versions, skew_seconds=skew_seconds, read_first=not table_was_empty
    )


def _future_after(skew_seconds: float) -> str:
    """Stored positions above this came from the future and order nothing."""
    return future_bound(datetime.now(UTC), skew_seconds)


def has_rows(conn: Connection, table: Table, district_id: str) -> bool:
    query = select(table.c.id).where(table.c.district_id == district_id).limit(1)
    return conn.execute(query).first() is not None


def unchanged_sources(
    conn: Connection,
    table: Table,
    district_id: str,
    hashes: Mapping[str, str],
    *,
    skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
) -> set[str]:
    """The ids whose active row was mapped from exactly this Clever object (same source hash):
    a sync may count them unchanged without mapping them again. A row pinned by a position from
    the future is never among them, so the sync rewrites it with its own position."""
    future_after = _future_after(skew_seconds)
    if conn.dialect.name == "postgresql":
        # Compared in PostgreSQL: only the matching ids come back, not a row per object.
        params = {
            "wanted": orjson.dumps(hashes).decode(),
            "district_id": district_id,
            "future_after": future_after,
        }
        return json_array_set(conn.execute(_same_source(table), params).scalar_one())
    stored = _existing(conn, table, district_id, hashes.keys())
    return {
        clever_id
        for clever_id, row in stored.items()
        if row.active
        and not row.deleted
        and row.source_hash == hashes[clever_id]
        and row.source_position <= future_after
    }


def upsert_versions(
    conn: Connection,
    table: Table,
    district_id: str,
    versions: Sequence[Version],
    *,
    skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
    read_first: bool = True,
) -> UpsertOutcome:
    """Write the versions that change something, each guarded by its own position.

    `read_first=False`, on PostgreSQL: nothing stored is read; every version is written under
    the same guard (which decides as `_change` does), and the database says which rows it
    inserted, updated or refused. A refused version counts as outdated (a newer one was stored,
    or exactly this one: reading first would have said unchanged), an overwritten row as
    updated, and an unchanged row's source hash is left as it was (the next sync maps that
    object again and records it). A first sync passes it, since a read would find only the rows
    events wrote since the sync began; so do events, which need only which rows were written."""
    outcome = UpsertOutcome()
    # Per id the newest position wins, and the last one among equals (a page repeating an id).
    # Rows are built only for what will be written: in a nightly reconcile that is almost nothing.
    newest: dict[str, Version] = {}
    for version in versions:
        seen = newest.get(version.entity.clever_id)
        if seen is not None and seen.position > version.position:
            outcome.stale += 1
            continue
        newest[version.entity.clever_id] = version
    if not newest:
        return outcome
    unread = not read_first and conn.dialect.name == "postgresql"
    existing = {} if unread else _existing(conn, table, district_id, newest.keys())
    now = datetime.now(UTC)
    future_after = future_bound(now, skew_seconds)
    to_write: list[tuple[dict[str, Any], Change]] = []  # (row, the counter it goes to once written)
    refresh: list[dict[str, str]] = []  # unchanged rows whose source hash is missing or outdated
    for clever_id, (entity, position, deleted, source) in newest.items():
        digest = content_hash(entity)
        stored = existing.get(clever_id)
        change = _change(stored, digest, position, deleted, future_after)
        if change in ("stale", "unchanged"):
            outcome.count(change)
            if (
                change == "unchanged"
                and source is not None
                and stored is not None
                and stored.source_hash != source
            ):
                refresh.append({"b_clever_id": clever_id, "b_content_hash": digest, "b_source_hash": source})
            continue
        row = entity_row(entity)
        row.update(
            content_hash=digest,
            source_hash=source,
            district_id=district_id,
            source_position=position,
            active=not deleted,
            deleted=deleted,
            deactivated_at=now if deleted else None,
            updated_at=now,
        )
        to_write.append((row, change))
    # Rows in id order, so concurrent writers of overlapping batches take row locks in one order.
    if refresh:
        _refresh_source_hashes(conn, table, district_id, sorted(refresh, key=lambda r: r["b_clever_id"]))
    if not to_write:
        return outcome
    to_write.sort(key=lambda pair: pair[0]["clever_id"])
    written = write_rows(conn, table, [row for row, _ in to_write], future_after=future_after)
    for row, change in to_write:
        inserted = written.get(row["clever_id"])
        if inserted is None:
            outcome.stale += 1  # a newer source wrote the row after we read it
            continue
        outcome.count(("created" if inserted else "updated") if unread else change)
        outcome.written_ids.append(row["clever_id"])
    return outcome


def _refresh_source_hashes(
    conn: Connection, table: Table, district_id: str, rows: list[dict[str, str]]
) -> None:
    """Record which Clever object an unchanged row now comes from (it changed only in what the
    mapping ignores, or the row predates source hashes), so the next sync can skip it. Not a
    change of the row: neither its position nor `updated_at` moves."""
    statement = (
        update(table)
        .where(
            table.c.district_id == district_id,
            table.c.clever_id == bindparam("b_clever_id"),
            table.c.content_hash == bindparam("b_content_hash"),  # unless a newer write came first
        )
        .values(source_hash=bindparam("b_source_hash"))
    )
    conn.execute(statement, rows)


@functools.cache
def _same_source(table: Table) -> Any:
    """The ids whose active row has the wanted source hash, one index probe per id, as one
    JSON array (NULL when there are none)."""
    # The pairs travel as one JSON object ({id: hash}): encoding two arrays of thousands of
    # strings costs the client more than the whole comparison costs PostgreSQL. The ids come
    # back the same way: in a nightly reconcile every id of a page matches, and 1,000 rows cost
    # the crawl about four times the CPU one array does.
    wanted = (
        func.jsonb_each_text(cast(bindparam("wanted", type_=Text), JSONB))
        .table_valued("key", "value")
        .render_derived(name="wanted")
    )
    same = _probe_each(
        wanted,
        wanted.c.key,
        table,
        (table.c.clever_id,),
        table.c.source_hash == wanted.c.value,
        table.c.active.is_(True),
        table.c.deleted.is_(False),
        table.c.source_position <= bindparam("future_after"),
    ).subquery("same")
    return select(one_json_array(same.c.clever_id))


def _change(stored: Any, digest: str, position: str, deleted: bool, future_after: str) -> Change:
    """What writing this version would be: created, updated, restored, unchanged or stale."""
    if stored is None:
        return "created"
    # A row pinned by a position from the future is rewritten even when its content is the
    # same: the point is to replace that position.
    pinned = stored.source_position > future_after
    if stored.source_position > position and not pinned:
        return "stale"
    if deleted:
        return "unchanged" if stored.deleted and not pinned else "updated"
    if not stored.active:
        return "restored"
    return "unchanged" if stored.content_hash == digest and not pinned else "updated"


def write_rows(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, future_after: str
) -> dict[str, bool]:
    """The guarded upsert of a batch; returns the Clever ids it wrote, each with whether its row
    was inserted (False: an existing row was updated). On PostgreSQL one statement for the whole
    batch (the rows travel as one JSON document), elsewhere an executemany, after which every row
    counts as written and inserted (SQLite's callers read what is stored first).
    `future_after`: stored positions above it came from the future and guard nothing.

    COPY into a temporary table was the other way for large batches. For pages of 1,000
    classrooms it took as long, but psycopg formats its rows one value at a time in Python:
    2.5-3x the client CPU of the document (23-28 against 7-10 microseconds a row), while
    PostgreSQL spends a little more reading the document. The apply is bound by its own Python,
    so the document wins."""
    keys = tuple(rows[0].keys())
    if conn.dialect.name != "postgresql":
        # SQLite lets one writer at a time in and fails a transaction whose reads went stale,
        # so every row compared above is written.
        statement = _guarded_upsert(table, keys, conn.dialect.name)
        conn.execute(statement, [{**row, "future_after": future_after} for row in rows])
        return dict.fromkeys((row["clever_id"] for row in rows), True)
    try:
        document = orjson.dumps(rows).decode()
    except TypeError:  # integers beyond 64 bits in an `ext` field
        document = json.dumps(rows, default=str)
    params = {"rows": document, "future_after": future_after}
    written = conn.execute(_upsert_returning_inserted(table, keys), params)
    return {clever_id: inserted for clever_id, inserted in written}


@functools.cache
def _upsert_returning_inserted(table: Table, keys: tuple[str, ...]) -> Any:
    # A row the statement inserted has no xmax yet; one it updated carries the writing
    # transaction's id there (how ON CONFLICT DO UPDATE's two outcomes are told apart).
    inserted = literal_column(f'("{table.name}".xmax = 0)', Boolean)
    return _guarded_upsert(table, keys, "postgresql").returning(table.c.clever_id, inserted)


def _existing(conn: Connection, table: Table, district_id: str, clever_ids: Iterable[str]) -> dict[str, Any]:
    ids = list(clever_ids)
    if conn.dialect.name == "postgresql":
        # The ids travel as one JSON array: psycopg dumps a list of strings element by element.
        params = {"ids": orjson.dumps(ids).decode(), "district_id": district_id}
        rows = conn.execute(_stored_by_id(table), params)
        return {r.clever_id: r for r in rows}  # rows, not mappings: a page reads thousands
    found: dict[str, Any] = {}
    for start in range(0, len(ids), 5_000):  # stay well under SQLite's bound-parameter limit
        query = select(*_compared_columns(table)).where(
            table.c.district_id == district_id, table.c.clever_id.in_(ids[start : start + 5_000])
        )
        found.update({r.clever_id: r for r in conn.execute(query)})
    return found


def _compared_columns(table: Table) -> tuple[Any, ...]:
    return (
        table.c.clever_id,
        table.c.content_hash,
        table.c.source_hash,
        table.c.source_position,
        table.c.active,
        table.c.deleted,
    )


@functools.cache
def _stored_by_id(table: Table) -> Any:
    wanted = (
        func.json_array_elements_text(cast(bindparam("ids", type_=Text), JSON))
        .table_valued("value")
        .render_derived(name="wanted")
    )
    return _probe_each(wanted, wanted.c.value, table, _compared_columns(table))


def _probe_each(wanted: Any, clever_id: Any, table: Table, columns: Sequence[Any], *conditions: Any) -> Any:
    """For each row of `wanted`, the district's row with that `clever_id`, through one
    unique-index probe per id whatever the planner believes about the table.

    `clever_id = ANY(:ids)` leaves the plan to the statistics, and while a first sync fills the
    table they say it is nearly empty: the planner then filters every row of the district
    against the whole array, page after page. A LATERAL subquery with LIMIT is never flattened
    into a join, so each id is looked up through (district_id, clever_id).
    """
    found = (
        select(*columns)
        .where(table.c.district_id == bindparam("district_id"), table.c.clever_id == clever_id, *conditions)
        .limit(1)
        .lateral("found")
    )
    return select(found).select_from(wanted).join(found, true())


@functools.cache
def _guarded_upsert(table: Table, keys: tuple[str, ...], dialect: str) -> Any:
    """Built once per table and column set: building the statement costs more than an event's
    whole round trip to PostgreSQL."""
    if dialect == "postgresql":
        # Per-row INSERTs (what executemany sends) cost a round of parsing and planning per row;
        # here the batch arrives as one JSON document, unpacked by PostgreSQL. As `json`, not
        # `jsonb`: read once, instead of first built into a binary document (on pages of 1,000
        # classrooms, about a sixth less of PostgreSQL's CPU).
        records = (
            func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON))
            .table_valued(*(column(key, table.c[key].type) for key in keys))
            .render_derived(with_types=True)
        )
        source = select(*(records.c[key] for key in keys))
        stmt: Any = postgresql.insert(table).from_select(list(keys), source)
    else:
        stmt = sqlite.insert(table)
    return _guarded(table, stmt, keys)


def _guarded(table: Table, stmt: Any, keys: tuple[str, ...]) -> Any:
    """ON CONFLICT: write a row only when it changed and the incoming position is not older,
    unless the stored position came from the future; as `_change` decides, so a write made
    without reading first ends as one made after reading."""
    updatable = [k for k in keys if k not in _BOOKKEEPING and k not in _NEVER_SYNCED]
    pinned = table.c.source_position > bindparam("future_after", type_=Text)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.district_id, table.c.clever_id],
        set_={k: stmt.excluded[k] for k in updatable},
        where=((table.c.source_position <= stmt.excluded.source_position) | pinned)
        & (
            table.c.content_hash.is_distinct_from(stmt.excluded.content_hash)
            | (table.c.active != stmt.excluded.active)
            | (table.c.deleted != stmt.excluded.deleted)
            | pinned
        )
        # A tombstone is not rewritten by another delete, whatever that delete carried.
        & ~(table.c.deleted & stmt.excluded.deleted & ~pinned),
    )


def deactivate_entities(
    conn: Connection,
    table: Table,
    district_id: str,
    ids: list[str],
    position: str,
    *,
    skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
) -> int:
    """Soft-delete rows Clever no longer shows, unless a newer source already wrote them (a
    position from the future is not newer)."""
    done, now = 0, datetime.now(UTC)
    future_after = future_bound(now, skew_seconds)
    for start in range(0, len(ids), 5_000):
        result = conn.execute(
            update(table)
            .where(
                table.c.district_id == district_id,
                table.c.clever_id.in_(ids[start : start + 5_000]),
                table.c.active.is_(True),
                (table.c.source_position <= position) | (table.c.source_position > future_after),
            )
            .values(active=False, deactivated_at=now, source_position=position, updated_at=now)
        )
        done += result.rowcount
    return done
