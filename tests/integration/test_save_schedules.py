"""Schedules saved together, on real PostgreSQL and SQLite: only the changed ones are written,
their periods replaced in order, and a school's manual schedule is a row of its own."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from domain.entities import BellPeriod, BellSchedule, ScheduleSource
from storage.schedules import save_schedule, save_schedules
from storage.tables import bell_periods, bell_schedules

DISTRICT = "d" * 24


def clever(school: str, *labels: str) -> BellSchedule:
    return BellSchedule(school, ScheduleSource.CLEVER, tuple(BellPeriod(label=label) for label in labels))


def stored(engine: Engine) -> dict[tuple[str, str], list[str]]:
    query = (
        select(bell_schedules.c.school_clever_id, bell_schedules.c.source, bell_periods.c.label)
        .join(bell_periods, bell_periods.c.schedule_id == bell_schedules.c.id)
        .order_by(bell_schedules.c.school_clever_id, bell_schedules.c.source, bell_periods.c.position)
    )
    found: dict[tuple[str, str], list[str]] = {}
    with engine.connect() as conn:
        for school, source, label in conn.execute(query):
            found.setdefault((school, source), []).append(label)
    return found


def test_only_changed_schedules_are_written_and_their_periods_replaced(engine: Engine) -> None:
    with engine.begin() as conn:
        first = save_schedules(conn, DISTRICT, [clever(f"s{i}", "1", "2") for i in range(300)])
    assert first == 300
    with engine.connect() as conn:
        updated_at = dict(
            conn.execute(select(bell_schedules.c.school_clever_id, bell_schedules.c.updated_at)).all()
        )

    with engine.begin() as conn:
        again = save_schedules(
            conn, DISTRICT, [clever("s0", "1", "2"), clever("s1", "Homeroom", "1", "2"), clever("s300", "A")]
        )
    assert again == 2, "s0 is unchanged"
    rows = stored(engine)
    assert rows[("s0", "clever")] == ["1", "2"]
    assert rows[("s1", "clever")] == ["Homeroom", "1", "2"]
    assert rows[("s300", "clever")] == ["A"]
    assert len(rows) == 301
    with engine.connect() as conn:
        after = dict(
            conn.execute(select(bell_schedules.c.school_clever_id, bell_schedules.c.updated_at)).all()
        )
    assert after["s0"] == updated_at["s0"] and after["s2"] == updated_at["s2"]


def test_a_manual_schedule_stands_beside_the_clever_one(engine: Engine) -> None:
    manual = BellSchedule("s1", ScheduleSource.MANUAL, (BellPeriod("First", "08:00", "08:50"),))
    with engine.begin() as conn:
        assert save_schedules(conn, DISTRICT, [clever("s1", "1")]) == 1
        assert save_schedule(conn, DISTRICT, manual)
        assert not save_schedule(conn, DISTRICT, manual), "the same content again writes nothing"
    assert stored(engine) == {("s1", "clever"): ["1"], ("s1", "manual"): ["First"]}


def test_nothing_to_save_and_a_school_named_twice(engine: Engine) -> None:
    with engine.begin() as conn:
        assert save_schedules(conn, DISTRICT, []) == 0
        # The last schedule given for a school is the one kept.
        assert save_schedules(conn, DISTRICT, [clever("s1", "1"), clever("s1", "2")]) == 1
    assert stored(engine) == {("s1", "clever"): ["2"]}


def test_more_schedules_than_one_statement_takes(engine: Engine) -> None:
    many = [clever(f"s{i}", "1", str(i)) for i in range(14_000)]  # 70,000 parameters at once
    with engine.begin() as conn:
        assert save_schedules(conn, DISTRICT, many) == 14_000
        assert save_schedules(conn, DISTRICT, [*many[:-1], clever("s13999", "changed")]) == 1
    rows = stored(engine)
    assert len(rows) == 14_000 and rows[("s13999", "clever")] == ["changed"]


def test_a_stored_schedule_without_a_content_hash_is_rewritten(engine: Engine) -> None:
    with engine.begin() as conn:
        save_schedules(conn, DISTRICT, [clever("s1", "1")])
        conn.execute(update(bell_schedules).values(content_hash=None))
        assert save_schedules(conn, DISTRICT, [clever("s1", "1")]) == 1
    assert stored(engine) == {("s1", "clever"): ["1"]}
