"""What the end of a full sync sweeps, read from real PostgreSQL (which sends the active ids as
one JSON array) and SQLite (a row each): both say what the domain's own set arithmetic says,
whatever rows, pages and other runs are stored."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from domain.deletion_guard import SweepFacts
from domain.entities import Term
from storage.seen import forget_run, record_seen, sweep_facts
from storage.tables import run_seen_pages, terms
from storage.upserts import upsert_entities

DISTRICT = "d" * 24
OTHER_DISTRICT = "e" * 24
RUN = "run-1"
IDS = [f"t{i}" for i in range(12)]


def store_terms(engine: Engine, district_id: str, active: set[str], inactive: set[str]) -> None:
    def rows(ids: set[str]) -> list[Term]:
        return [Term(clever_id=i, name=i, start_date=None, end_date=None) for i in sorted(ids)]

    with engine.begin() as conn:
        upsert_entities(conn, terms, district_id, rows(active | inactive), f"{1:024x}")
        upsert_entities(conn, terms, district_id, rows(inactive), f"{2:024x}", deleted=True)


def facts(engine: Engine, run_id: str = RUN) -> SweepFacts:
    with engine.connect() as conn:
        return sweep_facts(conn, terms, DISTRICT, run_id, "term")


def test_every_active_row_seen_leaves_nothing_to_sweep(engine: Engine) -> None:
    store_terms(engine, DISTRICT, active={"t1", "t2"}, inactive=set())
    with engine.begin() as conn:
        record_seen(conn, RUN, "term", ["t2", "t1"])
    assert facts(engine) == SweepFacts(active=2, unseen=(), saw_any=True)


def test_only_active_rows_of_the_district_that_the_run_did_not_see_are_unseen(engine: Engine) -> None:
    store_terms(engine, DISTRICT, active={"t1", "t2", "t3", "t4"}, inactive={"t5"})
    store_terms(engine, OTHER_DISTRICT, active={"t9"}, inactive=set())
    with engine.begin() as conn:
        record_seen(conn, RUN, "term", ["t1", "new"])  # an id with no row yet counts as seen
        record_seen(conn, RUN, "term", ["t1"])  # a redelivered page repeats its ids
        record_seen(conn, RUN, "classroom", ["t2"])  # another type's page
        record_seen(conn, "run-2", "term", ["t3"])  # another run's page
    assert facts(engine) == SweepFacts(active=4, unseen=("t2", "t3", "t4"), saw_any=True)


def test_a_run_that_saw_nothing_says_so(engine: Engine) -> None:
    store_terms(engine, DISTRICT, active={"t1"}, inactive=set())
    with engine.begin() as conn:
        record_seen(conn, "run-2", "term", ["t1"])
    assert facts(engine) == SweepFacts(active=1, unseen=("t1",), saw_any=False)
    assert facts(engine, "run-2") == SweepFacts(active=1, unseen=(), saw_any=True)
    with engine.begin() as conn:
        forget_run(conn, "run-2")
    assert facts(engine, "run-2").saw_any is False


def test_unseen_ids_come_whole_and_in_python_order(engine: Engine) -> None:
    odd = {"B", "a", "_", "Z9", "a-b", "ab", 'q"uote', "back\\slash", "é", "\u2028", "😀", "tab\t"}
    store_terms(engine, DISTRICT, active=odd, inactive=set())
    with engine.begin() as conn:
        record_seen(conn, RUN, "term", ["x"])
    assert facts(engine).unseen == tuple(sorted(odd))


id_sets = st.sets(st.sampled_from(IDS), max_size=len(IDS))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    active=id_sets,
    inactive=id_sets,
    pages=st.lists(st.lists(st.sampled_from([*IDS, "other"]), min_size=1, max_size=6), max_size=4),
)
def test_the_database_agrees_with_the_domain(
    engine: Engine, active: set[str], inactive: set[str], pages: list[list[str]]
) -> None:
    with engine.begin() as conn:
        conn.execute(delete(terms))
        conn.execute(delete(run_seen_pages))
        for page in pages:
            record_seen(conn, RUN, "term", page)
    store_terms(engine, DISTRICT, active=active - inactive, inactive=inactive)
    seen = {clever_id for page in pages for clever_id in page}
    assert facts(engine) == SweepFacts.of(active - inactive, seen)
