"""A page of 1,000 rows reaches PostgreSQL as one JSON document: the rows stored, the guard and
the rows reported written are exactly those of the same rows upserted one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Table, create_engine, select

from domain.entities import Tenant, TenantKind, Term
from storage.database import normalize_url
from storage.tables import tenants, terms
from storage.upserts import upsert_entities

PAGED, ONE_BY_ONE = "p" * 24, "o" * 24  # one district per way
COMPARED = ("clever_id", "name", "start_date", "content_hash", "source_position", "active", "deleted")


def position(n: int) -> str:
    return f"{n:024x}"


@pytest.fixture
def engine(clean_postgres: str) -> Iterator[Engine]:
    built = create_engine(normalize_url(clean_postgres))
    yield built
    built.dispose()


def term(n: int, name: str) -> Term:
    return Term(clever_id=f"t{n:04d}", name=name, start_date="2026-08-01", end_date=None)


def upsert(engine: Engine, district: str, entities: list[Any], at: int, **kw: Any) -> dict[str, int]:
    table = terms if isinstance(entities[0], Term) else tenants
    with engine.begin() as conn:
        return upsert_entities(conn, table, district, entities, position(at), **kw).as_counters()


def stored(engine: Engine, district: str, table: Table = terms) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.district_id == district))
        return {r.clever_id: tuple(r._mapping[c] for c in COMPARED if c in table.c) for r in rows}


def upsert_one_by_one(
    engine: Engine, district: str, entities: list[Any], at: int, **kw: Any
) -> dict[str, int]:
    totals: dict[str, int] = {}
    hashes = kw.pop("source_hashes", None) or [None] * len(entities)
    for entity, source in zip(entities, hashes, strict=True):
        for name, count in upsert(engine, district, [entity], at, source_hashes=[source], **kw).items():
            totals[name] = totals.get(name, 0) + count
    return totals


def test_a_page_in_one_document_stores_and_counts_what_one_row_at_a_time_does(engine: Engine) -> None:
    page = [term(n, f"Term {n}") for n in range(1_000)]
    newer = [term(n, f"Renamed {n}") for n in range(0, 1_000, 3)]
    older = [term(n, f"Old {n}") for n in range(1, 1_000, 3)]
    counted = {}
    for district, write in ((PAGED, upsert), (ONE_BY_ONE, upsert_one_by_one)):
        counted[district] = [
            write(engine, district, page, 5),
            write(engine, district, page, 6),  # unchanged: nothing written
            write(engine, district, newer + older[:100], 7, source_hashes=None),
            write(engine, district, older, 4),  # older than what is stored: ignored
            write(engine, district, page[:400], 8, deleted=True),
        ]
    assert counted[PAGED] == counted[ONE_BY_ONE]
    assert counted[PAGED][0]["created"] == 1_000 and counted[PAGED][1]["unchanged"] == 1_000
    assert counted[PAGED][3]["outdated"] == len(older)
    assert stored(engine, PAGED) == stored(engine, ONE_BY_ONE)
    assert sum(1 for row in stored(engine, PAGED).values() if row[-1]) == 400  # tombstones


UNREAD, READ = "u" * 24, "r" * 24  # a first sync's page written without reading, and read first


def test_a_first_syncs_page_written_without_reading_stores_and_counts_what_reading_first_does(
    engine: Engine,
) -> None:
    # Events racing the first sync wrote some of the page's rows before it was applied: newer
    # ones (the page is outdated for them) and older ones (the page overwrites them).
    page = [term(n, f"Term {n}") for n in range(1_000)]
    counted = {}
    for district, unread in ((UNREAD, True), (READ, False)):
        upsert(engine, district, [term(n, f"Event {n}") for n in range(0, 1_000, 7)], 9)
        upsert(engine, district, [term(n, f"Old event {n}") for n in range(3, 1_000, 7)], 2)
        counted[district] = upsert(engine, district, page, 5, table_was_empty=unread)
    assert counted[UNREAD] == counted[READ] == {
        "created": 1_000 - 143 - 143, "updated": 143, "unchanged": 0, "restored": 0, "outdated": 143,
    }  # fmt: skip
    assert stored(engine, UNREAD) == stored(engine, READ)
    assert stored(engine, UNREAD)["t0007"][1] == "Event 7"  # the newer event's row is kept


def test_without_reading_a_row_an_event_wrote_identically_counts_as_outdated(engine: Engine) -> None:
    # The one count that differs from reading first (which says unchanged): an event racing the
    # first sync wrote exactly what the page holds, and the guard refuses it without saying why.
    upsert(engine, UNREAD, [term(1, "Same")], 4)
    assert upsert(engine, UNREAD, [term(1, "Same"), term(2, "New")], 5, table_was_empty=True) == {
        "created": 1, "updated": 0, "unchanged": 0, "restored": 0, "outdated": 1,
    }  # fmt: skip


def test_batches_of_one_transaction_and_after_a_rollback_each_write_only_their_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        first = upsert_entities(conn, terms, PAGED, [term(1, "A"), term(2, "B")], position(1))
        second = upsert_entities(conn, terms, PAGED, [term(1, "A1"), term(3, "C")], position(2))
    assert (first.written_ids, second.written_ids) == (["t0001", "t0002"], ["t0001", "t0003"])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        upsert_entities(conn, terms, PAGED, [term(4, "D")], position(2))
        raise RuntimeError("the page failed after writing")
    assert upsert(engine, PAGED, [term(4, "D"), term(1, "A2")], 3) == {
        "created": 1, "updated": 1, "unchanged": 0, "restored": 0, "outdated": 0,
    }  # fmt: skip
    assert {k: v[1] for k, v in stored(engine, PAGED).items()} == {
        "t0001": "A2", "t0002": "B", "t0003": "C", "t0004": "D",
    }  # fmt: skip


def test_a_position_from_the_future_is_repaired_and_json_columns_keep_big_integers(engine: Engine) -> None:
    school = Tenant(
        clever_id="s1", kind=TenantKind.SCHOOL, parent_clever_id="d1", name="North",
        ext={"bell": {"id": 2**70}, "periods": [1, 2]},
    )  # fmt: skip
    year_2097 = "f0000000" + "0" * 16  # an id's first 8 hex digits are its time
    with engine.begin() as conn:
        upsert_entities(conn, tenants, PAGED, [school], year_2097)
    assert upsert(engine, PAGED, [school], 7)["updated"] == 1  # same content, position replaced
    with engine.connect() as conn:
        row = conn.execute(select(tenants.c.ext, tenants.c.source_position)).one()
    assert row.ext == {"bell": {"id": 2**70}, "periods": [1, 2]} and row.source_position == position(7)
