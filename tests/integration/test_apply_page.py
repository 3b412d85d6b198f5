"""One apply message on real PostgreSQL: applied once, a redelivery changes nothing, a stale
generation is dropped, and a page with one bad object is rejected whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.apply import apply_page
from services.mapping_for_apply import InvalidPage, role_rules, source_hashes
from storage import connections, runs
from storage.seen import seen_ids
from storage.tables import classrooms, processed_messages, staff_users, terms
from storage.upserts import deactivate_entities, unchanged_sources

DISTRICT = "5a0c0b7e8f1d2c3b4a596877"
POSITION = "6000000000000000000000aa"


@pytest.fixture
def rt(clean_postgres: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=clean_postgres, encryption_keys=()), broker=make_broker(None))
    with runtime.engine.begin() as conn:
        connections.save_connection(
            conn, DISTRICT, name="Test", token_ciphertext="x:y", token_id=None, scopes=[], authorized_by=None
        )
    yield runtime
    runtime.engine.dispose()


def start_run(rt: Runtime) -> str:
    with rt.engine.begin() as conn:
        run_id = runs.create_run(conn, DISTRICT, kind="full", generation=1, requested_by="test")
        runs.update_run(conn, run_id, status="running")
    return run_id


def teacher(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"{n:024x}",
        "district": DISTRICT,
        "name": {"first": "Zoë", "last": "O'Brien"},
        "email": f"t{n}@example.org",
        "roles": {"teacher": {"title": "Grade 3 Teacher", "school": "s1", "schools": ["s1"]}},
        **changes,
    }


def apply(rt: Runtime, run_id: str, key: str, items: list[dict[str, Any]], **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        district_id=DISTRICT,
        run_id=run_id,
        generation=1,
        resource="users:teacher",
        key=key,
        position=POSITION,
        items=items,
        principals={},
    )
    args.update(kw)
    return apply_page(rt, **args)


def count(rt: Runtime, table: Any) -> int:
    with rt.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_same_page_applied_twice_changes_nothing(rt: Runtime) -> None:
    run_id = start_run(rt)
    page = [teacher(1), teacher(2)]
    assert apply(rt, run_id, f"{run_id}:users:teacher:0:0", page)["created"] == 2
    with rt.engine.connect() as conn:
        before = conn.execute(select(staff_users.c.updated_at).order_by(staff_users.c.id)).all()
    assert apply(rt, run_id, f"{run_id}:users:teacher:0:0", page) is None
    with rt.engine.connect() as conn:
        after = conn.execute(select(staff_users.c.updated_at).order_by(staff_users.c.id)).all()
    assert before == after
    assert count(rt, processed_messages) == 1
    with rt.engine.connect() as conn:
        _, totals = runs.page_totals(conn, run_id)
    assert totals["staff"]["created"] == 2


def test_an_unchanged_entity_under_another_key_counts_as_unchanged(rt: Runtime) -> None:
    run_id = start_run(rt)
    apply(rt, run_id, "k1", [teacher(1)])
    assert apply(rt, run_id, "k2", [teacher(1)])["unchanged"] == 1
    assert apply(rt, run_id, "k3", [teacher(1, email="new@example.org")])["updated"] == 1


def test_a_message_of_an_older_generation_is_dropped(rt: Runtime) -> None:
    run_id = start_run(rt)
    with rt.engine.begin() as conn:
        connections.disconnect(conn, DISTRICT)
    assert apply(rt, run_id, "k1", [teacher(1)]) is None
    assert count(rt, staff_users) == 0


def test_a_page_with_one_bad_object_is_rejected_whole(rt: Runtime) -> None:
    run_id = start_run(rt)
    with pytest.raises(InvalidPage, match="item 1"):
        apply(rt, run_id, "k1", [teacher(1), {"name": "no id"}])
    assert count(rt, staff_users) == 0
    assert count(rt, processed_messages) == 0


def test_sections_never_keep_students(rt: Runtime) -> None:
    run_id = start_run(rt)
    section = {
        "id": "5" * 24,
        "district": DISTRICT,
        "school": "s1",
        "name": "Algebra",
        "teacher": "t1",
        "teachers": ["t2", "t1"],
        "students": ["a" * 24],
        "period": "3",
    }
    apply(rt, run_id, "k1", [section], resource="sections")
    with rt.engine.connect() as conn:
        row = conn.execute(select(classrooms)).one()
    assert row.teacher_clever_ids == ["t1", "t2"]
    assert "a" * 24 not in str(row._mapping)


TERM = {
    "id": "1" * 24,
    "district": DISTRICT,
    "name": "S1",
    "start_date": "2026-08-20",
    "end_date": "2026-12-20",
}


def test_a_term_whose_id_churned_updates_in_place(rt: Runtime) -> None:
    first, second = start_run(rt), None
    term = TERM
    apply(rt, first, "k1", [term], resource="terms")
    with rt.engine.begin() as conn:
        runs.finish_run(conn, first, "succeeded")
    second = start_run(rt)
    assert apply(rt, second, "k2", [{**term, "id": "2" * 24}], resource="terms")["unchanged"] == 0
    with rt.engine.connect() as conn:
        rows = conn.execute(select(terms.c.clever_id, terms.c.name)).all()
    assert rows == [("2" * 24, "S1")]


def sources(rt: Runtime) -> dict[str, tuple[str | None, Any]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(staff_users.c.clever_id, staff_users.c.source_hash, staff_users.c.updated_at)
        )
        return {r.clever_id: (r.source_hash, r.updated_at) for r in rows}


def test_objects_exactly_as_stored_are_known_by_their_source_hash(rt: Runtime) -> None:
    run_id = start_run(rt)
    apply(rt, run_id, "k1", [teacher(1), teacher(2), teacher(3)])
    with rt.engine.begin() as conn:
        deactivate_entities(conn, staff_users, DISTRICT, [f"{3:024x}"], POSITION)
    again = [teacher(1), teacher(2, email="moved@example.org"), teacher(3)]
    hashes = source_hashes("users:teacher", again, principals={}, rules=())
    with rt.engine.connect() as conn:
        found = unchanged_sources(
            conn, staff_users, DISTRICT, {o["id"]: h for o, h in zip(again, hashes, strict=True)}
        )
    assert found == {f"{1:024x}"}, "a changed object and an inactive row go the long way"
    with rt.engine.connect() as conn:
        assert unchanged_sources(conn, staff_users, DISTRICT, {f"{9:024x}": hashes[0]}) == set()
    # What else the mapping reads is part of the hash: a principal's schools, the district's rules.
    led = source_hashes("users:teacher", [teacher(1)], principals={"t1@example.org": ["s9"]}, rules=())
    ruled = source_hashes(
        "users:teacher",
        [teacher(1)],
        principals={},
        rules=role_rules({"role_rules": [{"pattern": "Teacher", "role": "SCHOOL_ADMIN"}]}),
    )
    assert len({hashes[0], led[0], ruled[0]}) == 3


def test_unchanged_ids_are_counted_and_seen_without_their_objects(rt: Runtime) -> None:
    first = start_run(rt)
    apply(rt, first, "k1", [teacher(1), teacher(2)])
    second = start_run(rt)
    counters = apply(rt, second, "k2", [teacher(2, email="moved@example.org")], unchanged_ids=[f"{1:024x}"])
    assert (counters["updated"], counters["unchanged"], counters["created"]) == (1, 1, 0)
    with rt.engine.connect() as conn:
        assert seen_ids(conn, second, "staff") == {f"{1:024x}", f"{2:024x}"}


def test_a_row_without_a_source_hash_gets_one_without_counting_as_a_change(rt: Runtime) -> None:
    run_id = start_run(rt)
    apply(rt, run_id, "k1", [teacher(1)])
    with rt.engine.begin() as conn:
        conn.execute(update(staff_users).values(source_hash=None))  # a row older than source hashes
    before = sources(rt)[f"{1:024x}"]
    assert apply(rt, run_id, "k2", [teacher(1)])["unchanged"] == 1
    after = sources(rt)[f"{1:024x}"]
    assert after[0] == source_hashes("users:teacher", [teacher(1)], principals={}, rules=())[0]
    assert after[1] == before[1], "not a change of the row: updated_at stays"


def test_a_term_sent_as_unchanged_keeps_its_row_beside_a_twin_with_a_new_id(rt: Runtime) -> None:
    # Two live terms alike by name and dates: the one the ingest found unchanged is not churn.
    term = TERM
    first = start_run(rt)
    apply(rt, first, "k1", [term], resource="terms")
    second = start_run(rt)
    apply(rt, second, "k2", [{**term, "id": "2" * 24}], resource="terms", unchanged_ids=["1" * 24])
    with rt.engine.connect() as conn:
        assert sorted(conn.execute(select(terms.c.clever_id)).scalars()) == ["1" * 24, "2" * 24]
