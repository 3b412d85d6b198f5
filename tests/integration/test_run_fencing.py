"""One crawler per run, on real PostgreSQL (and the embedded SQLite): crawl tokens, checkpoints
that never move backwards, pages of a superseded crawler dropped by the apply, and completion
that waits for the current crawler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.crawl_fencing import page_rank
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services import completion
from services.apply import apply_page
from storage import connections, outbox, runs
from storage.migrate import upgrade
from storage.tables import processed_messages, staff_users, sync_runs

DISTRICT = "5a0c0b7e8f1d2c3b4a596877"
POSITION = "6000000000000000000000aa"
USERS_TEACHER = 6  # users:teacher's place in the crawl order


def make_runtime(url: str) -> Runtime:
    rt = Runtime(Settings(database_url=url, encryption_keys=()), broker=make_broker(None))
    with rt.engine.begin() as conn:
        connections.save_connection(
            conn, DISTRICT, name="Test", token_ciphertext="x:y", token_id=None, scopes=[], authorized_by=None
        )
    return rt


@pytest.fixture
def rt(clean_postgres: str) -> Iterator[Runtime]:
    runtime = make_runtime(clean_postgres)
    yield runtime
    runtime.engine.dispose()


def new_run(rt: Runtime) -> str:
    with rt.engine.begin() as conn:
        run_id = runs.create_run(conn, DISTRICT, kind="full", generation=1, requested_by="test")
        runs.update_run(conn, run_id, status="running")
    return run_id


def start(rt: Runtime, run_id: str) -> int:
    with rt.engine.begin() as conn:
        return runs.start_crawl(conn, run_id)


def save(rt: Runtime, run_id: str, token: int, rank: int, **values: Any) -> bool:
    with rt.engine.begin() as conn:
        return runs.save_checkpoint(conn, run_id, token, rank, **values)


def stored(rt: Runtime, run_id: str) -> Any:
    with rt.engine.connect() as conn:
        return runs.get_run(conn, run_id)


def teacher(n: int) -> dict[str, Any]:
    return {
        "id": f"{n:024x}",
        "district": DISTRICT,
        "name": {"first": "Ada", "last": "Byron"},
        "email": f"t{n}@example.org",
        "roles": {"teacher": {"title": "Teacher", "school": "s1", "schools": ["s1"]}},
    }


def apply(rt: Runtime, run_id: str, page_no: int, items: list[dict[str, Any]], token: int) -> Any:
    return apply_page(
        rt,
        district_id=DISTRICT,
        run_id=run_id,
        generation=1,
        resource="users:teacher",
        key=f"{run_id}:users:teacher:{page_no}:0",
        position=POSITION,
        items=items,
        principals={},
        crawl_token=token,
        page_rank=page_rank(USERS_TEACHER, page_no),
    )


def test_a_checkpoint_save_with_an_older_page_is_refused(rt: Runtime) -> None:
    run_id = new_run(rt)
    token = start(rt, run_id)
    assert save(rt, run_id, token, page_rank(2, 72), checkpoint={"resource": "terms", "page_no": 72})
    assert not save(rt, run_id, token, page_rank(2, 70), checkpoint={"resource": "terms", "page_no": 70})
    run = stored(rt, run_id)
    assert run["checkpoint"] == {"resource": "terms", "page_no": 72}
    assert run["checkpoint_rank"] == page_rank(2, 72)
    # The same place again (a resource's last page, then its "done" mark) is not a regression.
    assert save(
        rt, run_id, token, page_rank(2, 72), checkpoint={"resource": "terms", "page_no": 72, "done": True}
    )


def test_a_new_crawl_start_fences_off_the_previous_crawler(rt: Runtime) -> None:
    run_id = new_run(rt)
    first = start(rt, run_id)
    assert save(rt, run_id, first, page_rank(1, 3), pages_published=3)
    second = start(rt, run_id)
    assert second == first + 1
    assert not save(rt, run_id, first, page_rank(1, 4), pages_published=4)
    with rt.engine.begin() as conn:
        assert not runs.update_for_crawler(conn, run_id, first, ingest_done=True)
    run = stored(rt, run_id)
    assert (run["pages_published"], run["ingest_done"]) == (3, False)
    assert run["crawl_starts"] == {str(first): 0, str(second): page_rank(1, 3)}
    assert save(rt, run_id, second, page_rank(1, 4), pages_published=4)


def test_pages_a_superseded_crawler_sent_are_dropped_and_the_rest_applied(rt: Runtime) -> None:
    run_id = new_run(rt)
    first = start(rt, run_id)
    assert save(rt, run_id, first, page_rank(USERS_TEACHER, 1), pages_published=1)
    second = start(rt, run_id)  # takes over at users:teacher page 1
    # Page 0 was covered by the first crawler's checkpoint; page 1 it sent after being overtaken.
    assert apply(rt, run_id, 0, [teacher(1)], first) is not None
    assert apply(rt, run_id, 1, [teacher(2), teacher(3)], first) is None
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(staff_users)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(processed_messages)).scalar_one() == 1
    # The current crawler's page 1 counts, and only once it ended the crawl is the run finished.
    assert apply(rt, run_id, 1, [teacher(2)], second)["created"] == 1
    assert save(rt, run_id, second, page_rank(USERS_TEACHER, 2), pages_published=2)
    assert not completion.finish_when_applied(rt, run_id, 1)
    with rt.engine.begin() as conn:
        assert runs.update_for_crawler(conn, run_id, second, ingest_done=True)
        queued = completion.queue_finish_if_applied(conn, run_id, 1)
    assert queued is not None
    with rt.engine.connect() as conn:
        (row,) = outbox.pending(conn)
    assert row["message"]["actor_name"] == "finish_run"
    assert row["message"]["kwargs"] == {"district_id": DISTRICT, "run_id": run_id, "generation": 1}


def test_the_embedded_database_fences_crawlers_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fencing.sqlite3'}"
    upgrade(url)
    rt = make_runtime(url)
    try:
        run_id = new_run(rt)
        first, second = start(rt, run_id), start(rt, run_id)
        assert (first, second) == (1, 2)
        assert not save(rt, run_id, first, page_rank(0, 1))
        assert save(rt, run_id, second, page_rank(0, 1))
        assert not save(rt, run_id, second, page_rank(0, 0))
        with rt.engine.connect() as conn:
            assert conn.execute(select(sync_runs.c.crawl_starts)).scalar_one() == {"1": 0, "2": 0}
    finally:
        rt.engine.dispose()
