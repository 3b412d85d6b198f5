"""A run that filled a table leaves PostgreSQL's planner counting its rows; a run that changed
little of it, or too few rows to matter, leaves the statistics to autovacuum."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from domain.entities import Term
from storage.database import make_engine, normalize_url
from storage.migrate import upgrade
from storage.planner_statistics import BULK_ROWS, STALE_SHARE, analyze_after_bulk_change
from storage.tables import terms
from storage.upserts import upsert_entities

DISTRICT = "d" * 24


@pytest.fixture
def engine(clean_postgres: str) -> Iterator[Engine]:
    built = create_engine(normalize_url(clean_postgres))
    yield built
    built.dispose()


def load_terms(conn: Connection, count: int, start: int = 0) -> None:
    rows = [
        Term(clever_id=f"t{i}", name=f"Term {i}", start_date=None, end_date=None) for i in range(start, count)
    ]
    upsert_entities(conn, terms, DISTRICT, rows, f"{1:024x}", table_was_empty=True)


def counted_rows(conn: Connection) -> float:
    return float(
        conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'terms'::regclass")).scalar_one()
    )


def test_a_bulk_load_is_analyzed_and_a_small_change_is_not(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE terms"))  # no statistics: the planner counts -1 or 0 rows
        load_terms(conn, 2 * BULK_ROWS)
    with engine.begin() as conn:
        assert counted_rows(conn) <= 0
        assert analyze_after_bulk_change(conn, terms, 2 * BULK_ROWS)
    with engine.begin() as conn:
        assert counted_rows(conn) == 2 * BULK_ROWS

        load_terms(conn, 2 * BULK_ROWS + 100, start=2 * BULK_ROWS)
        assert not analyze_after_bulk_change(conn, terms, 100), "too few rows to matter"
        assert counted_rows(conn) == 2 * BULK_ROWS

        load_terms(conn, 5 * BULK_ROWS, start=2 * BULK_ROWS + 100)
        assert analyze_after_bulk_change(conn, terms, 3 * BULK_ROWS - 100)
        assert counted_rows(conn) == 5 * BULK_ROWS


def test_a_change_of_at_most_a_tenth_of_a_large_table_is_left_to_autovacuum(engine: Engine) -> None:
    counted = 12 * BULK_ROWS
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE terms"))
        load_terms(conn, counted)
        assert analyze_after_bulk_change(conn, terms, counted)
    with engine.begin() as conn:
        load_terms(conn, counted + BULK_ROWS + 200, start=counted)
        assert not analyze_after_bulk_change(conn, terms, int(counted * STALE_SHARE)), "exactly a tenth"
        assert counted_rows(conn) == counted
        assert analyze_after_bulk_change(conn, terms, int(counted * STALE_SHARE) + 1)
        assert counted_rows(conn) == counted + BULK_ROWS + 200


def test_sqlite_is_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.sqlite3'}"
    upgrade(url)
    sqlite = make_engine(url)
    try:
        with sqlite.begin() as conn:
            load_terms(conn, BULK_ROWS)
            assert not analyze_after_bulk_change(conn, terms, BULK_ROWS)
    finally:
        sqlite.dispose()


def test_a_table_being_vacuumed_or_analyzed_elsewhere_is_not_waited_for(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE terms"))
        load_terms(conn, 2 * BULK_ROWS)
    with engine.connect() as holder:
        # The lock VACUUM and ANALYZE take, held as autovacuum or another finish would hold it.
        holder.execute(text("LOCK TABLE terms IN SHARE UPDATE EXCLUSIVE MODE"))
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))  # a wait would fail, not hang
            assert not analyze_after_bulk_change(conn, terms, 2 * BULK_ROWS), "skipped"
            assert counted_rows(conn) <= 0, "left to whoever holds the table"
            conn.execute(text("SELECT 1"))  # the transaction goes on
        holder.rollback()
