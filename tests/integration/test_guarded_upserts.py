"""The guarded upsert on real PostgreSQL and SQLite: unchanged rows are not rewritten, an older
position never overwrites a newer one, tombstones hold, and any order of the same updates
converges on the newest."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select

from domain.entities import Term
from storage import upserts
from storage.database import normalize_url
from storage.tables import terms
from storage.upserts import upsert_entities

DISTRICT = "d" * 24


def position(n: int) -> str:
    return f"{n:024x}"


def term(name: str, clever_id: str = "t1") -> Term:
    return Term(clever_id=clever_id, name=name, start_date="2026-08-01", end_date="2027-06-01")


def stored(engine: Engine) -> dict[str, tuple[str | None, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(select(terms.c.clever_id, terms.c.name, terms.c.source_position, terms.c.active))
        return {r.clever_id: (r.name, r.source_position, r.active) for r in rows}


def upsert(engine: Engine, entities: list[Term], at: int, *, deleted: bool = False) -> dict[str, int]:
    with engine.begin() as conn:
        return upsert_entities(conn, terms, DISTRICT, entities, position(at), deleted=deleted).as_counters()


def test_an_unchanged_entity_is_not_rewritten(engine: Engine) -> None:
    assert upsert(engine, [term("Fall")], 1)["created"] == 1
    with engine.connect() as conn:
        before = conn.execute(select(terms.c.updated_at)).scalar_one()
    assert upsert(engine, [term("Fall")], 2) == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
        "restored": 0,
        "outdated": 0,
    }
    with engine.connect() as conn:
        assert conn.execute(select(terms.c.updated_at)).scalar_one() == before
    assert stored(engine)["t1"][1] == position(1), "an unchanged row keeps its position"


def test_an_older_position_never_overwrites_a_newer_one(engine: Engine) -> None:
    upsert(engine, [term("Spring")], 5)
    assert upsert(engine, [term("Fall")], 3)["outdated"] == 1
    assert stored(engine)["t1"][0] == "Spring"


def test_a_tombstone_stops_an_older_page_and_a_newer_one_restores(engine: Engine) -> None:
    upsert(engine, [term("Fall")], 1)
    upsert(engine, [term("Fall")], 5, deleted=True)
    assert stored(engine)["t1"][2] is False
    assert upsert(engine, [term("Fall")], 4)["outdated"] == 1
    assert stored(engine)["t1"][2] is False
    assert upsert(engine, [term("Fall")], 6)["restored"] == 1
    assert stored(engine)["t1"][2] is True


def test_a_delete_for_an_entity_never_seen_leaves_a_tombstone(engine: Engine) -> None:
    upsert(engine, [term("Gone", "t9")], 7, deleted=True)
    assert upsert(engine, [term("Gone", "t9")], 6)["outdated"] == 1
    assert stored(engine)["t9"][2] is False


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(list(range(1, 7))), st.lists(st.integers(1, 6), max_size=4))
def test_any_order_of_updates_with_duplicates_converges_on_the_newest(
    engine: Engine, order: list[int], duplicates: list[int]
) -> None:
    with engine.begin() as conn:
        conn.execute(terms.delete())
    for n in [*order, *duplicates]:
        upsert(engine, [replace(term(f"v{n}"))], n)
    assert stored(engine)["t1"][:2] == ("v6", position(6))


def test_a_newer_write_landing_between_the_read_and_the_write_wins_and_counts_as_stale(
    clean_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(normalize_url(clean_postgres))
    upsert(engine, [term("Fall")], 1)
    read_before_the_race = upserts._existing

    def read_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        snapshot = read_before_the_race(*args, **kwargs)
        monkeypatch.setattr(upserts, "_existing", read_before_the_race)
        with engine.begin() as other:  # an event, committed while this page is being compared
            upsert_entities(other, terms, DISTRICT, [term("Winter")], position(9))
        return snapshot

    monkeypatch.setattr(upserts, "_existing", read_then_lose_the_race)
    with engine.begin() as conn:
        outcome = upsert_entities(conn, terms, DISTRICT, [term("Spring")], position(5))
    assert outcome.as_counters()["outdated"] == 1 and outcome.as_counters()["updated"] == 0
    assert outcome.written_ids == []
    assert stored(engine)["t1"][:2] == ("Winter", position(9))
    engine.dispose()


@pytest.mark.parametrize("read_first", [True, False])
def test_a_second_delete_leaves_the_tombstone_as_it_was(engine: Engine, read_first: bool) -> None:
    upsert(engine, [term("Fall")], 1, deleted=True)
    columns = (terms.c.name, terms.c.source_position, terms.c.deactivated_at, terms.c.updated_at)
    with engine.connect() as conn:
        before = conn.execute(select(*columns)).one()
    versions = [upserts.Version(term("Fall 2"), position(2), deleted=True)]
    with engine.begin() as conn:
        outcome = upserts.upsert_versions(conn, terms, DISTRICT, versions, read_first=read_first)
    assert outcome.written_ids == []
    with engine.connect() as conn:
        assert conn.execute(select(*columns)).one() == before
