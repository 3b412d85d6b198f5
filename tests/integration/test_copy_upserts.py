"""Large batches reach PostgreSQL by COPY through a temporary table: the rows stored, the guard
and the rows reported written are exactly those of the JSON-document path smaller batches take."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Table, create_engine, select, text

from domain.entities import Tenant, TenantKind, Term
from storage import upserts
from storage.database import normalize_url
from storage.tables import tenants, terms
from storage.upserts import upsert_entities

COPIED, SENT_AS_JSON = "c" * 24, "j" * 24  # one district per path
COMPARED = ("clever_id", "name", "start_date", "content_hash", "source_position", "active", "deleted")


def position(n: int) -> str:
    return f"{n:024x}"


@pytest.fixture
def engine(clean_postgres: str) -> Iterator[Engine]:
    built = create_engine(normalize_url(clean_postgres))
    yield built
    built.dispose()


@pytest.fixture
def copy_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upserts, "COPY_FROM_ROWS", 1)


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


def test_a_page_by_copy_stores_and_counts_what_the_json_document_does(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert upserts.COPY_FROM_ROWS <= 1_000  # a full page takes the COPY path by default
    page = [term(n, f"Term {n}") for n in range(1_000)]
    newer = [term(n, f"Renamed {n}") for n in range(0, 1_000, 3)]
    older = [term(n, f"Old {n}") for n in range(1, 1_000, 3)]
    counted = {}
    for district, threshold in ((COPIED, upserts.COPY_FROM_ROWS), (SENT_AS_JSON, 10**9)):
        monkeypatch.setattr(upserts, "COPY_FROM_ROWS", threshold)
        counted[district] = [
            upsert(engine, district, page, 5),
            upsert(engine, district, page, 6),  # unchanged: nothing written
            upsert(engine, district, newer + older[:100], 7, source_hashes=None),
            upsert(engine, district, older, 4),  # older than what is stored: ignored
            upsert(engine, district, page[:400], 8, deleted=True),
        ]
    assert counted[COPIED] == counted[SENT_AS_JSON]
    assert counted[COPIED][0]["created"] == 1_000 and counted[COPIED][1]["unchanged"] == 1_000
    assert counted[COPIED][3]["outdated"] == len(older)
    assert stored(engine, COPIED) == stored(engine, SENT_AS_JSON)
    assert sum(1 for row in stored(engine, COPIED).values() if row[-1]) == 400  # tombstones


@pytest.mark.usefixtures("copy_every_batch")
def test_batches_of_one_transaction_and_after_a_rollback_each_write_only_their_rows(engine: Engine) -> None:
    with engine.begin() as conn:  # the temporary table is emptied by the statement that reads it
        first = upsert_entities(conn, terms, COPIED, [term(1, "A"), term(2, "B")], position(1))
        second = upsert_entities(conn, terms, COPIED, [term(1, "A1"), term(3, "C")], position(2))
        stages = conn.execute(
            text("SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()")
        ).scalars()
        assert [conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in stages] == [0]
    assert (first.written_ids, second.written_ids) == (["t0001", "t0002"], ["t0001", "t0003"])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        upsert_entities(conn, terms, COPIED, [term(4, "D")], position(2))
        raise RuntimeError("the page failed after writing")
    assert upsert(engine, COPIED, [term(4, "D"), term(1, "A2")], 3) == {
        "created": 1, "updated": 1, "unchanged": 0, "restored": 0, "outdated": 0,
    }  # fmt: skip
    assert {k: v[1] for k, v in stored(engine, COPIED).items()} == {
        "t0001": "A2", "t0002": "B", "t0003": "C", "t0004": "D",
    }  # fmt: skip


@pytest.mark.usefixtures("copy_every_batch")
def test_a_position_from_the_future_is_repaired_and_json_columns_keep_big_integers(engine: Engine) -> None:
    school = Tenant(
        clever_id="s1", kind=TenantKind.SCHOOL, parent_clever_id="d1", name="North",
        ext={"bell": {"id": 2**70}, "periods": [1, 2]},
    )  # fmt: skip
    year_2097 = "f0000000" + "0" * 16  # an id's first 8 hex digits are its time
    with engine.begin() as conn:
        upsert_entities(conn, tenants, COPIED, [school], year_2097)
    assert upsert(engine, COPIED, [school], 7)["updated"] == 1  # same content, position replaced
    with engine.connect() as conn:
        row = conn.execute(select(tenants.c.ext, tenants.c.source_position)).one()
    assert row.ext == {"bell": {"id": 2**70}, "periods": [1, 2]} and row.source_position == position(7)
